# Shared by the bench/*.sh scripts: sourced, not run.
#
# A script sets its defaults and the names of its options, then sources this file:
#   options="connections duration" connections=64 duration=10
#   . bench/lib.sh "$@"
# which parses `--connections N --duration S` into those variables (dashes become
# underscores), prints "usage: SCRIPT [--connections CONNECTIONS] ..." for anything else,
# and gives the script a scratch directory $work and a cleanup of the servers it starts.

parse_options() {
    local flag var
    while [ $# -gt 0 ]; do
        flag=$1 var=${1#--}
        var=${var//-/_}
        if [[ $flag != --* || " $options " != *" $var "* || $# -lt 2 ]]; then
            printf 'usage: %s' "$0" >&2
            for var in $options; do printf ' [--%s %s]' "${var//_/-}" "${var^^}" >&2; done
            echo >&2
            exit 2
        fi
        printf -v "$var" '%s' "$2"
        shift 2
    done
}
parse_options "$@"

# start NAME COMMAND... : runs a server in the background whose first stdout line ends
# with its port (or, when its stdout carries data, as `bulk recv --stdout`, whose stderr
# says "listening on …:PORT"); sets $port and $pid, and remembers the pid for cleanup.
start() {
    local name=$1; shift
    # A previous run's listening line must not be read as this one's.
    rm -f "$work/$name.out" "$work/$name.err"
    "$@" >"$work/$name.out" 2>"$work/$name.err" &
    pid=$!
    pids+=("$pid")
    port=""
    for _ in $(seq 200); do
        port=$( (head -1 "$work/$name.out"; grep -m1 'listening on' "$work/$name.err") 2>/dev/null |
            grep -oE '[0-9]+$' | head -1 || true)
        [ -n "$port" ] && return 0
        sleep 0.05
    done
    echo "$name did not start:" >&2
    cat "$work/$name.err" >&2
    exit 1
}

# service_port NAME SERVICE : the port in NAME's "netkit: SERVICE listening on …" line.
service_port() {
    grep -oE "$2 listening on [a-z]+://.*:[0-9]+" "$work/$1.out" | grep -oE '[0-9]+$'
}

# cpu_seconds PID... : CPU seconds (user + system) used so far by the given processes and
# their children (a --workers supervisor's workers count as the server's).
cpu_seconds() {
    local p t c
    for p in "$@"; do
        for t in /proc/"$p"/task/*/children; do
            for c in $(cat "$t" 2>/dev/null); do set -- "$@" "$c"; done
        done
    done
    # (a process gone since it was listed just drops out)
    for p in $(printf '%s\n' "$@" | sort -u); do cat "/proc/$p/stat" 2>/dev/null || true; done |
        awk -v hz="$(getconf CLK_TCK)" '{s += $14 + $15} END {print s / hz}'
}

# measure NAME PID COMMAND... : runs a load generator printing one JSON report to
# $work/NAME.json, and the server's CPU seconds during it to $work/NAME.cpu.json.
measure() {
    local name=$1 server_pid=$2; shift 2
    local before
    before=$(cpu_seconds "$server_pid")
    "$@" >"$work/$name.json"
    echo "{\"before\": $before, \"after\": $(cpu_seconds "$server_pid")}" >"$work/$name.cpu.json"
}

# summary SERVICE METRIC REFERENCE NETKIT REF TARGET : when $NETKIT_BENCH_SUMMARY names a
# file, appends one TSV line for bench/run-all.sh:
#   service metric reference netkit ref ratio target met
# ratio is NETKIT / REF; TARGET is `ratio>=X`, `ratio<=X`, `netkit>=X` or `netkit<=X`
# (the issue's target for this figure), and met is yes/no. REF may be `-` (no reference).
summary() {
    [ -n "${NETKIT_BENCH_SUMMARY:-}" ] || return 0
    local service=$1 metric=$2 reference=$3 netkit=$4 ref=$5 target=$6
    awk -v OFS='\t' -v s="$service" -v m="$metric" -v r="$reference" -v n="$netkit" -v f="$ref" -v t="$target" 'BEGIN {
        ratio = (f == "-" || f + 0 == 0) ? "-" : sprintf("%.2f", n / f)
        match(t, /(<=|>=)/); what = substr(t, 1, RSTART - 1); op = substr(t, RSTART, 2); bound = substr(t, RSTART + 2) + 0
        value = (what == "ratio") ? ratio : n
        met = (value == "-") ? "n/a" : ((op == ">=" ? value + 0 >= bound : value + 0 <= bound) ? "yes" : "no")
        print s, m, r, n, f, ratio, what " " op " " bound, met
    }' >>"$NETKIT_BENCH_SUMMARY"
}

# summary_skip SERVICE METRIC REFERENCE WHY : a figure that could not be measured here.
summary_skip() {
    [ -n "${NETKIT_BENCH_SUMMARY:-}" ] || return 0
    printf '%s\t%s\t%s\t-\t-\t-\t-\tskipped: %s\n' "$1" "$2" "$3" "$4" >>"$NETKIT_BENCH_SUMMARY"
}

# report FILE : prints FILE, except its `summary<TAB>…` and `skip<TAB>…` lines (the
# arguments of `summary` and `summary_skip`, written by a script's Python reporting step),
# which go to those instead.
report() {
    local tag rest fields
    grep -vE "^(summary|skip)$(printf '\t')" "$1" || true
    while IFS=$'\t' read -r tag rest; do
        IFS=$'\t' read -r -a fields <<<"$rest"
        case $tag in
            summary) summary "${fields[@]}" ;;
            skip) summary_skip "${fields[@]}" ;;
        esac
    done <"$1"
}

# Scratch space: under the script's --dir if it has one (bulk.sh: big files).
work=$(mktemp -d "${dir:-${TMPDIR:-/tmp}}/netkit-bench.XXXXXX")
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)"
