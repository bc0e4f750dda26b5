#!/usr/bin/env bash
# Regenerates the committed seed corpora fuzz/seeds/<target>/ from real Python output
# (and, for bulk headers, from netkit's own sender). fuzz/run.sh starts every target from
# these. Deterministic where the format allows; handshakes and timestamps differ per run.
#
#   fuzz/seeds/generate.sh
set -euo pipefail
cd "$(dirname "$0")"
here=$PWD
cargo build --release --quiet --manifest-path ../../Cargo.toml --bin netkit
netkit=$(cd ../.. && pwd)/target/release/netkit

for t in pickle_loads xmlrpc_parse mpconn_frames mpconn_handshake sntp_packet http_headers cidr_parse bulk_header; do
    rm -rf "${here:?}/$t"
done
python3 pickle.py "$here/pickle_loads"
python3 xmlrpc.py "$here/xmlrpc_parse"
for mode in mpconn_frames sntp_packet http_headers cidr_parse; do
    python3 wire.py "$mode" "$here/$mode"
done
# The handshake changed in 3.12 (a {digest} prefix instead of a bare 20-byte challenge):
# seed both forms, from every Python here that has one.
for py in python3 "$HOME"/.pyenv/versions/3.1[2-9]*/bin/python3; do
    [ -x "$(command -v "$py")" ] && "$py" wire.py mpconn_handshake "$here/mpconn_handshake"
done
python3 wire.py bulk_header "$here/bulk_header" "$netkit"
du -sh "$here"
