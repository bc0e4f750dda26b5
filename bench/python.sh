#!/usr/bin/env bash
# netkit's pytest plugin against pytest-httpbin, in one venv and one run:
#   1. requests' own test suite, ROUNDS alternating runs with each (python/requests-suite.sh):
#      wall times, medians and their ratio;
#   2. fixture start-up, from the fixture's server start to the first served request
#      (bench/python_startup.py, STARTS interleaved starts of each; target < 50 ms), and what
#      importing each plugin costs every pytest run.
# Not a test: prints figures for bench/RESULTS.md. The machine is shared: read ratios.
#
# usage: bench/python.sh [ROUNDS [STARTS]]   (defaults 3 and 30)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
starts=${2:-30}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
echo "bench/python: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD)," \
    "load average $(cut -d' ' -f1-3 /proc/loadavg) before"
NETKIT_WHEEL=$(python/build-wheel.sh 2>/dev/null | tail -n 1)
export NETKIT_WHEEL
# The suite's verdict (known server-side failures) is not this script's business.
python/requests-suite.sh "$rounds" | grep -v '^  ' || true
venv="$CARGO_TARGET_DIR/python/requests-suite/venv"
# pytest-httpbin's request log goes to stderr: not ours to print.
"$venv/bin/python" bench/python_startup.py "$starts" 2>/dev/null
echo "bench/python: load average $(cut -d' ' -f1-3 /proc/loadavg) after"
