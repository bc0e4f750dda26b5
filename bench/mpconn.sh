#!/usr/bin/env bash
# multiprocessing.connection benchmarks (recipes 7 and 8), in one run on this machine:
#   conn: the recipe's Listener echo (it serves one client at a time, so 1 connection)
#         vs netkit serve --conn, at 1 connection and at --connections;
#   rpc:  the recipe's threaded RPCHandler vs netkit serve --rpc, add(2, 3) calls,
#         at --connections;
#   new authenticated connections/s: connect + handshake + one message + close.
# Both with authkey peekaboo. Load from `netkit bench conn|rpc`, bounded by --duration.
#
# Usage: bench/mpconn.sh [--connections N] [--duration SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."

options="connections duration" connections=64 duration=10
. bench/lib.sh "$@"

cargo build --release --quiet --bin netkit
netkit=target/release/netkit

start py_conn python3 bench/python/conn_server.py; py_conn=$port py_conn_pid=$pid
start py_rpc python3 bench/python/rpc_server.py; py_rpc=$port py_rpc_pid=$pid
start netkit "$netkit" serve --conn 127.0.0.1:0 --rpc 127.0.0.1:0 --authkey peekaboo
nk_pid=$pid
nk_conn=$(service_port netkit conn)
nk_rpc=$(service_port netkit rpc)

load=(--duration "$duration" --warmup 0 --json --authkey peekaboo)
echo "multiprocessing.connection: ${duration}s each, $(nproc) cores"
measure conn_python_1 "$py_conn_pid" "$netkit" bench conn "127.0.0.1:$py_conn" --connections 1 "${load[@]}"
measure conn_netkit_1 "$nk_pid" "$netkit" bench conn "127.0.0.1:$nk_conn" --connections 1 "${load[@]}"
measure conn_netkit_n "$nk_pid" "$netkit" bench conn "127.0.0.1:$nk_conn" --connections "$connections" "${load[@]}"
measure hs_python_1 "$py_conn_pid" "$netkit" bench conn "127.0.0.1:$py_conn" --connections 1 --reconnect "${load[@]}"
measure hs_netkit_1 "$nk_pid" "$netkit" bench conn "127.0.0.1:$nk_conn" --connections 1 --reconnect "${load[@]}"
measure hs_netkit_n "$nk_pid" "$netkit" bench conn "127.0.0.1:$nk_conn" --connections "$connections" --reconnect "${load[@]}"
measure rpc_python_n "$py_rpc_pid" "$netkit" bench rpc "127.0.0.1:$py_rpc" --connections "$connections" "${load[@]}"
measure rpc_netkit_n "$nk_pid" "$netkit" bench rpc "127.0.0.1:$nk_rpc" --connections "$connections" "${load[@]}"

python3 - "$work" "$connections" >"$work/report.txt" <<'PY'
import json, os, sys
w, n = sys.argv[1], sys.argv[2]
def load(name):
    r = json.load(open(os.path.join(w, name + '.json')))
    c = json.load(open(os.path.join(w, name + '.cpu.json')))
    cpu = c['after'] - c['before']
    r['per_cpu_s'] = r['messages'] / cpu if cpu > 0 else float('inf')
    return r
rows = [('conn python, 1 conn', 'conn_python_1'), ('conn netkit, 1 conn', 'conn_netkit_1'),
        (f'conn netkit, {n} conns', 'conn_netkit_n'),
        (f'rpc python, {n} conns', 'rpc_python_n'), (f'rpc netkit, {n} conns', 'rpc_netkit_n'),
        ('new auth conn python', 'hs_python_1'), ('new auth conn netkit', 'hs_netkit_1'),
        (f'new auth conn netkit {n}', 'hs_netkit_n')]
r = {key: load(key) for _, key in rows}
print(f"{'run':<22} {'msg/s':>9} {'msg/server-cpu-s':>17} {'p50 µs':>8} {'p99 µs':>8} {'errors':>6}")
for label, key in rows:
    x = r[key]
    print(f"{label:<22} {x['messages_per_sec']:>9.0f} {x['per_cpu_s']:>17.0f} {x['p50_us']:>8} {x['p99_us']:>8} {x['errors']:>6}")
def ratio(a, b):
    return f"{r[a]['messages_per_sec'] / r[b]['messages_per_sec']:.1f}x msg/s, " \
           f"{r[a]['per_cpu_s'] / r[b]['per_cpu_s']:.1f}x per server CPU-second, " \
           f"p99 {r[a]['p99_us']} vs {r[b]['p99_us']} µs"
print(f"conn, 1 connection:  netkit / python = {ratio('conn_netkit_1', 'conn_python_1')}")
print(f"conn, served:        netkit ({n} conns) / python (the recipe serves 1) = {ratio('conn_netkit_n', 'conn_python_1')}")
print(f"rpc, {n} connections: netkit / python = {ratio('rpc_netkit_n', 'rpc_python_n')}")
print(f"new authenticated connections, 1 client: netkit / python = {ratio('hs_netkit_1', 'hs_python_1')}")
print(f"new authenticated connections, netkit with {n} clients / python = {ratio('hs_netkit_n', 'hs_python_1')}")
# For bench/run-all.sh (lib.sh `summary`): messages per server CPU-second.
def summary(*fields):
    print("summary", *fields, sep="\t")
for service, metric, ref, a, b in [
        ("conn", "msg per server CPU-s, 1 conn", "recipe Listener echo", "conn_netkit_1", "conn_python_1"),
        ("rpc", f"calls per server CPU-s, {n} conns", "recipe RPCHandler", "rpc_netkit_n", "rpc_python_n"),
        ("conn", "new auth conn per server CPU-s, 1 client", "recipe Listener", "hs_netkit_1", "hs_python_1")]:
    summary(service, metric, ref, f"{r[a]['per_cpu_s']:.0f}", f"{r[b]['per_cpu_s']:.0f}", "ratio>=10")
PY
report "$work/report.txt"
