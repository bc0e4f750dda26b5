#!/usr/bin/env bash
# requests' own test suite (the 2.32.5 sdist's tests/), run twice in one venv:
#   (a) as requests runs it, with pytest-httpbin (+ httpbin, Flask, Werkzeug), netkit's
#       plugin installed beside it (it then leaves the httpbin fixtures to pytest-httpbin);
#   (b) with netkit's plugin in its place: `-p no:httpbin`, nothing else changed.
# Prints both runs' counts and wall times. Exit 1 if (b) has a failure not listed in
# KNOWN_FAILURES, or passes fewer tests than (a) less those.
#
# usage: python/requests-suite.sh [ROUNDS]   (ROUNDS alternating a/b pairs, default 1;
#        NETKIT_WHEEL=path skips the wheel build)
#
# Tests that would reach beyond this machine are deselected in both runs: the TARPIT
# connect timeouts (10.255.255.1), and the ones that resolve outside names
# (doesnotexist.google.com, non-resolvable-address, httpbin.org through a SOCKS proxy).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
rounds=${1:-1}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target}"
work="$CARGO_TARGET_DIR/python/requests-suite"
mkdir -p "$work"

# Tests that fail with netkit's plugin for a known reason; each name printed as "now
# passes" is to be deleted. Empty: requests' suite passes whole on netkit.
KNOWN_FAILURES=()
DESELECT=(
    --deselect tests/test_requests.py::TestTimeout::test_connect_timeout
    --deselect tests/test_requests.py::TestTimeout::test_total_timeout_connect
    --deselect "tests/test_requests.py::TestRequests::test_errors[http://doesnotexist.google.com-ConnectionError]"
    --deselect tests/test_requests.py::TestRequests::test_proxy_error
    --deselect tests/test_lowlevel.py::test_use_proxy_from_environment
)

wheel=${NETKIT_WHEEL:-$(python/build-wheel.sh | tail -n 1)}

venv="$work/venv"
stamp=$(sha256sum python/requests-suite.constraints.txt | cut -c1-16)
if [ "$(cat "$venv/stamp" 2>/dev/null)" != "$stamp" ]; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check -c python/requests-suite.constraints.txt \
        requests pytest pytest-httpbin httpbin trustme PySocks
    echo "$stamp" >"$venv/stamp"
fi
"$venv/bin/pip" install -q --disable-pip-version-check --force-reinstall --no-deps "$wheel"

src="$work/requests-2.32.5"
if [ ! -d "$src/tests" ]; then
    "$venv/bin/pip" download -q --disable-pip-version-check --no-deps --no-binary :all: \
        requests==2.32.5 -d "$work"
    tar xzf "$work/requests-2.32.5.tar.gz" -C "$work"
fi

run() { # label xml extra-args...
    local label=$1 xml=$2
    shift 2
    local t0
    t0=$(date +%s%N)
    local rc=0
    (cd "$src" && timeout 900 "$venv/bin/python" -m pytest tests -q -p no:cacheprovider \
        "${DESELECT[@]}" --junitxml="$xml" "$@" >"$xml.log" 2>&1) || rc=$?
    # 1 is "some tests failed", judged below; anything else (a timeout, a crash) is fatal.
    if [ "$rc" != 0 ] && [ "$rc" != 1 ]; then
        tail -n 30 "$xml.log"
        echo "requests-suite: pytest with $label exited with $rc" >&2
        exit 1
    fi
    echo "$label $((($(date +%s%N) - t0) / 1000000))" >>"$work/times"
}

rm -f "$work/times" "$work"/*.xml
for i in $(seq 1 "$rounds"); do
    run pytest-httpbin "$work/httpbin-$i.xml"
    run netkit "$work/netkit-$i.xml" -p no:httpbin
done

"$venv/bin/python" - "$work" "$rounds" "${KNOWN_FAILURES[@]}" <<'PY'
import statistics, sys, xml.etree.ElementTree as ET
work, rounds, known = sys.argv[1], int(sys.argv[2]), set(sys.argv[3:])

def outcomes(path):
    result = {}
    for case in ET.parse(path).iter("testcase"):
        # junit classnames are tests.test_requests.TestRequests: rebuild the node id.
        parts = case.get("classname").split(".")
        path_parts = [p for p in parts if not p[:1].isupper()]
        classes = [p for p in parts if p[:1].isupper()]
        name = "/".join(path_parts) + ".py::" + "::".join(classes + [case.get("name")])
        tags = {child.tag for child in case}
        if "failure" in tags or "error" in tags:
            result[name] = "failed"
        elif "skipped" in tags:
            result[name] = "skipped"
        else:
            result[name] = "passed"
    return result

def count(result, what):
    return sum(1 for v in result.values() if v == what)

times = {}
for line in open(work + "/times"):
    label, ms = line.split()
    times.setdefault(label, []).append(int(ms) / 1000)

verdict = 0
for label in ("pytest-httpbin", "netkit"):
    prefix = "httpbin" if label == "pytest-httpbin" else "netkit"
    runs = [outcomes("%s/%s-%d.xml" % (work, prefix, i)) for i in range(1, rounds + 1)]
    last = runs[-1]
    # Worded so that CI's scan for a test runner's closing line does not take it for one.
    print("requests-suite: %-14s passed %d, failed %d, skipped %d; wall %s s (median of %d: %.1f s)" % (
        label, count(last, "passed"), count(last, "failed"), count(last, "skipped"),
        " ".join("%.1f" % t for t in times[label]), rounds, statistics.median(times[label])))
    if label == "pytest-httpbin":
        reference = last
    else:
        failed = sorted(n for n, v in last.items() if v == "failed")
        unexpected = [n for n in failed if n not in known]
        for n in failed:
            print("  %s %s" % ("KNOWN     " if n in known else "UNEXPECTED", n))
        for n in sorted(n for n in known if last.get(n) == "passed"):
            print("  now passes, delete it from KNOWN_FAILURES: %s" % n)
        for n in sorted(n for n, v in reference.items() if v == "failed"):
            print("  (fails with pytest-httpbin too) %s" % n)
        needed = count(reference, "passed") - len([n for n in known if reference.get(n) == "passed"])
        if unexpected:
            print("requests-suite: netkit's plugin has %d unexpected failure(s)" % len(unexpected))
            verdict = 1
        if count(last, "passed") < needed:
            print("requests-suite: netkit's plugin passes %d, fewer than %d" % (count(last, "passed"), needed))
            verdict = 1
print("requests-suite: ratio netkit/pytest-httpbin wall time (medians): %.2f" % (
    statistics.median(times["netkit"]) / statistics.median(times["pytest-httpbin"])))
sys.exit(verdict)
PY
