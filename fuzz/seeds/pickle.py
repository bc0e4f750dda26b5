#!/usr/bin/env python3
"""Seed corpus for the pickle_loads fuzz target: real CPython pickles of every value type
netkit reads, at protocols 0-5, plus a few hostile shapes.

    python3 fuzz/seeds/pickle.py [OUT_DIR]   (default: fuzz/seeds/pickle_loads)
"""
import sys

# This file is itself named pickle.py: keep its folder off the import path.
sys.path = sys.path[1:]

import hashlib
import os
import pickle

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "pickle_loads")
os.makedirs(out, exist_ok=True)

shared = ["shared", 1]
rec = []
rec.append(rec)
t_rec = ([],)
t_rec[0].append(t_rec)
d_rec = {}
d_rec["self"] = d_rec
e = KeyError("spam")
e.code = 42
exc_rec = ValueError([])
exc_rec.args[0].append(exc_rec)

values = [
    None, True, False, 0, 1, -1, 255, 256, 65535, 65536, 2**31 - 1, -2**31, 2**31, 2**63, -2**63 - 1,
    2**100, -(2**1000), 0.0, -0.0, 1.5, float("inf"), float("nan"), 1e300,
    "", "a", "é", "€", "😀", "\ud800", "x" * 300, "line\nbreak\\", b"", b"a", b"\x00\xff" * 200,
    bytearray(), bytearray(b"abc"), (), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), [], [1], list(range(1001)),
    {}, {"a": 1}, {i: str(i) for i in range(1001)}, {(1, "a"): frozenset({1})}, set(), {1, 2, "x"},
    frozenset(), frozenset({b"a", 1.5}), [shared, shared], rec, t_rec, d_rec,
    KeyError("x"), e, ConnectionError("refused"), OSError(2, "nf", "fn"), StopIteration(5),
    exc_rec, [KeyError("a"), ValueError("b"), KeyError("c")], ("add", (1, 2), {}),
    pickle.dumps(("add", (1, 2), {})),
]

def write(data):
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)

n = 0
for v in values:
    for p in range(6):
        try:
            write(pickle.dumps(v, p))
            n += 1
        except Exception:
            pass
# Hostile shapes: a forbidden global, a memo bomb, deep nesting, a huge declared length.
write(b"cos\nsystem\n(S'echo pwned'\ntR.")
write(b"\x80\x04\x95\x00\x00\x00\x00\x00\x00\x00\x00\x8c\x02os\x94\x8c\x06system\x94\x93\x94.")
write(b"\x80\x04]" + b"\x94h\x00h\x00\x86" * 50 + b".")
write(b"\x80\x04" + b"]" * 200 + b"a" * 199 + b".")
write(b"\x80\x04\x8d\xff\xff\xff\xff\xff\xff\xff\x7f.")
print(f"wrote {n + 5} seeds to {out}")
