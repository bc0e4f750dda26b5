#!/usr/bin/env bash
# Soak: every service of `netkit serve` at once under a bounded mixed load, with faults
# injected, for --duration seconds (default 300); then the checks, as a table:
#   every echo byte-exact, every answer right, every acknowledged XML-RPC write readable
#   after KV store restarts, fd and RSS growth of the server within a bound after warm-up,
#   workers back to full strength, no panic in any log, exit 0 on SIGTERM.
# Load and faults: bench/soak/driver.py (Python's own clients) and `netkit bulk send`.
# Faults: clients killed mid-frame, truncated and oversized frames, garbage on every port,
# slowloris on HTTP, kill -9 of a --workers worker, SIGHUP (new generation), KV restart.
#
# Usage: bench/soak.sh [--duration SECONDS] [--workers N]
#   NETKIT=path/to/netkit skips the release build (tests/soak.rs passes its own binary).
# Exits 1 if any check fails.
set -euo pipefail
cd "$(dirname "$0")/.."

options="duration workers" duration=300 workers=2
. bench/lib.sh "$@"

if [ -z "${NETKIT:-}" ]; then
    cargo build --release --quiet --bin netkit
    NETKIT=target/release/netkit
fi
header_timeout=3

"$NETKIT" serve --echo 127.0.0.1:0 --workers "$workers" --time 127.0.0.1:0 --http 127.0.0.1:0 \
    --conn 127.0.0.1:0 --rpc 127.0.0.1:0 --authkey peekaboo --max-frame 1MiB \
    --handoff 127.0.0.1:0 --handoff-socket "$work/handoff.sock" \
    --http-header-timeout "$header_timeout" >"$work/serve.out" 2>"$work/serve.err" &
serve_pid=$!
pids+=("$serve_pid")
for _ in $(seq 200); do [ "$(wc -l <"$work/serve.out")" -ge 6 ] && break; sleep 0.05; done
for s in echo time http conn rpc handoff; do
    printf -v "port_$s" '%s' "$(service_port serve "$s")"
done
if [ -z "$port_handoff" ]; then echo "netkit serve did not start:" >&2; cat "$work/serve.err" >&2; exit 1; fi
"$NETKIT" handoff worker --connect "$work/handoff.sock" --authkey peekaboo --service echo \
    >"$work/worker.out" 2>"$work/worker.err" &
worker_pid=$!
pids+=("$worker_pid")
start bulk "$NETKIT" bulk recv --listen 127.0.0.1:0 --out "$work/bulk.dst" --keep-going
port_bulk=$port bulk_pid=$pid

echo "soak: ${duration}s, all services of one netkit serve (pid $serve_pid, $workers workers), $(nproc) cores"
checks=$work/checks.jsonl
python3 bench/soak/driver.py --netkit "$NETKIT" --work "$work" --duration "$duration" \
    --warmup "$(awk -v d="$duration" 'BEGIN { w = d / 10; print (w < 5 ? 5 : w) }')" \
    --serve-pid "$serve_pid" --workers "$workers" --echo "$port_echo" --time "$port_time" \
    --http "$port_http" --conn "$port_conn" --rpc "$port_rpc" --handoff "$port_handoff" \
    --handoff-socket "$work/handoff.sock" --bulk "$port_bulk" --bulk-out "$work/bulk.dst" \
    --header-timeout "$header_timeout" --checks "$checks"

# check NAME EXPECTED OBSERVED OK(0|1)
check() {
    python3 -c 'import json, sys; print(json.dumps(dict(check=sys.argv[1], expected=sys.argv[2], observed=sys.argv[3], ok=sys.argv[4] == "1")))' \
        "$@" >>"$checks"
}

# SIGTERM: each process drains and exits 0 within its grace (10 s) plus a margin. The
# handoff worker first: it ends by itself once the server it works for is gone.
for p in "handoff worker:$worker_pid" "bulk recv:$bulk_pid" serve:$serve_pid; do
    name=${p%:*} p=${p##*:}
    code="gone before SIGTERM"
    if kill -TERM "$p" 2>/dev/null; then
        code=hung
        for _ in $(seq 150); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    fi
    if ! kill -0 "$p" 2>/dev/null; then
        wait "$p" && code=0 || code=$?
    fi
    check "$name exit code on SIGTERM" 0 "$code" "$([ "$code" = 0 ] && echo 1 || echo 0)"
done
panics=$(cat "$work"/*.err | grep -ciE 'panicked|RUST_BACKTRACE' || true)
check "panics in the logs" 0 "$panics" "$([ "$panics" = 0 ] && echo 1 || echo 0)"

status=0
python3 - "$checks" <<'PY' || status=$?
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
w = [max(len(str(r[k])) for r in rows + [dict(check="check", expected="expected", observed="observed")])
     for k in ("check", "expected", "observed")]
print(f"{'check':<{w[0]}}  {'expected':<{w[1]}}  {'observed':<{w[2]}}  result")
for r in rows:
    print(f"{r['check']:<{w[0]}}  {r['expected']:<{w[1]}}  {r['observed']:<{w[2]}}  {'ok' if r['ok'] else 'FAIL'}")
failed = sum(not r["ok"] for r in rows)
print(f"soak: {len(rows) - failed}/{len(rows)} checks ok")
sys.exit(1 if failed else 0)
PY
total=$(wc -l <"$checks")
passed=$(grep -c '"ok": true' "$checks" || true)
summary soak "checks ok, ${duration}s of load and faults" - "$passed" - "netkit>=$total"
exit "$status"
