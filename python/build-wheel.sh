#!/usr/bin/env bash
# Builds the netkit wheel once with maturin and checks it; prints the wheel's path as its
# last line. Release profile in the shared CARGO_TARGET_DIR, so a `cargo build --release`
# done before (or after) is reused, not redone. Used by python/ci.sh and the requests
# suite; `python/build-wheel.sh` alone is the packaging check.
#
# Checks: one py3-none-manylinux_*_x86_64 wheel (the binary does not link libpython),
# `auditwheel show` agrees on the manylinux tag, and the wheel holds only the binary,
# the netkit package and its metadata.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
work="$CARGO_TARGET_DIR/python"
tools="$work/tools"
# pip: python/ci.sh installs into --without-pip venvs with `pip --python`, which runs pip
# under the target interpreter: 24.2 still runs on 3.8. ruff, mypy (and pytest, whose
# types the plugin uses): python/ci.sh's lint step.
pins="maturin==1.16.0 auditwheel==6.8.2 pip==24.2 ruff==0.17.6 mypy==2.4.1 pytest==8.4.2"

# The tools in their own venv, remade only when the pins change.
if [ "$(cat "$tools/pins" 2>/dev/null)" != "$pins" ]; then
    rm -rf "$tools"
    python3 -m venv "$tools"
    # shellcheck disable=SC2086
    "$tools/bin/pip" install -q --disable-pip-version-check $pins
    echo "$pins" >"$tools/pins"
fi

rm -rf "$work/dist"
start=$(date +%s%N)
"$tools/bin/maturin" build --release --locked --out "$work/dist" >&2
echo "build-wheel: maturin build took $((($(date +%s%N) - start) / 1000000)) ms" >&2

shopt -s nullglob
wheels=("$work"/dist/netkit-*.whl)
if [ "${#wheels[@]}" != 1 ]; then
    echo "build-wheel: expected one wheel in $work/dist, found ${#wheels[@]}" >&2
    exit 1
fi
wheel=${wheels[0]}
case "$(basename "$wheel")" in
netkit-*-py3-none-manylinux_*_x86_64*.whl) ;;
*)
    echo "build-wheel: $(basename "$wheel") is not a py3-none-manylinux_*_x86_64 wheel" >&2
    exit 1
    ;;
esac

"$tools/bin/auditwheel" show "$wheel" >"$work/auditwheel.txt"
# auditwheel wraps its lines: join them before matching.
if ! tr -s ' \n' ' ' <"$work/auditwheel.txt" |
    grep -q 'is consistent with the following platform tag: "manylinux_'; then
    cat "$work/auditwheel.txt" >&2
    echo "build-wheel: auditwheel does not find a manylinux tag" >&2
    exit 1
fi

# Contents, and the binary's DT_NEEDED (pyelftools comes with auditwheel): no libpython.
"$tools/bin/python" - "$wheel" <<'PY'
import io, re, sys, zipfile
from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile
wheel = zipfile.ZipFile(sys.argv[1])
names = wheel.namelist()
allowed = re.compile(
    r"^(netkit/[A-Za-z_]+\.(py|typed)"
    r"|netkit-[^/]+\.data/scripts/netkit"
    r"|netkit-[^/]+\.dist-info/(METADATA|WHEEL|RECORD|entry_points\.txt|sboms/.+|licenses/.+))$"
)
extra = [n for n in names if not allowed.match(n)]
if extra or "netkit/__init__.py" not in names or not any(n.endswith("/scripts/netkit") for n in names):
    sys.exit("build-wheel: unexpected wheel contents: %s" % (extra or names))
binary = next(n for n in names if n.endswith("/scripts/netkit"))
elf = ELFFile(io.BytesIO(wheel.read(binary)))
needed = sorted(
    tag.needed
    for section in elf.iter_sections() if isinstance(section, DynamicSection)
    for tag in section.iter_tags() if tag.entry.d_tag == "DT_NEEDED"
)
if any("python" in lib for lib in needed):
    sys.exit("build-wheel: the binary links %s" % needed)
print("build-wheel: %s holds %d files; the binary needs %s" % (
    sys.argv[1].rsplit("/", 1)[-1], len(names), ", ".join(needed)), file=sys.stderr)
PY
ls -l "$wheel" >&2
echo "$wheel"
