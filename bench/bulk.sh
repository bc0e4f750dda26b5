#!/usr/bin/env bash
# Bulk transfer benchmark (recipe 13), all in one run on this machine over loopback:
#   netkit bulk send → netkit bulk recv (to a file, and to /dev/null with --stdout),
#   the recipe's Python send_from → recv_into (into memory, as the recipe does), and
#   iperf3 single stream, both memory to memory (the wire's ceiling) and file to file
#   (-F, the same page-cache writes netkit's file row pays),
# each moving the same SIZE of random bytes, with `sync` before each run so no run pays
# for the previous one's writeback. Runs are interleaved (run 1 of every row, then run 2,
# ...), and the whole table is done --repeat times, so a noisy machine shows as spread
# between rounds rather than as one row's bad luck. Prints Gbit/s (median, spread), the
# medians' ratios (netkit → /dev/null vs iperf3 memory and vs the recipe's Python; netkit
# file vs iperf3 -F), each round's ratios, the netkit receivers' peak RSS (VmHWM) and the
# load average.
#
# Usage: bench/bulk.sh [--size BYTES | --sizes "BYTES BYTES..."] [--runs N] [--repeat N] [--dir DIR]
#   e.g. bench/bulk.sh --sizes "536870912 1073741824" --runs 5
# Needs iperf3 (apt-get install -y iperf3); without it those rows say so and the rest runs.
set -euo pipefail
cd "$(dirname "$0")/.."

options="size sizes runs repeat dir" size=$((1 << 30)) sizes="" runs=5 repeat=1 dir=""
. bench/lib.sh "$@"
sizes=${sizes:-$size}
sizes=${sizes//,/ }

cargo build --release --quiet --bin netkit
netkit=${NETKIT_BIN:-target/release/netkit}
have_iperf=$(command -v iperf3 >/dev/null && echo yes || echo no)
[ "$have_iperf" = yes ] ||
    echo "iperf3 is not installed (apt-get install -y iperf3): no iperf3 rows, no netkit/iperf3 ratio" >&2

vmhwm() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }
json_field() { python3 -c "import json,sys; print(json.loads(sys.stdin.read().splitlines()[-1])[sys.argv[1]])" "$1"; }
# wait_lines FILE N : until FILE has N lines (a receiver's summary), 20 s at most.
wait_lines() { for _ in $(seq 400); do [ "$(wc -l <"$1")" -ge "$2" ] && return 0; sleep 0.05; done; }

# Each run appends its Gbit/s to $work/SIZE.ROW.ROUND.rates.
nk_file() {  # netkit → netkit, into a file (renamed into place after the checksum)
    local s=$1 r=$2
    rm -f "$work/dst.bin"; sync
    start nk_file "$netkit" bulk recv --listen 127.0.0.1:0 --out "$work/dst.bin" --json --keep-going
    "$netkit" bulk send "$work/src.$s" "127.0.0.1:$port" --json >"$work/nk_send.json"
    wait_lines "$work/nk_file.out" 2
    vmhwm "$pid" >>"$work/$s.nk_file.rss"
    kill "$pid"; wait "$pid" 2>/dev/null || true
    json_field gbit_per_sec <"$work/nk_file.out" >>"$work/$s.nk_file.$r.rates"
    cmp -s "$work/src.$s" "$work/dst.bin" || { echo "netkit copy differs!" >&2; exit 1; }
    rm -f "$work/dst.bin"
}
nk_null() {  # netkit → netkit, to /dev/null: the transfer alone, no page cache writes
    local s=$1 r=$2
    sync
    start nk_null sh -c "exec $netkit bulk recv --listen 127.0.0.1:0 --stdout --keep-going >/dev/null"
    "$netkit" bulk send "$work/src.$s" "127.0.0.1:$port" --json >"$work/nk_null_send.json"
    wait_lines "$work/nk_null.err" 2   # the listening line, then the summary
    vmhwm "$pid" >>"$work/$s.nk_null.rss"
    kill "$pid"; wait "$pid" 2>/dev/null || true
    json_field gbit_per_sec <"$work/nk_null_send.json" >>"$work/$s.nk_null.$r.rates"
}
py() {  # the recipe: Python send_from → recv_into, memory to memory
    local s=$1 r=$2
    sync
    start py python3 bench/python/bulk_recipe.py recv "$s"
    python3 bench/python/bulk_recipe.py send "$port" "$work/src.$s"
    wait "$pid"
    json_field gbit_per_sec <"$work/py.out" >>"$work/$s.py.$r.rates"
}
iperf() {  # iperf3, one stream, the same number of bytes
    local name=$1 s=$2 r=$3; shift 3
    local iport ipid
    sync
    iport=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])")
    iperf3 -s -1 -B 127.0.0.1 -p "$iport" "${server_args[@]}" >/dev/null 2>&1 &
    ipid=$!; pids+=("$ipid")
    sleep 0.3
    iperf3 -c 127.0.0.1 -p "$iport" "$@" -J >"$work/$name.json"
    wait "$ipid" || true
    python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['end']['sum_received']['bits_per_second'] / 1e9)" "$work/$name.json" >>"$work/$s.$name.$r.rates"
}
iperf_mem() { server_args=(); iperf iperf "$1" "$2" -n "$1"; }
iperf_file() {
    rm -f "$work/iperf_dst.bin"
    server_args=(-F "$work/iperf_dst.bin")
    iperf iperf_file "$1" "$2" -F "$work/src.$1"
    rm -f "$work/iperf_dst.bin"
}

rows="nk_file nk_null py"
[ "$have_iperf" = yes ] && rows="$rows iperf_file iperf_mem"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for s in $sizes; do
    # Random bytes: no holes or zero pages for anyone to skip.
    python3 -c "
import os, sys
n = int(sys.argv[2]); step = 1 << 24
with open(sys.argv[1], 'wb') as f:
    while n > 0:
        f.write(os.urandom(min(step, n))); n -= step
" "$work/src.$s" "$s"
done
for r in $(seq "$repeat"); do
    for s in $sizes; do
        cat "$work/src.$s" >/dev/null   # page cache warm for every sender alike
        for i in $(seq "$runs"); do
            for row in $rows; do
                "$row" "$s" "$r"
            done
        done
    done
    cut -d' ' -f1-3 /proc/loadavg >>"$work/load"
done

python3 - "$work" "$runs" "$repeat" "$load_before" $sizes >"$work/report.txt" <<'PY'
import os, statistics, sys
w, runs, repeat, load_before, sizes = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], [int(s) for s in sys.argv[5:]]
names = {'nk_file': 'netkit -> netkit, file', 'nk_null': 'netkit -> netkit, /dev/null',
         'py': 'python send_from -> recv_into', 'iperf_file': 'iperf3 -F, file', 'iperf': 'iperf3, memory'}
def rates(size, row, rounds):
    out = []
    for r in rounds:
        p = os.path.join(w, f'{size}.{row}.{r}.rates')
        if os.path.exists(p):
            out += [float(x) for x in open(p)]
    return out
def rss(size, row):
    p = os.path.join(w, f'{size}.{row}.rss')
    return max(int(x) for x in open(p)) / 1024 if os.path.exists(p) else None
# (ratio label, numerator row, reference row, target)
ratios = [('/dev/null vs iperf3 memory', 'nk_null', 'iperf', 0.9),
          ('/dev/null vs python memory', 'nk_null', 'py', 1.0),
          ('file vs iperf3 -F', 'nk_file', 'iperf_file', 1.0)]
loads = [l.strip() for l in open(os.path.join(w, 'load'))]
print(f"bulk over 127.0.0.1, {os.cpu_count()} cores, {runs} runs x {repeat} rounds per row, "
      f"load average before {load_before}, after each round: {'; '.join(loads)}")
def summary(*fields):
    print("summary", *fields, sep="\t")
for size in sizes:
    every = range(1, repeat + 1)
    print(f"\n{size / 2**20:.0f} MiB")
    print(f"{'transfer':<30} {'median':>7} {'min':>6} {'max':>6}  all runs (Gbit/s)")
    med = {}
    for row, name in names.items():
        r = rates(size, row, every)
        if not r:
            print(f"{name:<30} {'missing':>7}")
            continue
        med[row] = statistics.median(r)
        print(f"{name:<30} {med[row]:>7.2f} {min(r):>6.2f} {max(r):>6.2f}  {' '.join(f'{x:.2f}' for x in r)}")
    for label, a, b, target in ratios:
        if a in med and b in med:
            rounds = []
            for r in every:
                ra, rb = rates(size, a, [r]), rates(size, b, [r])
                if ra and rb:
                    rounds.append(statistics.median(ra) / statistics.median(rb))
            spread = f"; per round {' '.join(f'{x:.2f}' for x in rounds)}" if repeat > 1 else ""
            ok = 'met' if med[a] / med[b] >= target else 'NOT met'
            print(f"ratio of medians, {label}: {med[a] / med[b]:.2f} (target >= {target}, {ok}){spread}")
    for row in ('nk_file', 'nk_null'):
        if rss(size, row) is not None:
            print(f"netkit receiver peak RSS (VmHWM), {names[row]}: {rss(size, row):.1f} MiB (target <= 64 MiB)")
    # For bench/run-all.sh (lib.sh `summary`): medians, as in RESULTS.md.
    gib = f"{size / 2**30:.2f} GiB"
    if 'iperf' in med:
        summary("bulk", f"Gbit/s to /dev/null, {gib} (median)", "iperf3, memory", f"{med['nk_null']:.2f}", f"{med['iperf']:.2f}", "ratio>=0.9")
    else:
        print(f"skip\tbulk\tGbit/s to /dev/null, {gib} (median)\tiperf3, memory\tiperf3 not installed")
    summary("bulk", f"Gbit/s to /dev/null, {gib} (median)", "recipe send_from/recv_into", f"{med['nk_null']:.2f}", f"{med['py']:.2f}", "ratio>=1")
    if 'iperf_file' in med:
        summary("bulk", f"Gbit/s to a file, {gib} (median)", "iperf3 -F", f"{med['nk_file']:.2f}", f"{med['iperf_file']:.2f}", "ratio>=1")
    summary("bulk", f"receiver peak RSS MiB, {gib}", "-", f"{rss(size, 'nk_file'):.1f}", "-", "netkit<=64")
PY
report "$work/report.txt"
