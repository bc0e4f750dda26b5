#!/usr/bin/env bash
# The Python package's CI: builds the wheel once (python/build-wheel.sh: maturin, release,
# shared CARGO_TARGET_DIR), lints and type-checks the package, then for EVERY CPython 3.8+
# under ~/.pyenv/versions plus python3: a fresh venv, `pip install` the wheel (and
# pytest), python/tests.
# `--pip-install-source` also checks `pip install .` (PEP 517 through maturin) in a fresh
# venv of python3. Exit 1 if the suite fails on any of them.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target}"
work="$CARGO_TARGET_DIR/python"
tools="$work/tools" # made by build-wheel.sh
start=$(date +%s)

wheel=$(python/build-wheel.sh | tail -n 1)

echo "--- python/ci: ruff, mypy --strict (pyproject.toml's settings)"
"$tools/bin/ruff" check python bench/python_startup.py
"$tools/bin/ruff" format --check python bench/python_startup.py
"$tools/bin/mypy"

# One interpreter per minor version: pyenv's, then python3 (if it's another minor version).
declare -A seen=()
pythons=()
for py in "$HOME"/.pyenv/versions/3.*/bin/python3 "$(command -v python3)"; do
    [ -x "$py" ] || continue
    ver=$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
    [ "${ver#3.}" -ge 8 ] || continue
    [ -z "${seen[$ver]:-}" ] || continue
    seen[$ver]=1
    pythons+=("$py")
done

passed=0
failed=0
run_suite() { # name python-of-a-venv
    local name=$1 venv_python=$2
    # Installed netkit, not the source tree: tests run from python/tests with the
    # package imported from site-packages.
    local where
    where=$("$venv_python" -c 'import netkit, sys; print(netkit.__file__)')
    case "$where" in
    "$repo"/python/*)
        echo "python/ci: $name imports netkit from the source tree ($where)" >&2
        return 1
        ;;
    esac
    if (cd "$repo/python/tests" && "$venv_python" -m pytest -q -p no:cacheprovider .); then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "python/ci: FAILED on $name" >&2
    fi
}

for py in "${pythons[@]}"; do
    ver=$("$py" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')
    echo "--- python/ci: CPython $ver ($py)"
    venv="$work/venv-$ver"
    t0=$(date +%s%N)
    rm -rf "$venv"
    # No pip in the venv (ensurepip costs ~10 s each): the tools venv's pip installs into it.
    "$py" -m venv --without-pip "$venv"
    "$tools/bin/pip" --python "$venv/bin/python" install -q --disable-pip-version-check \
        --no-compile "$wheel" "pytest<9"
    t1=$(date +%s%N)
    run_suite "CPython $ver" "$venv/bin/python"
    echo "python/ci: CPython $ver: venv + install $(((t1 - t0) / 1000000)) ms," \
        "suite $((($(date +%s%N) - t1) / 1000000)) ms"
done

if [ "${1:-}" = --pip-install-source ]; then
    echo "--- python/ci: pip install . (PEP 517 through maturin) with python3"
    venv="$work/venv-source"
    rm -rf "$venv"
    python3 -m venv --without-pip "$venv"
    "$tools/bin/pip" --python "$venv/bin/python" install -q --disable-pip-version-check \
        "$repo" "pytest<9"
    run_suite "pip install ." "$venv/bin/python"
fi

echo "python/ci: $(($(date +%s) - start)) s in all (the wheel, ${#pythons[@]} interpreters${1:+, $1})"
echo "python/ci: the suite passed on $passed of $((passed + failed)) installs"
[ "$failed" = 0 ]
