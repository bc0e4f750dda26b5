#!/usr/bin/env bash
# Bulk transfer benchmark (recipe 13), all in one run on this machine over loopback:
#   netkit bulk send → netkit bulk recv (to a file, and to /dev/null with --stdout),
#   the recipe's Python send_from → recv_into (into memory, as the recipe does), and
#   iperf3 single stream, both memory to memory (the wire's ceiling) and file to file
#   (-F, the same page-cache writes netkit's file row pays),
# each moving the same SIZE of random bytes, best and median of --runs, with `sync`
# before each run so no run pays for the previous one's writeback. Prints Gbit/s, the
# ratios netkit/iperf3 and netkit/python, and the netkit receiver's peak RSS (VmHWM).
#
# Usage: bench/bulk.sh [--size 1GiB-in-bytes] [--runs N] [--dir DIR]
# Needs iperf3 (apt-get install -y iperf3); without it that row says so and the rest runs.
set -euo pipefail
cd "$(dirname "$0")/.."

options="size runs dir" size=$((1 << 30)) runs=5 dir=""
. bench/lib.sh "$@"

cargo build --release --quiet --bin netkit
netkit=target/release/netkit

# Random bytes: no holes or zero pages for anyone to skip.
python3 -c "
import os, sys
n = int(sys.argv[2]); step = 1 << 24
with open(sys.argv[1], 'wb') as f:
    while n > 0:
        f.write(os.urandom(min(step, n))); n -= step
" "$work/src.bin" "$size"
cat "$work/src.bin" >/dev/null   # page cache warm for every sender alike

vmhwm() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }

best() { sort -g | tail -1; }
results=$work/results.txt
: >"$results"

# netkit → netkit, into a file (the receiver renames it into place after the checksum).
for i in $(seq "$runs"); do
    rm -f "$work/dst.bin"; sync
    start nk_file "$netkit" bulk recv --listen 127.0.0.1:0 --out "$work/dst.bin" --json --keep-going
    "$netkit" bulk send "$work/src.bin" "127.0.0.1:$port" --json >"$work/nk_send.json"
    for _ in $(seq 100); do [ "$(wc -l <"$work/nk_file.out")" -ge 2 ] && break; sleep 0.05; done
    rss=$(vmhwm "$pid"); kill "$pid"; wait "$pid" 2>/dev/null || true
    tail -1 "$work/nk_file.out" | python3 -c "import json,sys; print(json.load(sys.stdin)['gbit_per_sec'])" >>"$work/nk_file.rates"
    echo "$rss" >>"$work/nk_file.rss"
    cmp -s "$work/src.bin" "$work/dst.bin" || { echo "netkit copy differs!" >&2; exit 1; }
done

# netkit → netkit, to /dev/null: the transfer alone, no page cache writes.
for i in $(seq "$runs"); do
    start nk_null sh -c "exec $netkit bulk recv --listen 127.0.0.1:0 --stdout >/dev/null"
    "$netkit" bulk send "$work/src.bin" "127.0.0.1:$port" --json >"$work/nk_null_send.json"
    wait "$pid"
    python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['gbit_per_sec'])" "$work/nk_null_send.json" >>"$work/nk_null.rates"
done

# The recipe: Python send_from → recv_into.
for i in $(seq "$runs"); do
    start py python3 bench/python/bulk_recipe.py recv "$size"
    python3 bench/python/bulk_recipe.py send "$port" "$work/src.bin"
    wait "$pid"
    tail -1 "$work/py.out" | python3 -c "import json,sys; print(json.load(sys.stdin)['gbit_per_sec'])" >>"$work/py.rates"
done

# iperf3, one stream, the same number of bytes: memory to memory, then file to file.
iperf() {
    local name=$1; shift
    local iport
    iport=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")
    iperf3 -s -1 -B 127.0.0.1 -p "$iport" "${server_args[@]}" >/dev/null 2>&1 &
    ipid=$!; pids+=("$ipid")
    sleep 0.3
    iperf3 -c 127.0.0.1 -p "$iport" "$@" -J >"$work/$name.json"
    wait "$ipid" || true
    python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['end']['sum_received']['bits_per_second'] / 1e9)" "$work/$name.json" >>"$work/$name.rates"
}
if command -v iperf3 >/dev/null; then
    for i in $(seq "$runs"); do
        server_args=()
        iperf iperf -n "$size"
        rm -f "$work/iperf_dst.bin"; sync
        server_args=(-F "$work/iperf_dst.bin")
        iperf iperf_file -F "$work/src.bin"
    done
else
    echo "iperf3 is not installed (apt-get install -y iperf3): no iperf3 row, no netkit/iperf3 ratio" >&2
fi

python3 - "$work" "$size" "$runs" >"$work/report.txt" <<'PY'
import os, sys
w, size, runs = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def rates(name):
    p = os.path.join(w, name + '.rates')
    return [float(x) for x in open(p)] if os.path.exists(p) else []
import statistics
rows = [('netkit -> netkit, file', rates('nk_file')), ('netkit -> netkit, /dev/null', rates('nk_null')),
        ('python send_from -> recv_into', rates('py')), ('iperf3 -F, file', rates('iperf_file')),
        ('iperf3, memory', rates('iperf'))]
print(f"bulk: {size / 2**30:.2f} GiB over 127.0.0.1, {runs} runs each, {os.cpu_count()} cores")
print(f"{'transfer':<30} {'best':>6} {'median':>7}  all runs (Gbit/s)")
for name, r in rows:
    if r:
        print(f"{name:<30} {max(r):>6.2f} {statistics.median(r):>7.2f}  {' '.join(f'{x:.2f}' for x in r)}")
    else:
        print(f"{name:<30} {'missing':>6}")
best = {name: max(r) if r else None for name, r in rows}
med = {name: statistics.median(r) if r else None for name, r in rows}
nk, nk0, py = 'netkit -> netkit, file', 'netkit -> netkit, /dev/null', 'python send_from -> recv_into'
ipf, ipm = 'iperf3 -F, file', 'iperf3, memory'
if best[ipm]:
    print(f"netkit/iperf3 (best, median): file {best[nk] / best[ipf]:.2f}, {med[nk] / med[ipf]:.2f} vs iperf3 -F; "
          f"/dev/null {best[nk0] / best[ipm]:.2f}, {med[nk0] / med[ipm]:.2f} vs iperf3 memory (target >= 0.90)")
if best[py]:
    print(f"netkit/python (best, median): file {best[nk] / best[py]:.2f}, {med[nk] / med[py]:.2f}; "
          f"/dev/null {best[nk0] / best[py]:.2f}, {med[nk0] / med[py]:.2f} (target > 1)")
rss = [int(x) for x in open(os.path.join(w, 'nk_file.rss'))]
print(f"netkit receiver peak RSS (VmHWM): {max(rss) / 1024:.1f} MiB (target <= 64 MiB)")
# For bench/run-all.sh (lib.sh `summary`): medians, as in RESULTS.md.
def summary(*fields):
    print("summary", *fields, sep="\t")
gib = f"{size / 2**30:.2f} GiB"
if med[ipm]:
    summary("bulk", f"Gbit/s to /dev/null, {gib} (median)", "iperf3, memory", f"{med[nk0]:.2f}", f"{med[ipm]:.2f}", "ratio>=0.9")
else:
    print(f"skip\tbulk\tGbit/s to /dev/null, {gib} (median)\tiperf3, memory\tiperf3 not installed")
summary("bulk", f"Gbit/s to a file, {gib} (median)", "recipe send_from/recv_into", f"{med[nk]:.2f}", f"{med[py]:.2f}", "ratio>=1")
summary("bulk", f"receiver peak RSS MiB, {gib}", "-", f"{max(rss) / 1024:.1f}", "-", "netkit<=64")
PY
report "$work/report.txt"
