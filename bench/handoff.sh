#!/usr/bin/env bash
# Socket handoff benchmark (recipe 11), all in one run on this machine:
#   new connections/s through the handoff (connect → accept → SCM_RIGHTS → worker echoes
#   a few bytes → close) for the recipe's Python server + worker vs `netkit serve --handoff`
#   + one `netkit handoff worker`, vs `netkit serve --echo --workers 2`, and vs plain
#   `netkit serve --echo` (the same exchange without a handoff: the floor); then echo
#   throughput (ping-pong on kept connections) of `--workers 2` vs a single process.
#   Load from `netkit bench connect` / `netkit bench echo`.
#
# Usage: bench/handoff.sh [--connections N] [--size BYTES] [--duration SECONDS]
# Besides the rate it prints connections per server CPU-second (server + workers), which
# is what a connection costs the servers whatever share of the cores the load took: on a
# shared 2-core machine the load generator competes with them.
set -euo pipefail
cd "$(dirname "$0")/.."

options="connections size duration" connections=32 size=16 duration=10
. bench/lib.sh "$@"

CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-1} cargo build --release --quiet --bin netkit
netkit=target/release/netkit

# spawn COMMAND... : a worker in the background; sets $pid
spawn() { "$@" >/dev/null 2>>"$work/workers.err" & pid=$!; pids+=("$pid"); }

# The recipe's pair: its server listens for its worker first and opens its TCP port
# (printing it) only once the worker connected; the worker does not retry.
python3 tests/handoff_python/server.py "$work/py.sock" 0 peekaboo >"$work/python.out" 2>"$work/python.err" &
py_pid=$!; pids+=("$py_pid")
for _ in $(seq 200); do [ -S "$work/py.sock" ] && break; sleep 0.05; done
spawn python3 tests/handoff_python/worker.py "$work/py.sock" peekaboo; py_worker=$pid
for _ in $(seq 200); do [ -s "$work/python.out" ] && break; sleep 0.05; done
py_port=$(head -1 "$work/python.out")
start netkit "$netkit" serve --handoff 127.0.0.1:0 --handoff-socket "$work/nk.sock" --authkey peekaboo
nk_port=$port nk_pid=$pid
spawn "$netkit" handoff worker --connect "$work/nk.sock" --authkey peekaboo --service echo; nk_worker=$pid
start workers "$netkit" serve --echo 127.0.0.1:0 --workers 2
wk_port=$port wk_pid=$pid
start single "$netkit" serve --echo 127.0.0.1:0
sg_port=$port sg_pid=$pid

echo "handoff: new connections, $connections at a time, $size B echoed on each, ${duration}s each, $(nproc) cores"
for target in python:$py_port:"$py_pid $py_worker" netkit:$nk_port:"$nk_pid $nk_worker" \
              workers:$wk_port:"$wk_pid" floor:$sg_port:"$sg_pid"; do
    IFS=: read -r name port procs <<<"$target"
    # shellcheck disable=SC2086
    before=$(cpu_seconds $procs)
    "$netkit" bench connect "127.0.0.1:$port" --connections "$connections" --size "$size" \
        --duration "$duration" --warmup 1 --json >"$work/$name.json"
    # shellcheck disable=SC2086
    echo "{\"before\": $before, \"after\": $(cpu_seconds $procs)}" >"$work/$name.cpu.json"
done
for target in echo_workers:$wk_port:"$wk_pid" echo_single:$sg_port:"$sg_pid"; do
    IFS=: read -r name port procs <<<"$target"
    # shellcheck disable=SC2086
    before=$(cpu_seconds $procs)
    "$netkit" bench echo "127.0.0.1:$port" --connections 64 --size 64 \
        --duration "$duration" --warmup 1 --json >"$work/$name.json"
    # shellcheck disable=SC2086
    echo "{\"before\": $before, \"after\": $(cpu_seconds $procs)}" >"$work/$name.cpu.json"
done

python3 - "$work" "$connections" >"$work/report.txt" <<'PY'
import json, sys, os
w, conns = sys.argv[1:3]
def load(n):
    r = json.load(open(os.path.join(w, n + '.json')))
    c = json.load(open(os.path.join(w, n + '.cpu.json')))
    cpu = c['after'] - c['before']
    r['per_cpu_s'] = r['messages'] / cpu if cpu > 0 else float('inf')
    return r
r = {n: load(n) for n in ('python', 'netkit', 'workers', 'floor')}
print(f"{'server':<28} {'conn/s':>8} {'conn/server-cpu-s':>18} {'p50 µs':>8} {'p99 µs':>8} {'errors':>6}")
names = {'python': "recipe's Python pair", 'netkit': 'netkit --handoff + 1 worker',
         'workers': 'netkit --echo --workers 2', 'floor': 'netkit --echo, no handoff'}
for n, x in r.items():
    print(f"{names[n]:<28} {x['messages_per_sec']:>8.0f} {x['per_cpu_s']:>18.0f} {x['p50_us']:>8} {x['p99_us']:>8} {x['errors']:>6}")
nk, py, wk = r['netkit'], r['python'], r['workers']
print(f"netkit / python: {nk['messages_per_sec'] / py['messages_per_sec']:.1f}x conn/s, "
      f"{nk['per_cpu_s'] / py['per_cpu_s']:.1f}x conn per server CPU-second (target >= 10x)")
fl = r['floor']
print(f"handoff / no handoff (the kernel's TCP set-up and tear-down alone): "
      f"{nk['per_cpu_s'] / fl['per_cpu_s']:.2f} conn per server CPU-second")
e = {n: load(n) for n in ('echo_workers', 'echo_single')}
print(f"echo ping-pong, 64 connections, 64 B: --workers 2 {e['echo_workers']['messages_per_sec']:.0f} msg/s "
      f"({e['echo_workers']['per_cpu_s']:.0f}/cpu-s), single process {e['echo_single']['messages_per_sec']:.0f} msg/s "
      f"({e['echo_single']['per_cpu_s']:.0f}/cpu-s): "
      f"{e['echo_workers']['messages_per_sec'] / e['echo_single']['messages_per_sec']:.2f}x")
# For bench/run-all.sh (lib.sh `summary`).
def summary(*fields):
    print("summary", *fields, sep="\t")
summary("handoff", f"new conn per server CPU-s, {conns} at a time", "recipe 11 server + worker",
        f"{nk['per_cpu_s']:.0f}", f"{py['per_cpu_s']:.0f}", "ratio>=10")
summary("handoff", "echo msg/s, 64 conns, --workers 2", "netkit --echo, 1 process",
        f"{e['echo_workers']['messages_per_sec']:.0f}", f"{e['echo_single']['messages_per_sec']:.0f}", "ratio>=1")
PY
report "$work/report.txt"
