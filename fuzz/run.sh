#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 20), starting from the committed seeds
# fuzz/seeds/<target>/ into a scratch corpus, and fails on the first crash, leak, timeout
# or out-of-memory, printing the input that caused it (kept under fuzz/artifacts/<target>/;
# copy it to fuzz/regressions/<target>/ once fixed so `cargo test` replays it).
#
#   fuzz/run.sh [SECONDS]        (needs cargo-fuzz; runs on stable via RUSTC_BOOTSTRAP=1)
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-20}
export RUSTC_BOOTSTRAP=1

targets=$(cargo fuzz list)
start=$(date +%s)
cargo fuzz build -O
echo "fuzz: built $(echo "$targets" | wc -l) targets in $(($(date +%s) - start))s"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
failed=()
for t in $targets; do
    mkdir -p "$scratch/$t" "artifacts/$t"
    extra=()
    [ "$t" = xmlrpc_parse ] && extra+=(-dict=seeds/xmlrpc.dict)
    # -timeout: a single input taking 10 s is a hang; -rss_limit_mb: peer input must
    # not make a parser allocate past the caps (the library's largest is 64 MiB).
    if cargo fuzz run -O "$t" "$scratch/$t" "seeds/$t" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=1024 \
        -artifact_prefix="artifacts/$t/" -print_final_stats=1 "${extra[@]}" \
        >"$scratch/$t.log" 2>&1; then
        execs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$scratch/$t.log" | grep -oE '[0-9]+$' || echo '?')
        echo "fuzz: $t ok (${seconds}s, $execs runs)"
    else
        echo "fuzz: $t FAILED:"
        grep -E 'ERROR|panicked|SUMMARY|Test unit written|^Base64' "$scratch/$t.log" | head -20
        for f in $(grep -oE 'Test unit written to [^ ]+' "$scratch/$t.log" | awk '{print $5}'); do
            echo "--- $f ($(wc -c <"$f") bytes):"
            od -A d -c "$f" | head -20
        done
        failed+=("$t")
    fi
done
echo "fuzz: $(($(date +%s) - start))s in all"
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: crashes in ${failed[*]}" >&2
    exit 1
fi
