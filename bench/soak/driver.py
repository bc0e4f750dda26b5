#!/usr/bin/env python3
"""Load and faults for bench/soak.sh: every netkit service at once, with Python's own
clients (stdlib only), for --duration seconds; then the checks.

It owns the XML-RPC server (a separate `netkit serve --xmlrpc` on a redb file, so the
store can be restarted mid-run). The other servers are started by soak.sh and named by
their ports and pid. Every loop ends by itself at the deadline; every socket has a timeout.
Writes one JSON object per check to --checks (check, expected, observed, ok).
"""
import argparse
import hashlib
import http.client
import json
import os
import pickle
import random
import signal
import socket
import struct
import subprocess
import threading
import time
import xmlrpc.client
from multiprocessing.connection import Client

AUTHKEY = b"peekaboo"
TIMEOUT = 10  # seconds any single socket operation may take before it counts as an error


class Stats:
    """Per-load counters: ok operations, errors (connection-level, expected around faults)
    and mismatches (a wrong answer: never expected)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {}
        self.notes = {}

    def add(self, name, kind, n=1, note=None):
        with self.lock:
            c = self.counts.setdefault(name, {"ok": 0, "errors": 0, "mismatches": 0})
            c[kind] += n
            if note and kind != "ok":
                self.notes.setdefault(name, note)


def rst_close(sock):
    """Closes with a reset, as a killed client's kernel would."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


def recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError(f"closed after {len(buf)} of {n} bytes")
        buf += chunk
    return bytes(buf)


def proc_sample(pid):
    """(open fds, VmRSS KiB) of a process, from /proc."""
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    with open(f"/proc/{pid}/status") as f:
        rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    return fds, rss


def children(pid):
    """Child processes, whichever thread of the runtime started them."""
    found = []
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found += [int(p) for p in f.read().split()]
        except OSError:
            pass  # the thread ended meanwhile
    return found


class Soak:
    def __init__(self, a):
        self.a = a
        self.deadline = time.monotonic() + a.duration
        self.stats = Stats()
        self.rng = random.Random(a.seed)
        self.acked = {}  # XML-RPC key -> value whose set() was acknowledged
        self.acked_lock = threading.Lock()
        self.kv = None  # the XML-RPC server process
        self.kv_restarts = 0
        self.kv_exit_codes = []
        self.faults = {}
        self.samples = {}
        self.checks = []

    def live(self):
        return time.monotonic() < self.deadline

    def pause(self, seconds):
        time.sleep(max(0, min(seconds, self.deadline - time.monotonic())))

    # ---- the XML-RPC server we own ----
    def start_kv(self, port=0):
        log = open(os.path.join(self.a.work, "kv.err"), "ab")
        self.kv = subprocess.Popen(
            [self.a.netkit, "serve", "--xmlrpc", f"127.0.0.1:{port}", "--kv-store",
             os.path.join(self.a.work, "kv.redb")],
            stdout=subprocess.PIPE, stderr=log)
        line = self.kv.stdout.readline().decode()
        if "listening on" not in line:
            raise RuntimeError(f"xmlrpc server did not start: {line!r}")
        return int(line.rsplit(":", 1)[1].strip("/\n "))

    def stop_kv(self):
        self.kv.send_signal(signal.SIGTERM)
        try:
            self.kv_exit_codes.append(self.kv.wait(timeout=15))
        except subprocess.TimeoutExpired:
            self.kv.kill()
            self.kv_exit_codes.append("hung")
            self.kv.wait()

    # ---- load loops: each ends at the deadline ----
    def echo_loop(self, name, port):
        rng = random.Random(hash((name, threading.get_ident())))
        while self.live():
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as s:
                    for _ in range(rng.randrange(1, 50)):
                        if not self.live():
                            break
                        msg = rng.randbytes(rng.choice([1, 64, 1500, 70000]))
                        s.sendall(msg)
                        got = recv_exact(s, len(msg))
                        if got == msg:
                            self.stats.add(name, "ok")
                        else:
                            self.stats.add(name, "mismatches", note="echo differs")
            except OSError as e:
                # A killed worker takes its connections with it: an error, not a mismatch.
                self.stats.add(name, "errors", note=repr(e))
                self.pause(0.05)

    def time_loop(self, port):
        rng = random.Random(7)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(2)
            while self.live():
                sntp = rng.random() < 0.5
                msg = (b"\x23" + bytes(39) + struct.pack("!Q", rng.getrandbits(64))) if sntp else b"hi"
                try:
                    s.sendto(msg, ("127.0.0.1", port))
                    reply, _ = s.recvfrom(1024)
                except OSError as e:
                    self.stats.add("time", "errors", note=repr(e))
                    continue
                good = (len(reply) == 48 and reply[24:32] == msg[40:48]) if sntp else len(reply) == 24
                self.stats.add("time", "ok" if good else "mismatches", note=f"reply {reply[:60]!r}")
                time.sleep(0.002)

    def http_loop(self, port):
        rng = random.Random(11)
        while self.live():
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
            try:
                for _ in range(20):
                    if not self.live():
                        break
                    name = "n%d" % rng.randrange(10**6)
                    body = rng.randbytes(rng.choice([0, 100, 5000])).hex()
                    c.request("POST", f"/post?name={name}", body=body, headers={"Content-Type": "text/plain"})
                    r = c.getresponse()
                    data = json.loads(r.read())
                    c.request("GET", f"/hello?name={name}")
                    r2 = c.getresponse()
                    hello = r2.read()
                    good = r.status == 200 and data.get("data") == body and r2.status == 200 and name.encode() in hello
                    self.stats.add("http", "ok" if good else "mismatches", note=f"{r.status} {hello[:80]!r}")
            except (OSError, http.client.HTTPException, ValueError) as e:
                self.stats.add("http", "errors", note=repr(e))
            finally:
                c.close()

    def xmlrpc_loop(self, worker):
        seq = 0
        rng = random.Random(worker)
        while self.live():
            proxy = xmlrpc.client.ServerProxy(f"http://127.0.0.1:{self.kv_port}", allow_none=True)
            try:
                while self.live():
                    seq += 1
                    # A key per write: an unacknowledged write can't mask an acknowledged one.
                    key, value = f"w{worker}-{seq}", [seq, rng.random(), "x" * rng.randrange(100)]
                    proxy.set(key, value)
                    with self.acked_lock:
                        self.acked[key] = value
                    self.stats.add("xmlrpc", "ok")
                    with self.acked_lock:
                        probe = self.rng.choice(list(self.acked.items()))
                    got = proxy.get(probe[0])
                    if got != probe[1]:
                        self.stats.add("xmlrpc", "mismatches", note=f"{probe} read {got!r}")
            except (OSError, xmlrpc.client.Error, http.client.HTTPException) as e:
                # The store is restarting: retry on a new connection.
                self.stats.add("xmlrpc", "errors", note=repr(e))
                self.pause(0.1)

    def conn_loop(self):
        rng = random.Random(13)
        while self.live():
            try:
                with Client(("127.0.0.1", self.a.conn), authkey=AUTHKEY) as c:
                    for _ in range(200):
                        if not self.live():
                            break
                        v = rng.choice([None, 1, "é" * rng.randrange(9), b"x" * rng.randrange(3000),
                                        (1, 2.5, [True]), {"k": list(range(rng.randrange(50)))}])
                        c.send(v)
                        got = c.recv()
                        self.stats.add("conn", "ok" if got == v else "mismatches", note=f"{v!r} -> {got!r}")
            except (OSError, EOFError) as e:
                self.stats.add("conn", "errors", note=repr(e))

    def rpc_loop(self):
        rng = random.Random(17)
        while self.live():
            try:
                with Client(("127.0.0.1", self.a.rpc), authkey=AUTHKEY) as c:
                    for _ in range(200):
                        if not self.live():
                            break
                        x, y = rng.randrange(-10**6, 10**6), rng.randrange(10**6)
                        fn = rng.choice(["add", "sub"])
                        c.send(pickle.dumps((fn, (x, y), {})))
                        got = pickle.loads(c.recv())
                        want = x + y if fn == "add" else x - y
                        self.stats.add("rpc", "ok" if got == want else "mismatches", note=f"{fn}{x, y} -> {got!r}")
            except (OSError, EOFError, pickle.UnpicklingError) as e:
                self.stats.add("rpc", "errors", note=repr(e))

    def bulk_loop(self):
        src = os.path.join(self.a.work, "bulk.src")
        with open(src, "wb") as f:
            f.write(random.Random(19).randbytes(4 << 20))
        want = hashlib.sha256(open(src, "rb").read()).hexdigest()
        while self.live():
            r = subprocess.run([self.a.netkit, "bulk", "send", src, f"127.0.0.1:{self.a.bulk}",
                                "--streams", "2", "--timeout", "20"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)
            if r.returncode != 0:
                self.stats.add("bulk", "errors", note=r.stderr.decode()[-200:])
                self.pause(0.5)
                continue
            got = hashlib.sha256(open(self.a.bulk_out, "rb").read()).hexdigest()
            self.stats.add("bulk", "ok" if got == want else "mismatches", note="received file differs")
            self.pause(0.2)

    # ---- faults ----
    def fault(self, name, fn):
        try:
            fn()
            self.faults[name] = self.faults.get(name, 0) + 1
        except Exception as e:  # a fault that can't be injected is reported, not fatal
            self.faults.setdefault(name + " (failed: %r)" % e, 0)

    def tcp_ports(self):
        return {"echo": self.a.echo, "http": self.a.http, "conn": self.a.conn, "rpc": self.a.rpc,
                "handoff": self.a.handoff, "xmlrpc": self.kv_port, "bulk": self.a.bulk}

    def kill_mid_frame(self):
        for port, frame in [(self.a.echo, b"x" * 5000), (self.a.handoff, b"y" * 5000),
                            (self.a.http, b"POST /post HTTP/1.1\r\nHost: x\r\nContent-Length: 9999\r\n\r\nabc"),
                            (self.kv_port, b"POST /RPC2 HTTP/1.1\r\nContent-Length: 500\r\n\r\n<?xml"),
                            (self.a.conn, struct.pack("!i", 1000) + b"\x80\x04partial")]:
            s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
            s.sendall(frame)
            rst_close(s)
        # Past the handshake: a pickled frame cut in the middle, then a reset.
        c = Client(("127.0.0.1", self.a.rpc), authkey=AUTHKEY)
        sock = socket.socket(fileno=os.dup(c.fileno()))
        c.close()
        sock.sendall(struct.pack("!i", 64) + pickle.dumps(("add", (1, 2), {}))[:20])
        rst_close(sock)

    def truncated_and_oversized(self):
        for port in (self.a.conn, self.a.rpc):
            c = Client(("127.0.0.1", port), authkey=AUTHKEY)
            sock = socket.socket(fileno=os.dup(c.fileno()))
            c.close()
            sock.settimeout(TIMEOUT)
            # Oversized: 1 GiB declared, past --max-frame: the server must hang up.
            sock.sendall(struct.pack("!i", 1 << 30) + b"zz")
            if sock.recv(100) not in (b"",):
                raise RuntimeError("oversized frame got an answer")
            sock.close()
            # Truncated: half a frame, then FIN.
            c = Client(("127.0.0.1", port), authkey=AUTHKEY)
            sock = socket.socket(fileno=os.dup(c.fileno()))
            c.close()
            sock.sendall(struct.pack("!i", 100) + b"\x80\x04half")
            sock.shutdown(socket.SHUT_WR)
            sock.settimeout(TIMEOUT)
            sock.recv(100)
            sock.close()
        big = b"<?xml version='1.0'?><methodCall><methodName>set</methodName>" + b" " * (2 << 20)
        s = socket.create_connection(("127.0.0.1", self.kv_port), timeout=TIMEOUT)
        try:
            s.sendall(b"POST /RPC2 HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(big) + big)
        except OSError:
            pass  # refused before the end: fine
        s.close()

    def garbage(self):
        rng = random.Random(self.rng.random())
        for port in self.tcp_ports().values():
            s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
            try:
                s.sendall(rng.randbytes(rng.randrange(1, 4096)))
                s.shutdown(socket.SHUT_WR)
                s.recv(65536)  # whatever the service answers, or its close
            except OSError:
                pass
            s.close()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            for n in (0, 1, 47, 48, 49, 1400):
                u.sendto(rng.randbytes(n), ("127.0.0.1", self.a.time))
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(TIMEOUT)
            s.connect(self.a.handoff_socket)
            s.sendall(rng.randbytes(300))

    def slowloris(self):
        """A header byte a second on many connections: the server must close them at its
        header timeout while the HTTP load goes on."""
        socks = []
        for _ in range(50):
            s = socket.create_connection(("127.0.0.1", self.a.http), timeout=TIMEOUT)
            s.sendall(b"GET /get HTTP/1.1\r\nHost: x\r\n")
            socks.append(s)
        closed = 0
        give_up = time.monotonic() + self.a.header_timeout + 10
        while socks and time.monotonic() < give_up:
            time.sleep(1)
            for s in list(socks):
                try:
                    s.sendall(b"X-a: b\r\n")
                    s.setblocking(False)
                    if s.recv(4096) == b"":
                        raise ConnectionError
                except BlockingIOError:
                    continue
                except OSError:
                    pass
                closed += 1
                socks.remove(s)
                s.close()
        for s in socks:
            s.close()
        self.slowloris_closed = (closed, closed + len(socks))

    def kill_worker(self):
        workers = children(self.a.serve_pid)
        if not workers:
            raise RuntimeError("no worker processes")
        os.kill(self.rng.choice(workers), signal.SIGKILL)

    def sighup(self):
        os.kill(self.a.serve_pid, signal.SIGHUP)

    def restart_kv(self):
        self.stop_kv()
        self.kv_restarts += 1
        self.start_kv(self.kv_port)

    def fault_loop(self):
        plan = [("clients killed mid-frame", self.kill_mid_frame),
                ("truncated + oversized frames", self.truncated_and_oversized),
                ("garbage on every port", self.garbage),
                ("worker kill -9", self.kill_worker),
                ("KV store restart", self.restart_kv),
                ("SIGHUP (new worker generation)", self.sighup),
                ("slowloris on HTTP", lambda: threading.Thread(target=self.slowloris).start())]
        start = time.monotonic()
        end = self.deadline - self.a.duration * 0.2  # the last fifth runs clean
        step = (end - start - self.a.warmup) / (2 * len(plan))
        self.pause(self.a.warmup)
        for i in range(2 * len(plan)):  # every fault twice
            if not self.live():
                break
            name, fn = plan[i % len(plan)]
            self.fault(name, fn)
            self.pause(step)

    # ---- the run ----
    def run(self):
        self.kv_port = self.start_kv()
        loops = [("echo", self.echo_loop, ("echo (--workers)", self.a.echo))] * 3
        loops += [("handoff", self.echo_loop, ("echo (handoff)", self.a.handoff))] * 2
        loops += [("time", self.time_loop, (self.a.time,)), ("http", self.http_loop, (self.a.http,)),
                  ("http", self.http_loop, (self.a.http,)), ("xmlrpc", self.xmlrpc_loop, (1,)),
                  ("xmlrpc", self.xmlrpc_loop, (2,)), ("conn", self.conn_loop, ()),
                  ("rpc", self.rpc_loop, ()), ("bulk", self.bulk_loop, ()),
                  ("faults", self.fault_loop, ())]
        threads = [threading.Thread(target=fn, args=args, name=n, daemon=True) for n, fn, args in loops]
        for t in threads:
            t.start()
        time.sleep(self.a.warmup)
        self.samples["warm"] = proc_sample(self.a.serve_pid)
        self.pause(self.a.duration / 2 - self.a.warmup)
        self.samples["middle"] = proc_sample(self.a.serve_pid)
        for t in threads:
            t.join(timeout=max(0, self.deadline - time.monotonic()) + 60)
        stuck = [t.name for t in threads if t.is_alive()]
        # Let slowloris and killed clients' connections be closed, then the end sample.
        time.sleep(self.a.header_timeout + 2)
        self.samples["end"] = proc_sample(self.a.serve_pid)
        self.check_everything(stuck)

    def check(self, name, expected, observed, ok):
        self.checks.append({"check": name, "expected": expected, "observed": observed, "ok": bool(ok)})

    def check_everything(self, stuck):
        self.check("load loops ended by themselves", "none left", ", ".join(stuck) or "none left", not stuck)
        for name, c in sorted(self.stats.counts.items()):
            note = self.stats.notes.get(name, "")
            observed = f"{c['ok']} ok, {c['errors']} errors, {c['mismatches']} wrong"
            if c["mismatches"]:
                observed += f" ({note[:60]})"
            self.check(f"{name}: answers exact", ">0 ok, 0 wrong", observed, c["ok"] > 0 and not c["mismatches"])
        for name in ("echo (--workers)", "echo (handoff)", "time", "http", "xmlrpc", "conn", "rpc", "bulk"):
            if name not in self.stats.counts:
                self.check(f"{name}: answers exact", ">0 ok, 0 wrong", "no traffic", False)
        # Every acknowledged write reads back, after the restarts, on a fresh connection.
        proxy = xmlrpc.client.ServerProxy(f"http://127.0.0.1:{self.kv_port}", allow_none=True)
        missing = 0
        with self.acked_lock:
            acked = dict(self.acked)
        for key, value in acked.items():
            try:
                if proxy.get(key) != value:
                    missing += 1
            except xmlrpc.client.Fault:
                missing += 1
        self.check("xmlrpc: acknowledged writes read back", f"{len(acked)}/{len(acked)}",
                   f"{len(acked) - missing}/{len(acked)} after {self.kv_restarts} restarts",
                   not missing and acked and self.kv_restarts > 0)
        for name in ["clients killed mid-frame", "truncated + oversized frames", "garbage on every port",
                     "worker kill -9", "KV store restart", "SIGHUP (new worker generation)", "slowloris on HTTP"]:
            n = self.faults.get(name, 0)
            failed = [k for k in self.faults if k.startswith(name + " (failed")]
            self.check(f"fault injected: {name}", ">= 1", f"{n}" + (f" {failed[0][len(name):][:60]}" if failed else ""),
                       n > 0 and not failed)
        closed, total = getattr(self, "slowloris_closed", (0, 0))
        self.check("slowloris connections closed by server", f"{total}/{total}", f"{closed}/{total}",
                   total and closed == total)
        workers = children(self.a.serve_pid)
        self.check("--workers back to full strength", str(self.a.workers), str(len(workers)),
                   len(workers) == self.a.workers)
        (fd0, rss0), (fd1, rss1) = self.samples["warm"], self.samples["end"]
        self.check("serve fds: warm -> middle -> end", f"end <= warm + {self.a.fd_slack}",
                   f"{fd0} -> {self.samples['middle'][0]} -> {fd1}", fd1 <= fd0 + self.a.fd_slack)
        self.check("serve RSS MiB: warm -> middle -> end", f"end <= warm + {self.a.rss_slack_mib}",
                   f"{rss0 / 1024:.1f} -> {self.samples['middle'][1] / 1024:.1f} -> {rss1 / 1024:.1f}",
                   rss1 <= rss0 + self.a.rss_slack_mib * 1024)
        self.stop_kv()
        self.check("xmlrpc server exit codes on SIGTERM", "all 0", " ".join(map(str, self.kv_exit_codes)),
                   all(c == 0 for c in self.kv_exit_codes))


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--netkit", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--duration", type=float, required=True)
    p.add_argument("--warmup", type=float, default=5)
    p.add_argument("--serve-pid", type=int, required=True)
    p.add_argument("--workers", type=int, required=True)
    for port in ("echo", "time", "http", "conn", "rpc", "handoff", "bulk"):
        p.add_argument(f"--{port}", type=int, required=True)
    p.add_argument("--handoff-socket", required=True)
    p.add_argument("--bulk-out", required=True)
    p.add_argument("--header-timeout", type=float, required=True)
    p.add_argument("--fd-slack", type=int, default=16)
    p.add_argument("--rss-slack-mib", type=int, default=64)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--checks", required=True)
    a = p.parse_args()
    soak = Soak(a)
    soak.run()
    with open(a.checks, "a") as f:
        for c in soak.checks:
            f.write(json.dumps(c) + "\n")


if __name__ == "__main__":
    main()
