#!/usr/bin/env bash
# XML-RPC key-value benchmark (recipe 6), all in one run on this machine over loopback:
# the same load generator (`netkit bench xmlrpc`: each connection alternates set(key, v)
# and get(key), a 16-byte string value, keep-alive where the server allows it) against
#   - the recipe's Python KeyValueServer (SimpleXMLRPCServer, request logging off),
#   - netkit serve --xmlrpc with the memory store,
#   - netkit with --kv-store FILE (redb, fsync before every reply, group commit),
#   - netkit with --kv-store redis:// (if redis-server is installed),
# at --connections C (default 4: Python's server serves one request at a time and its
# listen backlog is 5), and netkit again at 64 connections. Prints calls/s and p50/p99
# latency per row, and the ratios netkit / Python.
#
# Usage: bench/xmlrpc.sh [--duration SECONDS] [--connections C] [--dir DIR]
set -euo pipefail
cd "$(dirname "$0")/.."

options="duration connections dir" duration=10 connections=4 dir=""
. bench/lib.sh "$@"

cargo build --release --quiet --bin netkit
netkit=target/release/netkit

results=$work/results.txt
: >"$results"
# run LABEL URL CONNECTIONS
run() {
    local json
    json=$("$netkit" bench xmlrpc "$2" --connections "$3" --duration "$duration" --warmup 1 --json)
    python3 -c '
import json, sys
r = json.loads(sys.argv[2])
print("%s\t%d\t%.0f\t%d\t%d\t%d" % (sys.argv[1], r["connections"], r["messages_per_sec"], r["p50_us"], r["p99_us"], r["errors"]))
' "$1" "$json" | tee -a "$results"
}

printf 'server\tconnections\tcalls/s\tp50 µs\tp99 µs\terrors\n'

start python python3 -u tests/xmlrpc_python/recipe_server.py 0
run "python recipe (SimpleXMLRPCServer)" "http://127.0.0.1:$port" "$connections"

start memory "$netkit" serve --xmlrpc 127.0.0.1:0
run "netkit memory" "http://127.0.0.1:$port" "$connections"
run "netkit memory" "http://127.0.0.1:$port" 64

start file "$netkit" serve --xmlrpc 127.0.0.1:0 --kv-store "$work/kv.redb"
run "netkit file (redb, fsync per reply)" "http://127.0.0.1:$port" "$connections"
run "netkit file (redb, fsync per reply)" "http://127.0.0.1:$port" 64

if command -v redis-server >/dev/null; then
    rport=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no >"$work/redis.log" 2>&1 &
    pids+=("$!")
    for _ in $(seq 100); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.05; done
    start redis "$netkit" serve --xmlrpc 127.0.0.1:0 --kv-store "redis://127.0.0.1:$rport"
    run "netkit redis" "http://127.0.0.1:$port" "$connections"
    run "netkit redis" "http://127.0.0.1:$port" 64
else
    echo "redis-server not installed: no redis row" >&2
    summary_skip xmlrpc "calls/s, redis store, $connections conns" "recipe SimpleXMLRPCServer" "redis-server not installed"
fi

python3 - "$results" "$connections" >"$work/report.txt" <<'PY'
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
c = sys.argv[2]
rate = {(r[0], r[1]): float(r[2]) for r in rows}
py = rate[("python recipe (SimpleXMLRPCServer)", c)]
print()
for (name, conns), r in rate.items():
    if not name.startswith("python"):
        print("%s @%s / python @%s: %.1fx" % (name, conns, c, r / py))
# For bench/run-all.sh (lib.sh `summary`): the issue's targets at the same connections.
targets = {"netkit memory": "ratio>=20", "netkit file (redb, fsync per reply)": "ratio>=5", "netkit redis": "ratio>=1"}
for (name, conns), r in rate.items():
    if name in targets and conns == c:
        print("summary", "xmlrpc", f"calls/s, {name[7:]} store, {c} conns", "recipe SimpleXMLRPCServer",
              f"{r:.0f}", f"{py:.0f}", targets[name], sep="\t")
PY
report "$work/report.txt"
