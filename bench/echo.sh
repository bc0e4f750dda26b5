#!/usr/bin/env bash
# Echo benchmark (recipe 2), all in one run on this machine:
#   the recipe's Python ThreadingTCPServer  vs  netkit serve --echo  vs  a minimal tokio
#   echo loop (the floor), under the same ping-pong load from `netkit bench echo`;
#   then 10,000 idle connections held by netkit, with its peak RSS.
#
# Usage: bench/echo.sh [--connections N] [--size BYTES] [--duration SECONDS] [--idle N]
#                      [--workers N] [--netkit PATH]
# Prints a table with ratios; every load loop is bounded by --duration and stops by itself.
# --workers N serves the echo load with `serve --workers N` (the server's CPU is then the
# supervisor's and its workers'); --netkit PATH measures that binary instead of building
# target/release/netkit (to compare two builds in one session).
set -euo pipefail
cd "$(dirname "$0")/.."

options="connections size duration idle workers netkit" connections=64 size=64 duration=10 idle=10000
workers=0 netkit=""
. bench/lib.sh "$@"

if [ -z "$netkit" ]; then
    cargo build --release --quiet --bin netkit --example echo_floor
    netkit=target/release/netkit
else
    cargo build --release --quiet --example echo_floor
fi
floor=target/release/examples/echo_floor
serve_workers=()
[ "$workers" -gt 0 ] && serve_workers=(--workers "$workers")

start python python3 bench/python/echo_server.py; py_port=$port py_pid=$pid
start netkit "$netkit" serve --echo 127.0.0.1:0 "${serve_workers[@]}"; nk_port=$port netkit_pid=$pid
start floor "$floor" 127.0.0.1:0; fl_port=$port fl_pid=$pid

echo "echo ping-pong: $connections connections, $size B messages, ${duration}s each, $(nproc) cores, netkit workers: $workers"
for target in python:$py_port:$py_pid netkit:$nk_port:$netkit_pid floor:$fl_port:$fl_pid; do
    IFS=: read -r name port server_pid <<<"$target"
    measure "$name" "$server_pid" "$netkit" bench echo "127.0.0.1:$port" --connections "$connections" \
        --size "$size" --duration "$duration" --warmup 0 --json
done

# Idle connections: netkit's peak RSS while holding them, on a fresh server.
kill "$netkit_pid"
start netkit_idle "$netkit" serve --echo 127.0.0.1:0; nk_port=$port idle_pid=$pid
rss_before=$(awk '/VmHWM/ {print $2}' "/proc/$idle_pid/status")
"$netkit" bench idle "127.0.0.1:$nk_port" --connections "$idle" --hold 3 >"$work/idle.json"
rss_after=$(awk '/VmHWM/ {print $2}' "/proc/$idle_pid/status")
echo "{\"rss_before_kib\": $rss_before, \"rss_peak_kib\": $rss_after}" >"$work/idle_rss.json"

python3 - "$work" "$connections" "$idle" >"$work/report.txt" <<'PY'
import json, sys, os
w, conns, idle_n = sys.argv[1:4]
r = {n: json.load(open(os.path.join(w, n + '.json'))) for n in ('python', 'netkit', 'floor')}
for n in r:
    c = json.load(open(os.path.join(w, n + '.cpu.json')))
    cpu = c['after'] - c['before']
    # Messages per CPU-second the server itself spent: what a message costs the server,
    # whatever share of the cores the load generator took.
    r[n]['per_cpu_s'] = r[n]['messages'] / cpu if cpu > 0 else float('inf')
print(f"{'server':<8} {'msg/s':>10} {'msg/server-cpu-s':>17} {'p50 µs':>8} {'p99 µs':>8} {'p99.9 µs':>9} {'errors':>6}")
for n, x in r.items():
    print(f"{n:<8} {x['messages_per_sec']:>10.0f} {x['per_cpu_s']:>17.0f} {x['p50_us']:>8} {x['p99_us']:>8} {x['p999_us']:>9} {x['errors']:>6}")
nk, py, fl = r['netkit'], r['python'], r['floor']
print(f"netkit / python: {nk['messages_per_sec'] / py['messages_per_sec']:.1f}x msg/s, "
      f"{nk['per_cpu_s'] / py['per_cpu_s']:.1f}x msg per server CPU-second (target >= 10x), "
      f"p99 {nk['p99_us']} vs {py['p99_us']} µs")
print(f"netkit / floor:  {nk['messages_per_sec'] / fl['messages_per_sec']:.2f} msg/s, "
      f"{nk['per_cpu_s'] / fl['per_cpu_s']:.2f} per CPU-second (target >= 0.90)")
idle = json.load(open(os.path.join(w, 'idle.json')))
rss = json.load(open(os.path.join(w, 'idle_rss.json')))
print(f"idle: {idle['opened']}/{idle['requested']} connections held, {idle['alive_after_hold']} still echoing; "
      f"netkit peak RSS {rss['rss_peak_kib'] / 1024:.1f} MiB (before: {rss['rss_before_kib'] / 1024:.1f} MiB; target <= 64 MiB)")
# For bench/run-all.sh (lib.sh `summary`): the figures the issue sets targets for.
def summary(*fields):
    print("summary", *fields, sep="\t")
summary("echo", f"msg per server CPU-s, {conns} conns", "recipe ThreadingTCPServer", f"{nk['per_cpu_s']:.0f}", f"{py['per_cpu_s']:.0f}", "ratio>=10")
summary("echo", f"msg per server CPU-s, {conns} conns", "tokio echo floor", f"{nk['per_cpu_s']:.0f}", f"{fl['per_cpu_s']:.0f}", "ratio>=0.9")
summary("echo", f"peak RSS MiB, {idle_n} idle conns", "-", f"{rss['rss_peak_kib'] / 1024:.1f}", "-", "netkit<=64")
PY
report "$work/report.txt"
