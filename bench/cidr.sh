#!/usr/bin/env bash
# netkit cidr against Python's ipaddress and Debian's iprange, measured in one run.
#
#   bench/cidr.sh                    # 1,000,000 random IPv4 prefixes (/16–/32), seed 4
#   bench/cidr.sh --count 100000     # smaller list (N=100000 in the environment also works)
#   bench/cidr.sh --runs 1           # best of 1 instead of 3 (RUNS=1 also works)
#
# 1. aggregate: `netkit cidr aggregate` vs `collapse_addresses` (python3) vs `iprange`
#    (apt package iprange; skipped if absent) on the same list; outputs must be equal.
# 2. list: `netkit cidr list 10.0.0.0/12` vs `list(ip_network(...))` printed, to /dev/null.
# Times are wall-clock seconds of the whole process (reading, parsing, writing included),
# best of --runs runs (default 3; Python runs once: it is the slow side).
set -euo pipefail
cd "$(dirname "$0")/.."

options="count runs" count=${N:-1000000} runs=${RUNS:-3}
. bench/lib.sh "$@"
N=$count RUNS=$runs
PY=${PYTHON:-python3}
CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-1} cargo build --release --quiet --bin netkit
BIN=target/release/netkit
tmp=$work

"$PY" - "$N" >"$tmp/prefixes.txt" <<'PYEOF'
import random, sys
random.seed(4)
out = []
for _ in range(int(sys.argv[1])):
    p = random.randint(16, 32)
    a = random.getrandbits(32) & ((0xFFFFFFFF << (32 - p)) & 0xFFFFFFFF)
    out.append(f"{a >> 24}.{(a >> 16) & 255}.{(a >> 8) & 255}.{a & 255}/{p}")
sys.stdout.write("\n".join(out) + "\n")
PYEOF

# secs CMD... : runs CMD (stdout to $OUT), prints elapsed seconds.
secs() {
    local start end
    start=$(date +%s%N)
    "$@" >"$OUT"
    end=$(date +%s%N)
    awk -v ns=$((end - start)) 'BEGIN { printf "%.3f", ns / 1e9 }'
}

best() { # best of $RUNS
    local b="" t
    for _ in $(seq "$RUNS"); do
        t=$(secs "$@")
        if [ -z "$b" ] || awk -v a="$t" -v b="$b" 'BEGIN { exit !(a < b) }'; then b=$t; fi
    done
    echo "$b"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; }
per_s() { awk -v n="$1" -v t="$2" 'BEGIN { printf "%.0f", n / t }'; } # items per second

echo "== aggregate: $N random IPv4 prefixes /16-/32 ($(wc -c <"$tmp/prefixes.txt") bytes)"
OUT=$tmp/netkit.txt
t_netkit=$(best "$BIN" cidr aggregate "$tmp/prefixes.txt")
OUT=$tmp/python.txt
t_python=$(secs "$PY" -c '
import ipaddress, sys
nets = [ipaddress.ip_network(line) for line in open(sys.argv[1]).read().split()]
sys.stdout.write("".join(f"{n}\n" for n in ipaddress.collapse_addresses(nets)))
' "$tmp/prefixes.txt")
cmp -s "$tmp/netkit.txt" "$tmp/python.txt" || { echo "MISMATCH: netkit vs python" >&2; exit 1; }
echo "netkit aggregate      ${t_netkit}s  ($(wc -l <"$tmp/netkit.txt") networks)"
echo "python collapse       ${t_python}s  -> netkit is $(ratio "$t_python" "$t_netkit")x faster"
if command -v iprange >/dev/null; then
    OUT=$tmp/iprange.raw
    t_iprange=$(best iprange "$tmp/prefixes.txt")
    # iprange prints single addresses without /32.
    awk '/\// { print; next } { print $0 "/32" }' "$tmp/iprange.raw" >"$tmp/iprange.txt"
    cmp -s "$tmp/netkit.txt" "$tmp/iprange.txt" || { echo "MISMATCH: netkit vs iprange" >&2; exit 1; }
    echo "iprange               ${t_iprange}s  -> netkit is $(ratio "$t_iprange" "$t_netkit")x faster"
    summary cidr "aggregate, prefixes/s ($N)" "iprange" "$(per_s "$N" "$t_netkit")" "$(per_s "$N" "$t_iprange")" 'ratio>=1'
else
    echo "iprange               (not installed: apt-get install iprange)"
    summary_skip cidr "aggregate, prefixes/s ($N)" iprange "iprange not installed"
fi
summary cidr "aggregate, prefixes/s ($N)" "python collapse_addresses" "$(per_s "$N" "$t_netkit")" "$(per_s "$N" "$t_python")" 'ratio>=50'

echo "== list 10.0.0.0/12 (1,048,576 addresses) to a file"
OUT=$tmp/list-netkit.txt
t_list=$(best "$BIN" cidr list 10.0.0.0/12)
OUT=$tmp/list-python.txt
t_list_py=$(secs "$PY" -c '
import ipaddress, sys
sys.stdout.writelines(f"{a}\n" for a in ipaddress.ip_network("10.0.0.0/12"))
')
cmp -s "$tmp/list-netkit.txt" "$tmp/list-python.txt" || { echo "MISMATCH: list" >&2; exit 1; }
echo "netkit list           ${t_list}s"
echo "python list           ${t_list_py}s  -> netkit is $(ratio "$t_list_py" "$t_list")x faster"
summary cidr "list /12, addresses/s" "python list(ip_network)" "$(per_s 1048576 "$t_list")" "$(per_s 1048576 "$t_list_py")" 'ratio>=20'
echo "($("$PY" --version), $(nproc) cores, $(uname -m))"
