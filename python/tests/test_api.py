"""netkit's Python API against the installed binary: real processes, real sockets."""

import json
import os
import pickle
import re
import signal
import socket
import ssl
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
import xmlrpc.client
from multiprocessing.connection import Client

import pytest

import netkit
from netkit._server import _error_line, _flag_args

CTIME = re.compile(r"^[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}$")


def get_json(url, context=None):
    with urllib.request.urlopen(url, timeout=10, context=context) as reply:
        return json.loads(reply.read().decode())


def echo_roundtrip(address, payload, context=None, server_hostname=None):
    with socket.create_connection(address, timeout=10) as raw:
        sock = context.wrap_socket(raw, server_hostname=server_hostname) if context else raw
        sock.sendall(payload)
        received = b""
        while len(received) < len(payload):
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
        return received


def test_binary_is_the_installed_netkit_of_this_version():
    exe = netkit.binary()
    assert os.path.basename(exe) == "netkit"
    out = subprocess.run([exe, "--version"], stdout=subprocess.PIPE, check=True).stdout
    assert out.decode().strip() == f"netkit {netkit.__version__}"


def test_netkit_binary_variable_overrides_the_search(monkeypatch, tmp_path):
    copy = tmp_path / "netkit"
    copy.write_bytes(open(netkit.binary(), "rb").read())
    copy.chmod(0o755)
    monkeypatch.setenv("NETKIT_BINARY", str(copy))
    assert netkit.binary() == str(copy)
    with netkit.Server(echo=True) as server:
        assert os.readlink(f"/proc/{server.pid}/exe") == str(copy)
    monkeypatch.setenv("NETKIT_BINARY", str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match="NETKIT_BINARY=.*missing is not an executable"):
        netkit.binary()


def test_python_m_netkit_runs_the_binary():
    out = subprocess.run(
        [sys.executable, "-m", "netkit", "cidr", "info", "10.0.0.0/30", "--json"],
        stdout=subprocess.PIPE,
        check=True,
    ).stdout
    assert json.loads(out.decode())["num_addresses"] == 4


def test_server_parses_listening_lines_and_serves_echo_and_http():
    with netkit.Server(echo=True, http=True) as server:
        assert server.services == ["echo", "http"]
        host, port = server.address("echo")
        assert host == "127.0.0.1" and port > 0
        assert server.url("echo") == f"tcp://127.0.0.1:{port}"
        assert server.scheme("http") == "http"
        assert echo_roundtrip(server.address("echo"), b"hello netkit\n") == b"hello netkit\n"
        body = get_json(server.url("http") + "/get?x=1")
        assert body["args"] == {"x": "1"}
        assert body["url"] == server.url("http") + "/get?x=1"
        pid = server.pid
    assert server.returncode == 0  # SIGTERM: drained and exited 0
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@pytest.mark.skipif(not socket.has_ipv6, reason="no IPv6")
def test_ipv6_host():
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("no ::1 on this machine")
    with netkit.Server(echo=True, host="::1") as server:
        host, port = server.address("echo")
        assert host == "::1"
        assert server.url("echo") == f"tcp://[::1]:{port}"
        with socket.create_connection(server.address("echo"), timeout=10) as sock:
            sock.sendall(b"v6")
            assert sock.recv(2) == b"v6"


def test_unknown_service_name_lists_what_is_served():
    with netkit.Server(echo=True) as server:
        with pytest.raises(KeyError, match="'http' is not served here \\(serving: echo\\)"):
            server.url("http")


def test_no_service_is_a_value_error():
    with pytest.raises(ValueError, match="name at least one service"):
        netkit.Server()


def test_port_in_use_raises_with_netkits_stderr_line_and_exit_code():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(netkit.NetkitError) as caught:
            netkit.Server(echo=f"127.0.0.1:{port}").start()
    error = caught.value
    assert error.returncode == 2
    assert error.message.startswith(f"netkit: echo: cannot bind 127.0.0.1:{port}: "), error.message
    assert error.message in error.stderr
    assert str(error) == "netkit serve exited with code 2: " + error.message
    assert error.command[1:4] == ["serve", "--echo", f"127.0.0.1:{port}"]


def test_error_line_is_found_among_log_lines():
    error = "netkit: echo: cannot bind 127.0.0.1:1: Permission denied (os error 13)"
    logs = "2026-12-07T04:00:00Z  INFO netkit::serve: starting\n" + error + "\n"
    assert _error_line(logs) == error
    record = '{"level":"ERROR","fields":{"message":"netkit: bad config"},"target":"netkit"}'
    assert _error_line('{"level":"INFO","fields":{"message":"starting"}}\n' + record) == (
        "netkit: bad config"
    )
    assert _error_line("error: a\n\nUsage: netkit serve\n") == "error: a"
    assert _error_line("") == "(nothing on stderr)"


def test_bad_flag_raises_with_clap_error_line():
    with pytest.raises(netkit.NetkitError) as caught:
        netkit.Server(echo=True, no_such_flag=True).start()
    assert caught.value.returncode == 2
    assert caught.value.message == "error: unexpected argument '--no-such-flag' found"


def test_silent_start_times_out_and_is_killed(monkeypatch, tmp_path):
    # A stand-in that never prints its listening line.
    fake = tmp_path / "netkit"
    fake.write_text("#!/bin/sh\necho 'still thinking' >&2\necho $$ > \"$0.pid\"\nexec sleep 30\n")
    fake.chmod(0o755)
    monkeypatch.setenv("NETKIT_BINARY", str(fake))
    with pytest.raises(netkit.NetkitError) as caught:
        netkit.Server(echo=True, timeout=0.5).start()
    assert caught.value.returncode is None
    assert caught.value.message == "no listening line for echo within 0.5 s"
    assert caught.value.stderr == "still thinking\n"
    assert str(caught.value) == "netkit serve did not start: " + caught.value.message
    pid = int((tmp_path / "netkit.pid").read_text())
    assert _gone(pid)


def test_flags_become_command_line_options():
    assert _flag_args(
        {
            "kv_store": "kv.redb",
            "max_connections": 10,
            "verbose": True,
            "grace": None,
            "tls": ["echo", "http"],
            "off": False,
        }
    ) == ["--kv-store", "kv.redb", "--max-connections", "10", "--verbose", "--tls", "echo,http"]


def test_tls_true_generates_a_ca_and_serves_https_and_tls_echo():
    with netkit.Server(echo=True, http=True, tls=True) as server:
        assert server.scheme("http") == "https"
        assert server.scheme("echo") == "tls"
        assert server.ca is not None and os.path.isfile(server.ca)
        context = ssl.create_default_context(cafile=server.ca)
        body = get_json(server.url("http") + "/get", context=context)
        assert body["url"] == server.url("http") + "/get"
        assert (
            echo_roundtrip(
                server.address("echo"), b"over tls", context, server_hostname="127.0.0.1"
            )
            == b"over tls"
        )
        tmp = os.path.dirname(os.path.dirname(server.ca))
    assert not os.path.exists(tmp)  # the generated certificates are removed on stop


def test_tls_services_narrows_tls():
    with netkit.Server(echo=True, http=True, tls=True, tls_services=["http"]) as server:
        assert (server.scheme("echo"), server.scheme("http")) == ("tcp", "https")


def test_conn_and_rpc_with_authkey():
    with netkit.Server(conn=True, rpc=True, authkey="peekaboo") as server:
        with Client(server.address("conn"), authkey=b"peekaboo") as conn:
            conn.send({"a": [1, 2, 3]})
            assert conn.recv() == {"a": [1, 2, 3]}
        # The recipe's RPCProxy: a pickled (name, args, kwargs) in, a pickled result out.
        with Client(server.address("rpc"), authkey=b"peekaboo") as rpc:
            rpc.send(pickle.dumps(("add", (2, 3), {})))
            assert pickle.loads(rpc.recv()) == 5


def test_xmlrpc_with_a_store_file(tmp_path):
    store = tmp_path / "kv.redb"
    with netkit.Server(xmlrpc=True, kv_store=store) as server:
        proxy = xmlrpc.client.ServerProxy(server.url("xmlrpc"))
        proxy.set("foo", "bar")
        assert proxy.get("foo") == "bar"
    with netkit.Server(xmlrpc=True, kv_store=store) as server:  # it kept the value
        assert xmlrpc.client.ServerProxy(server.url("xmlrpc")).get("foo") == "bar"


def test_time_over_udp():
    with netkit.Server(time=True) as server:
        assert server.scheme("time") == "udp"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.settimeout(10)
            udp.sendto(b"", server.address("time"))
            text = udp.recvfrom(8192)[0].decode()
        assert CTIME.match(text.strip()), text


def test_handoff_with_netkits_own_workers():
    with netkit.Server(handoff=True, handoff_workers=2, authkey="peekaboo") as server:
        assert server.handoff_socket is not None and os.path.exists(server.handoff_socket)
        for i in range(4):  # round-robin over both workers
            payload = f"client {i}\n".encode()
            assert echo_roundtrip(server.address("handoff"), payload) == payload


def test_server_started_from_a_thread_outlives_the_thread():
    # PDEATHSIG is per thread: a server started from a thread that has ended must live on.
    holder = []
    thread = threading.Thread(target=lambda: holder.append(netkit.Server(echo=True)))
    thread.start()
    thread.join()
    server = holder[0]
    starter = threading.Thread(target=server.start)
    starter.start()
    starter.join()
    try:
        time.sleep(0.2)
        assert server.returncode is None
        assert echo_roundtrip(server.address("echo"), b"still here") == b"still here"
    finally:
        server.stop()


def _gone(pid):
    """True once pid has exited (a zombie nobody reaps counts as exited)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
@pytest.mark.parametrize(
    "sig, start",
    [
        (signal.SIGKILL, "server.start()"),
        (signal.SIGTERM, "server.start()"),
        # Started from a thread that has ended: the spawner thread forked it.
        (signal.SIGKILL, "t = threading.Thread(target=server.start); t.start(); t.join()"),
    ],
    ids=["kill-9", "sigterm", "kill-9-thread-started"],
)
def test_no_orphan_after_the_interpreter_is_killed(sig, start):
    script = textwrap.dedent(
        """
        import sys, threading, time, netkit
        server = netkit.Server(echo=True, http=True)
        START
        print(server.pid, server.address("echo")[1], flush=True)
        time.sleep(60)
        """
    ).replace("START", start)
    python = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    try:
        line = python.stdout.readline().decode()
        pid, port = (int(x) for x in line.split())
        assert echo_roundtrip(("127.0.0.1", port), b"up") == b"up"
        python.send_signal(sig)
        python.wait(10)
        deadline = time.monotonic() + 15
        while not _gone(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _gone(pid), f"netkit {pid} outlived its interpreter"
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5)
    finally:
        python.kill()
        python.wait()
