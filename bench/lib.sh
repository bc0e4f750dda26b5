# Shared by the bench/*.sh scripts: sourced, not run.

# start NAME COMMAND... : runs a server in the background whose first stdout line ends
# with its port; sets $port and $pid, and remembers the pid for cleanup.
start() {
    local name=$1; shift
    "$@" >"$work/$name.out" 2>"$work/$name.err" &
    pid=$!
    pids+=("$pid")
    for _ in $(seq 200); do [ -s "$work/$name.out" ] && break; sleep 0.05; done
    port=$(grep -oE '[0-9]+$' "$work/$name.out" | head -1)
    if [ -z "$port" ]; then
        echo "$name did not start:" >&2
        cat "$work/$name.err" >&2
        exit 1
    fi
}

# CPU seconds (user + system) a process has used so far.
cpu_seconds() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"; }

# measure NAME PID COMMAND... : runs a load generator printing one JSON report to
# $work/NAME.json, and the server's CPU seconds during it to $work/NAME.cpu.json.
measure() {
    local name=$1 server_pid=$2; shift 2
    local before
    before=$(cpu_seconds "$server_pid")
    "$@" >"$work/$name.json"
    echo "{\"before\": $before, \"after\": $(cpu_seconds "$server_pid")}" >"$work/$name.cpu.json"
}

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)"
