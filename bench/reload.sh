#!/usr/bin/env bash
# Reload under load (issue 17: "a HUP leaves no gap longer than 10 ms in the served
# messages"), all in one run on this machine: `netkit serve --echo` (plain, then TLS, whose
# acceptor a reload rebuilds) under an echo ping-pong on --connections connections, with a
# new connection opened every 5 ms throughout, gets --hups SIGHUPs --interval ms apart.
# The load generator (examples/reload_gap.rs) records the time of every reply and sends the
# HUPs itself, so both share one clock. It compares windows [HUP - 10 ms, HUP + 50 ms) with
# the same windows half an interval later, where no HUP falls: the baseline, since on this
# machine the load generator shares the cores with the server and gaps happen without a HUP
# too. Each run is a fresh server; /metrics proves every HUP was applied
# (netkit_reloads_total{result="ok"}). Plain and TLS runs alternate, --repeat times.
#
# Usage: bench/reload.sh [--connections N] [--size BYTES] [--hups N] [--interval MS] [--repeat N]
# Prints, per figure, the median and the spread (min–max) over the runs; every run is
# bounded (about 1.8 s + HUPS × INTERVAL) and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."

options="connections size hups interval repeat" connections=64 size=64 hups=20 interval=250 repeat=3
. bench/lib.sh "$@"

CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-1} cargo build --release --quiet --bin netkit --example reload_gap
netkit=target/release/netkit
load=target/release/examples/reload_gap

"$netkit" tls gen-cert --out "$work/certs" >/dev/null
# A --config file too, so that each HUP re-reads and merges one, as a deployment's would.
printf 'idle-timeout = 300\n' >"$work/netkit.toml"

# reloads METRICS_PORT RESULT : netkit_reloads_total{result=RESULT} from /metrics.
reloads() {
    curl -fsS "http://127.0.0.1:$1/metrics" |
        awk -v want="netkit_reloads_total{result=\"$2\"}" '$1 == want {print $2}'
}

echo "reload under echo load: $connections connections × $size B, $hups HUPs ${interval} ms apart," \
    "$repeat runs each, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
for run in $(seq "$repeat"); do
    for variant in plain tls; do
        name=$variant.$run
        tls_flags=() ca_flags=()
        if [ "$variant" = tls ]; then
            tls_flags=(--tls-cert "$work/certs/server.pem" --tls-key "$work/certs/server.key")
            ca_flags=(--ca "$work/certs/ca.pem")
        fi
        start "$name" "$netkit" serve --config "$work/netkit.toml" --echo 127.0.0.1:0 \
            --metrics 127.0.0.1:0 "${tls_flags[@]}"
        echo_port=$port server_pid=$pid
        metrics_port=$(service_port "$name" metrics)
        ok_before=$(reloads "$metrics_port" ok)
        loadavg=$(cut -d' ' -f1 /proc/loadavg)
        "$load" "127.0.0.1:$echo_port" --pid "$server_pid" "${ca_flags[@]}" \
            --connections "$connections" --size "$size" --hups "$hups" --interval-ms "$interval" \
            >"$work/$name.json"
        # The last HUP was sent over half a second ago: its reload is counted by now.
        echo "{\"reloads_ok\": $(($(reloads "$metrics_port" ok) - ok_before)),"\
            "\"reloads_error\": $(reloads "$metrics_port" error), \"loadavg\": $loadavg}" \
            >"$work/$name.metrics.json"
        kill "$server_pid"
        wait "$server_pid" || true
    done
done

python3 - "$work" "$repeat" "$hups" "$connections" >"$work/report.txt" <<'PY'
import json, os, statistics, sys
w, repeat, hups, conns = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
runs = {}
for variant in ("plain", "tls"):
    runs[variant] = []
    for i in range(1, repeat + 1):
        r = json.load(open(os.path.join(w, f"{variant}.{i}.json")))
        r.update(json.load(open(os.path.join(w, f"{variant}.{i}.metrics.json"))))
        runs[variant].append(r)

def spread(values, scale=1e-3):
    values = [v * scale for v in values]
    med = statistics.median(values)
    if len(values) == 1:
        return f"{med:.1f}"
    return f"{med:.1f} ({min(values):.1f}–{max(values):.1f})"

def figure(variant, key, field):
    return [r[key][field] for r in runs[variant]]

rows = [
    ("reply gap, one connection: largest", "gap", "max_us"),
    ("reply gap, one connection: median window", "gap", "median_us"),
    ("server stall (no reply at all): largest", "stall", "max_us"),
    ("server stall: median window", "stall", "median_us"),
    ("new connection + first echo: p50", "connect", "p50_us"),
    ("new connection + first echo: p99", "connect", "p99_us"),
    ("new connection + first echo: max", "connect", "max_us"),
]
print(f"ms, median (min–max) over {repeat} runs; 'HUP' = windows [HUP-10ms, HUP+50ms), "
      f"'base' = the same windows half an interval later")
head = f"{'':<42}" + "".join(f"{v + ' ' + k:>20}" for v in runs for k in ("HUP", "base"))
print(head)
for label, key, field in rows:
    cells = "".join(f"{spread(figure(v, key + '_' + k, field)):>20}" for v in runs for k in ("hup", "base"))
    print(f"{label:<42}{cells}")
for v, rs in runs.items():
    ok = [r["reloads_ok"] for r in rs]
    print(f"{v}: reloads applied (metrics ok / HUPs sent) "
          + ", ".join(f"{r['reloads_ok']}/{r['hups_sent']}" for r in rs)
          + f"; reload errors {max(r['reloads_error'] for r in rs):.0f}"
          + f"; replies/s {spread([r['replies_per_sec'] for r in rs], 1):s}"
          + f"; ping-pong errors {sum(r['errors'] for r in rs)}, new-connection errors {sum(r['connect_errors'] for r in rs)}"
          + f"; new connections near HUPs/run {statistics.median(r['connect_hup']['count'] for r in rs):.0f}"
          + f"; load average at start {', '.join(str(r['loadavg']) for r in rs)}")
    print(f"{v}: the largest stall near a HUP began (ms after its HUP) "
          + ", ".join(f"{r['stall_hup_worst_after_hup_us'] / 1e3:.1f}" for r in rs)
          + "".join(f"; first new-connection error: {r['connect_error']}" for r in rs if r["connect_error"])[:200])

def summary(*fields):
    print("summary", *fields, sep="\t")
for v in runs:
    hup = statistics.median(figure(v, "stall_hup", "max_us")) / 1e3
    base = statistics.median(figure(v, "stall_base", "max_us")) / 1e3
    summary("reload", f"server stall ms near {hups} HUPs ({v}, {conns} conns)", "same windows without HUP", f"{hup:.1f}", f"{base:.1f}", "netkit<=10")
    hup = statistics.median(figure(v, "gap_hup", "max_us")) / 1e3
    base = statistics.median(figure(v, "gap_base", "max_us")) / 1e3
    summary("reload", f"max reply gap ms near HUPs ({v})", "same windows without HUP", f"{hup:.1f}", f"{base:.1f}", "ratio<=1.5")
    applied = min(r["reloads_ok"] / r["hups_sent"] for r in runs[v])
    summary("reload", f"HUPs applied ({v}, /metrics)", "-", f"{applied:.2f}", "-", "netkit>=1")
PY
report "$work/report.txt"
