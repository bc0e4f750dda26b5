#!/usr/bin/env python3
"""Seeds for the wire-format fuzz targets, from real Python output (and netkit's own for
bulk headers). Called by fuzz/seeds/generate.sh; each mode writes one target's seeds:

    wire.py mpconn_frames OUT      multiprocessing.connection frames of Python values
    wire.py mpconn_handshake OUT   a real deliver/answer_challenge exchange (this Python's)
    wire.py sntp_packet OUT        SNTP client requests as ntplib/`ntpdate` build them
    wire.py http_headers OUT       header values and request heads from urllib, WebSocket frames
    wire.py cidr_parse OUT         str() of ipaddress objects
    wire.py bulk_header OUT NETKIT the first bytes `netkit bulk send` writes
"""
import os
import sys

# This folder holds pickle.py and xmlrpc.py: keep it from shadowing the stdlib modules.
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

import hashlib  # noqa: E402
import socket
import struct
import subprocess
import tempfile
import threading
import time


def write(out, data):
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, hashlib.sha1(data).hexdigest()[:16]), "wb") as f:
        f.write(data)


def mpconn_frames(out):
    from multiprocessing.connection import Connection
    a, b = socket.socketpair()
    ca = Connection(a.detach())
    values = [None, 1, "x", b"hello", ("add", (1, 2), {}), list(range(50)), {"k": [1.5, None]},
              KeyError("spam"), b"\0" * 300]
    for v in values:
        ca.send(v)
        time.sleep(0.01)
        b.settimeout(1)
        write(out, b.recv(1 << 16))
    for raw in [b"", b"#WELCOME#", b"#FAILURE#", b"x" * 70000]:
        ca.send_bytes(raw)
        time.sleep(0.01)
        chunks = b""
        b.setblocking(False)
        try:
            while True:
                chunks += b.recv(1 << 17)
        except BlockingIOError:
            pass
        write(out, chunks[:1024])  # a long frame: its header and a first slice are enough
    # The 8-byte long form Python uses past 2 GiB, by hand (too big to produce for real).
    write(out, struct.pack("!i", -1) + struct.pack("!Q", 2**31) + b"payload")


def mpconn_handshake(out):
    """Relays a real handshake between two Connections, recording each frame."""
    from multiprocessing import connection as mc
    key = b"peekaboo"
    s1, s2 = socket.socketpair()
    server, client = mc.Connection(s1.detach()), mc.Connection(s2.detach())
    frames = []
    recorder_send = client.send_bytes

    def record(buf, *a):
        frames.append(bytes(buf))
        return recorder_send(buf, *a)

    client.send_bytes = record  # the answers the client sends
    t = threading.Thread(target=lambda: (mc.deliver_challenge(server, key), mc.answer_challenge(server, key)))
    t.start()
    # The client receives the server's challenge first; record it through recv_bytes.
    orig_recv = client.recv_bytes

    def recv(*a):
        data = orig_recv(*a)
        frames.append(data)
        return data

    client.recv_bytes = recv
    mc.answer_challenge(client, key)
    mc.deliver_challenge(client, key)
    t.join()
    # frames: challenge, reply, welcome, (client's) challenge, server reply, welcome
    challenge, reply = frames[0], frames[1]
    write(out, bytes([len(key), len(reply)]) + key + reply + challenge)
    write(out, bytes([len(key), 0]) + key + challenge)
    write(out, bytes([0, len(reply)]) + reply + challenge)
    # The recipe-9 shape: a 32-byte challenge and its raw HMAC-MD5.
    import hmac
    msg = os.urandom(32)
    write(out, bytes([len(key), 16]) + key + hmac.new(key, msg, "md5").digest() + msg)


def sntp_packet(out):
    # What SNTP clients send: LI=0, VN=3 or 4, mode 3, the transmit timestamp set.
    for vn in (1, 3, 4):
        ts = int((time.time() + 2208988800) * 2**32)
        write(out, bytes([(vn << 3) | 3]) + bytes(39) + struct.pack("!Q", ts))
    write(out, b"\x1b" + 47 * b"\0")  # ntpdate's classic request
    write(out, b"hello")  # a recipe-3 client sends anything
    write(out, b"\x24" + bytes(47))  # a server-mode packet


def http_headers(out):
    """Header values a real client sends (captured from urllib), each on its own, plus
    whole request heads and masked WebSocket client frames."""
    import base64
    import urllib.request
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    port = srv.getsockname()[1]
    heads = []

    def serve():
        for _ in range(3):
            c, _ = srv.accept()
            c.settimeout(2)
            data = b""
            while b"\r\n\r\n" not in data:
                data += c.recv(4096)
            heads.append(data)
            c.sendall(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            c.close()

    t = threading.Thread(target=serve)
    t.start()
    auth = "Basic " + base64.b64encode(b"user:passwd").decode()
    for headers in [{"Range": "bytes=0-99", "Cookie": "k1=v1; k2=v2"},
                    {"Authorization": auth, "Range": "bytes=-5,10-"},
                    {"Authorization": "Bearer abc.def", "Cookie": "session=x=y"}]:
        urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/status/200,201:3", headers=headers)).read()
    t.join()
    for head in heads:
        write(out, head)
        for line in head.split(b"\r\n")[1:]:
            if b": " in line:
                write(out, line.split(b": ", 1)[1])
    digest = ('Digest username="user", realm="me@kennethreitz.com", nonce="abc", uri="/digest-auth/auth/user/passwd", '
              'algorithm=MD5, response="0123456789abcdef0123456789abcdef", opaque="xyz", qop=auth, nc=00000001, cnonce="c"')
    for value in [digest, "200:0.5,404:2", "418", "bytes=5-", "bytes=0-0,-1", "content-type"]:
        write(out, value.encode())
    for opcode, payload in [(1, b"hello"), (2, bytes(200)), (8, b"\x03\xe8"), (9, b"")]:
        mask = b"\x11\x22\x33\x44"
        n = len(payload)
        head = bytes([0x80 | opcode]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack("!H", n))
        write(out, head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))


def cidr_parse(out):
    import ipaddress as ip
    items = [ip.ip_network("10.0.0.0/8"), ip.ip_network("192.168.1.0/24"), ip.ip_network("0.0.0.0/0"),
             ip.ip_network("2001:db8::/32"), ip.ip_network("::/0"), ip.ip_network("::ffff:1.2.3.4/128"),
             ip.ip_interface("10.1.2.3/16"), ip.ip_interface("fe80::1%eth0/64"), ip.ip_address("255.255.255.255"),
             ip.ip_address("::1"), ip.ip_address("2001:db8::8:800:200c:417a")]
    for x in items:
        write(out, str(x).encode())
        if hasattr(x, "with_netmask"):
            write(out, x.with_netmask.encode())
            write(out, x.with_hostmask.encode())
        if hasattr(x, "exploded"):
            write(out, x.exploded.encode())
    for s in ["1.2.3.4/255.255.0.0", "10.0.0.1/8", "1.2.3", "::1:2:3:4:5:6:7", "01.2.3.4", "1.2.3.4/33"]:
        write(out, s.encode())


def bulk_header(out, netkit):
    """Listens like a bulk receiver, keeps the first bytes `netkit bulk send` writes."""
    import numpy as np
    tmp = tempfile.mkdtemp()
    files = {"raw.bin": None}  # name -> array written there
    with open(os.path.join(tmp, "raw.bin"), "wb") as f:
        f.write(os.urandom(100))
    for name, arr in [("f64.npy", np.arange(6, dtype="<f8").reshape(2, 3)),
                      ("u8f.npy", np.asfortranarray(np.zeros((3, 2), dtype=np.uint8))),
                      ("rec.npy", np.zeros(2, dtype=[("a", "<i4"), ("b", "S3")]))]:
        np.save(os.path.join(tmp, name), arr)
        files[name] = arr
    for name in files:
        for streams in (1, 2):
            srv = socket.socket()
            srv.bind(("127.0.0.1", 0))
            srv.listen()
            srv.settimeout(5)
            port = srv.getsockname()[1]
            proc = subprocess.Popen([netkit, "bulk", "send", os.path.join(tmp, name), f"127.0.0.1:{port}",
                                     "--streams", str(streams), "--timeout", "2"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for _ in range(streams):
                try:
                    c, _ = srv.accept()
                except socket.timeout:
                    break
                c.settimeout(1)
                data = b""
                try:
                    while len(data) < 4096:
                        chunk = c.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                except socket.timeout:
                    pass
                write(out, data[:4096])
                c.close()
            proc.kill()
            proc.wait()
            srv.close()
    # The receiver's replies (src/bulk/header.rs Reply), by hand: OK with a checksum, an error.
    write(out, b"NKOK" + struct.pack("!Q", 0x0123456789ABCDEF))
    write(out, b"NKER" + struct.pack("!H", 13) + b"disk is full!")


if __name__ == "__main__":
    mode, out = sys.argv[1], sys.argv[2]
    globals()[mode](out, *sys.argv[3:])
    print(f"{mode}: {len(os.listdir(out))} seeds in {out}")
