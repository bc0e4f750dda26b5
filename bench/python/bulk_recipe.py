"""Recipe 13's send_from / recv_into as a benchmark peer for bench/bulk.sh.

    python3 bulk_recipe.py recv NBYTES      # prints its port, receives NBYTES, prints JSON
    python3 bulk_recipe.py send PORT FILE   # sends FILE's bytes to 127.0.0.1:PORT

The receiver fills a preallocated buffer with recv_into, as the recipe does (no file is
written); its time runs from the accept to the last byte. Uses NumPy when present (the
recipe's arrays), a bytearray otherwise: memoryview makes them the same to the socket.
"""
import json
import socket
import sys
import time


def send_from(arr, dest):
    view = memoryview(arr).cast("B")
    while len(view):
        nsent = dest.send(view)
        view = view[nsent:]


def recv_into(arr, source):
    view = memoryview(arr).cast("B")
    while len(view):
        nrecv = source.recv_into(view)
        view = view[nrecv:]


def buffer(n):
    try:
        import numpy
        return numpy.zeros(n, dtype=numpy.uint8)
    except ImportError:
        return bytearray(n)


def main():
    if sys.argv[1] == "recv":
        n = int(sys.argv[2])
        arr = buffer(n)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        print(s.getsockname()[1], flush=True)
        c, _ = s.accept()
        start = time.perf_counter()
        recv_into(arr, c)
        seconds = time.perf_counter() - start
        print(json.dumps({"bytes": n, "seconds": seconds, "gbit_per_sec": n * 8 / seconds / 1e9}), flush=True)
    else:
        port, path = int(sys.argv[2]), sys.argv[3]
        with open(path, "rb") as f:
            data = f.read()
        c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        c.connect(("127.0.0.1", port))
        send_from(data, c)
        c.close()


if __name__ == "__main__":
    main()
