#!/usr/bin/env bash
# XML-RPC in interleaved rounds: the recipe's Python KeyValueServer (SimpleXMLRPCServer,
# request logging off) against netkit serve --xmlrpc with the memory store (with its
# default thread per core, and with --threads 1), and the floor (examples/xmlrpc_floor.rs:
# a bare tokio loop that answers every POST with netkit's bytes for `get`, parsing
# nothing: what TCP and tokio alone cost here), one load generator at --connections C:
#   --client wrk    `get(key)` under wrk -t1 (a Lua script POSTs the document; the key
#                   holds a 16-byte string), the issue's "wrk run of get";
#   --client bench  `netkit bench xmlrpc` (each connection alternates set and get, a
#                   16-byte value), the load of bench/xmlrpc.sh.
# Keep-alive where the server allows it: Python's closes after every answer, so its rows
# include a reconnect per call, as its own clients pay. Each round runs every server once
# (python, netkit, [before]) so that the machine's load hits every row alike; prints each
# round (calls/s and the server's CPU µs per call), then medians, spread (min-max) and the
# ratios of medians to python and to the floor.
#
# The recipe server is Python's single thread on one core; --threads 1 gives netkit the same
# share, leaving wrk the other core.
#
# --before BINARY adds a row for another netkit binary (e.g. one built from main) in the
# same rounds, for before/after figures.
#
# Usage: bench/xmlrpc_rounds.sh [--client wrk|bench] [--duration SECONDS] [--connections C]
#                               [--rounds N] [--before BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."

options="client duration connections rounds before" client=wrk duration=5 connections=16 rounds=3 before=""
. bench/lib.sh "$@"

cargo build --release --quiet --bin netkit --example xmlrpc_floor
netkit=target/release/netkit

cat >"$work/get.lua" <<'LUA'
wrk.method = "POST"
wrk.path = "/RPC2"
wrk.headers["Content-Type"] = "text/xml"
wrk.body = "<?xml version='1.0'?>\n<methodCall>\n<methodName>get</methodName>\n<params>\n<param>\n<value><string>bench</string></value>\n</param>\n</params>\n</methodCall>\n"
LUA

# preload PORT : sets the key every `get` asks for, and checks the answer is the value.
preload() {
    python3 - "$1" <<'PY'
import sys, xmlrpc.client
s = xmlrpc.client.ServerProxy("http://127.0.0.1:%s/RPC2" % sys.argv[1], allow_none=True)
s.set("bench", "v" * 16)
assert s.get("bench") == "v" * 16
PY
}

start python python3 -u tests/xmlrpc_python/recipe_server.py 0; py_port=$port
preload "$py_port"
py_pid=$pid
start netkit "$netkit" serve --xmlrpc 127.0.0.1:0; nk_port=$port
preload "$nk_port"
nk_pid=$pid
start netkit-t1 "$netkit" serve --xmlrpc 127.0.0.1:0 --threads 1; t1_port=$port
preload "$t1_port"
t1_pid=$pid
start floor target/release/examples/xmlrpc_floor; floor_port=$port
servers=("python $py_port $py_pid" "netkit $nk_port $nk_pid" "netkit-t1 $t1_port $t1_pid" "floor $floor_port $pid")
if [ -n "$before" ]; then
    start before "$before" serve --xmlrpc 127.0.0.1:0
    preload "$port"
    servers+=("before $port $pid")
fi

results=$work/results.txt
: >"$results"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq "$rounds"); do
    for entry in "${servers[@]}"; do
        read -r name p server_pid <<<"$entry"
        cpu_before=$(cpu_seconds "$server_pid")
        if [ "$client" = wrk ]; then
            wrk -t1 -c"$connections" -d"${duration}s" -s "$work/get.lua" "http://127.0.0.1:$p" >"$work/out.txt" 2>&1
            rps=$(awk '/^Requests\/sec:/ {print $2}' "$work/out.txt")
            errors=$(awk '/Non-2xx|Socket errors/ {printf "%s ", $0}' "$work/out.txt")
        else
            "$netkit" bench xmlrpc "http://127.0.0.1:$p" --connections "$connections" \
                --duration "$duration" --warmup 1 --json >"$work/out.txt"
            rps=$(python3 -c 'import json, sys; print("%.0f" % json.load(open(sys.argv[1]))["messages_per_sec"])' "$work/out.txt")
            errors=$(python3 -c 'import json, sys; e = json.load(open(sys.argv[1]))["errors"]; print("errors %d" % e if e else "")' "$work/out.txt")
        fi
        us=$(python3 -c 'import sys; b, a, r, d = map(float, sys.argv[1:]); print("%.1f" % ((a - b) / (r * d) * 1e6))' \
            "$cpu_before" "$(cpu_seconds "$server_pid")" "$rps" "$duration")
        printf '%s\t%s\t%s\t%s\t%s\n' "$round" "$name" "$rps" "$us" "$errors" | tee -a "$results"
    done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$results" <<'PY'
import statistics, sys
rates, cpu = {}, {}
for line in open(sys.argv[1]):
    _, name, rps, us, *_ = line.rstrip("\n").split("\t")
    rates.setdefault(name, []).append(float(rps))
    cpu.setdefault(name, []).append(float(us))
med = {name: statistics.median(r) for name, r in rates.items()}
print()
for name, r in rates.items():
    print("%-9s median %9.0f calls/s  (min %.0f, max %.0f, %d rounds); server CPU %.1f us/call (median)"
          % (name, med[name], min(r), max(r), len(r), statistics.median(cpu[name])))
for name in rates:
    if name != "python":
        print("%s / python: %.1fx (ratio of medians)" % (name, med[name] / med["python"]))
for name in rates:
    if name not in ("python", "floor"):
        print("%s / floor: %.2f (ratio of medians)" % (name, med[name] / med["floor"]))
PY
