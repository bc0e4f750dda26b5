"""Run ``netkit serve`` as a child process: start, parse its listening lines, stop."""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from typing import (
    IO,
    Any,
    Callable,
    Dict,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Union,
)

from ._find import binary

__all__ = ["NetkitError", "Server", "SERVICES", "TLSFiles", "generate_tls"]

#: The services ``netkit serve`` can start, in the order of its flags.
SERVICES = ("echo", "time", "http", "xmlrpc", "conn", "rpc", "handoff")

# DESIGN.md §2 (contract): `netkit: <service> listening on <scheme>://<host>:<port>`.
_LISTENING = re.compile(
    r"^netkit: (?P<service>[a-z]+) listening on "
    r"(?P<scheme>[a-z]+)://(?P<host>\[[^\]]+\]|[^:/\s]+):(?P<port>\d+)$"
)

ServiceAddress = Union[bool, str, None]
PathLike = Union[str, "os.PathLike[str]"]
TLSOption = Union[bool, PathLike, Tuple[PathLike, PathLike], None]


class NetkitError(RuntimeError):
    """``netkit serve`` exited (or never became ready) while starting.

    ``message`` is netkit's own error line from stderr, ``returncode`` its exit code
    (2 for a bad flag or a port that can't be bound; ``None`` if it was still running
    when the start-up timeout expired and had to be killed), ``stderr`` everything it
    wrote there and ``command`` the command line.
    """

    def __init__(
        self,
        message: str,
        returncode: Optional[int],
        stderr: str,
        command: Sequence[str],
    ) -> None:
        self.message = message
        self.returncode = returncode
        self.stderr = stderr
        self.command = list(command)
        if returncode is None:
            text = f"netkit serve did not start: {message}"
        else:
            text = f"netkit serve exited with code {returncode}: {message}"
        super().__init__(text)


def _error_line(stderr: str) -> str:
    """netkit's one clear error line out of its stderr, where log lines may precede it.

    netkit prints failures as ``netkit: <what went wrong>`` (as a JSON log record's
    message with ``--log-format json``); clap's bad-flag message starts ``error:`` and its
    usage lines follow. Else the first non-empty line.
    """
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith("{"):
            try:
                message = json.loads(line).get("fields", {}).get("message", "")
            except (ValueError, AttributeError):
                continue
            if isinstance(message, str) and message.startswith("netkit: "):
                return message
        elif line.startswith("netkit: "):
            return line
    for line in lines:
        if line.startswith("error:"):
            return line
    return lines[0] if lines else "(nothing on stderr)"


class TLSFiles:
    """What ``netkit tls gen-cert --out DIR`` wrote: a local CA and leaf certificates for
    ``localhost`` and ``127.0.0.1``."""

    def __init__(self, directory: str) -> None:
        self.dir = directory
        self.ca = os.path.join(directory, "ca.pem")
        self.server_cert = os.path.join(directory, "server.pem")
        self.server_key = os.path.join(directory, "server.key")
        self.client_cert = os.path.join(directory, "client.pem")
        self.client_key = os.path.join(directory, "client.key")

    def __repr__(self) -> str:
        return f"<netkit.TLSFiles {self.dir}>"


def generate_tls(directory: str, exe: Optional[str] = None) -> TLSFiles:
    """Run ``netkit tls gen-cert --out directory``; raise :class:`NetkitError` if it fails."""
    command = [exe or binary(), "tls", "gen-cert", "--out", directory]
    done = subprocess.run(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    if done.returncode != 0:
        stderr = done.stderr.decode("utf-8", "replace")
        raise NetkitError(_error_line(stderr), done.returncode, stderr, command)
    return TLSFiles(directory)


# PR_SET_PDEATHSIG from <linux/prctl.h>: the kernel signals the child when the thread
# that forked it dies, whatever the way (kill -9 included), so netkit never outlives the
# interpreter. The flag survives execve.
_PR_SET_PDEATHSIG = 1


def _death_signal_preexec() -> Optional[Callable[[], None]]:
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)  # loaded before fork: nothing to load after it
    prctl = libc.prctl
    parent = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        # The parent may have died between fork and prctl: then nobody will signal us.
        if os.getppid() != parent:
            os._exit(1)

    return preexec


# PDEATHSIG fires when the forking *thread* ends, not the process. A server started
# from a short-lived thread is therefore spawned from this one long-lived thread.
_spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="netkit-spawn")


def _spawn(command: Sequence[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    def spawn() -> subprocess.Popen[bytes]:
        return subprocess.Popen(list(command), preexec_fn=_death_signal_preexec(), **kwargs)

    if threading.current_thread() is threading.main_thread():
        return spawn()
    return _spawner.submit(spawn).result()


def _stop_process(proc: subprocess.Popen[bytes], timeout: float) -> None:
    if proc.poll() is None:
        try:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        except ProcessLookupError:
            pass


def _cleanup(
    procs: List[subprocess.Popen[bytes]],
    files: List[IO[bytes]],
    tmpdir: Optional[str],
    timeout: float,
) -> None:
    # Workers first: they hold connections the server would otherwise wait for.
    for proc in reversed(procs):
        _stop_process(proc, timeout)
    for f in files:
        f.close()
    if tmpdir is not None:
        shutil.rmtree(tmpdir, ignore_errors=True)


def _flag_args(flags: Mapping[str, Any]) -> List[str]:
    args: List[str] = []
    for name, value in flags.items():
        if value is None or value is False:
            continue
        flag = "--" + name.replace("_", "-")
        if value is True:
            args.append(flag)
        elif isinstance(value, (list, tuple)):
            args += [flag, ",".join(str(v) for v in value)]
        else:
            args += [flag, os.fspath(value) if isinstance(value, os.PathLike) else str(value)]
    return args


def _host_port(host: str) -> str:
    if ":" in host and not host.startswith("["):
        return f"[{host}]:0"
    return f"{host}:0"


class Server:
    """``netkit serve`` with the named services, for as long as the ``with`` block runs.

    Each service argument is ``True`` (bind ``host`` on a free port), an explicit
    ``"HOST:PORT"``, or false (not started)::

        with netkit.Server(echo=True, http=True) as server:
            requests.get(server.url("http") + "/get")
            socket.create_connection(server.address("echo"))

    ``tls`` turns on TLS for the TCP services (``tls_services`` narrows them): ``True``
    makes a throw-away CA and server certificate with ``netkit tls gen-cert`` (its CA is
    then :attr:`ca`), a directory holding ``server.pem`` and ``server.key`` (gen-cert's
    output) uses those, and a ``(cert, key)`` pair names the files. ``authkey`` is the
    multiprocessing authkey of conn, rpc and handoff. Any other keyword becomes a flag of
    ``netkit serve``: ``kv_store="kv.redb"`` is ``--kv-store kv.redb``, ``True`` a bare
    flag, a list a comma-separated value. ``handoff=True`` also makes a Unix socket for
    the workers (:attr:`handoff_socket`, unless ``handoff_socket=`` names one) and starts
    ``handoff_workers`` of netkit's own ``handoff worker --service echo``.

    Start-up waits for every service's listening line. If netkit exits first, or prints
    nothing for ``timeout`` seconds, :class:`NetkitError` is raised with its stderr line
    and exit code. On exit from the block netkit gets SIGTERM (drain, exit 0) and, after
    ``stop_timeout`` seconds, SIGKILL. On Linux netkit also gets SIGTERM when the
    interpreter dies in any way, ``kill -9`` included.
    """

    def __init__(
        self,
        *,
        echo: ServiceAddress = False,
        time: ServiceAddress = False,
        http: ServiceAddress = False,
        xmlrpc: ServiceAddress = False,
        conn: ServiceAddress = False,
        rpc: ServiceAddress = False,
        handoff: ServiceAddress = False,
        tls: TLSOption = None,
        tls_services: Optional[Sequence[str]] = None,
        authkey: Union[str, bytes, None] = None,
        handoff_workers: int = 0,
        host: str = "127.0.0.1",
        timeout: float = 10.0,
        stop_timeout: float = 15.0,
        env: Optional[Mapping[str, str]] = None,
        **flags: Any,
    ) -> None:
        requested = {
            "echo": echo,
            "time": time,
            "http": http,
            "xmlrpc": xmlrpc,
            "conn": conn,
            "rpc": rpc,
            "handoff": handoff,
        }
        self._addresses: Dict[str, str] = {}
        for service, value in requested.items():
            if value is True:
                self._addresses[service] = _host_port(host)
            elif value:
                self._addresses[service] = str(value)
        if not self._addresses:
            raise ValueError("name at least one service, e.g. Server(http=True)")
        if handoff_workers and "handoff" not in self._addresses:
            raise ValueError("handoff_workers needs handoff=True")

        self._tls = tls
        self._tls_services = tls_services
        self._authkey = authkey
        self._handoff_workers = handoff_workers
        self._timeout = timeout
        self._stop_timeout = stop_timeout
        self._env = dict(env) if env is not None else None
        self._flags = dict(flags)

        self._tmpdir: Optional[str] = None
        self._proc: Optional[subprocess.Popen[bytes]] = None
        self._procs: List[subprocess.Popen[bytes]] = []
        self._files: List[IO[bytes]] = []
        self._stderr: Optional[IO[bytes]] = None
        self._finalizer: Optional[weakref.finalize[Any, Any]] = None
        self._urls: Dict[str, Tuple[str, str, int]] = {}
        #: Path of the CA certificate that signed the server's certificate, when known.
        self.ca: Optional[str] = None
        #: The Unix socket handoff workers connect to (``handoff=True`` only).
        self.handoff_socket: Optional[str] = None

    # -- lifecycle -------------------------------------------------------------------

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _mkdtemp(self) -> str:
        if self._tmpdir is None:
            self._tmpdir = tempfile.mkdtemp(prefix="netkit-")
        return self._tmpdir

    def _tls_args(self, exe: str) -> List[str]:
        tls = self._tls
        if tls is None or tls is False:
            return []
        if tls is True:
            tls = generate_tls(os.path.join(self._mkdtemp(), "tls"), exe).dir
        if isinstance(tls, tuple):
            cert, key = (os.fspath(p) for p in tls)
        else:
            directory = os.fspath(tls)
            cert = os.path.join(directory, "server.pem")
            key = os.path.join(directory, "server.key")
            ca = os.path.join(directory, "ca.pem")
            self.ca = ca if os.path.isfile(ca) else None
        args = ["--tls-cert", cert, "--tls-key", key]
        if self._tls_services:
            args += ["--tls", ",".join(self._tls_services)]
        return args

    def _command(self, exe: str) -> List[str]:
        command = [exe, "serve"]
        for service, address in self._addresses.items():
            command += ["--" + service, address]
        flags = dict(self._flags)
        if "handoff" in self._addresses:
            socket_path = flags.pop("handoff_socket", None)
            if socket_path is None:
                socket_path = os.path.join(self._mkdtemp(), "handoff.sock")
            self.handoff_socket = os.fspath(socket_path)
            command += ["--handoff-socket", self.handoff_socket]
        command += self._tls_args(exe)
        if self._authkey is not None:
            key = self._authkey
            command += ["--authkey", key.decode() if isinstance(key, bytes) else key]
        command += _flag_args(flags)
        return command

    def start(self) -> None:
        """Start netkit and wait for every listening line (see the class doc)."""
        if self._proc is not None:
            raise RuntimeError("this Server is already started")
        exe = binary()
        try:
            command = self._command(exe)
            self._stderr = tempfile.TemporaryFile(prefix="netkit-stderr-")
            self._files.append(self._stderr)
            env = None
            if self._env is not None:
                env = dict(os.environ)
                env.update(self._env)
            # stderr goes to a file: logs can never fill a pipe and block netkit, and the
            # error line is there to read when start-up fails.
            self._proc = _spawn(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                env=env,
            )
            self._procs.append(self._proc)
            self._finalizer = weakref.finalize(
                self,
                _cleanup,
                self._procs,
                self._files,
                self._tmpdir,
                self._stop_timeout,
            )
            self._wait_ready(command)
            for _ in range(self._handoff_workers):
                self._start_handoff_worker(exe)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, command: List[str]) -> None:
        proc = self._proc
        assert proc is not None and proc.stdout is not None
        expected = set(self._addresses)
        if self._flags.get("metrics"):
            expected.add("metrics")
        fd = proc.stdout.fileno()
        deadline = time.monotonic() + self._timeout
        buffered = b""
        while not expected.issubset(self._urls):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                proc.kill()
                proc.wait()
                missing = ", ".join(sorted(expected - set(self._urls)))
                raise NetkitError(
                    f"no listening line for {missing} within {self._timeout:g} s",
                    None,
                    self._stderr_text(),
                    command,
                )
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(fd, 4096)
            if not chunk:
                returncode = proc.wait()
                stderr = self._stderr_text()
                raise NetkitError(_error_line(stderr), returncode, stderr, command)
            buffered += chunk
            *lines, buffered = buffered.split(b"\n")
            for line in lines:
                match = _LISTENING.match(line.decode("utf-8", "replace").strip())
                if match:
                    self._urls[match["service"]] = (
                        match["scheme"],
                        match["host"],
                        int(match["port"]),
                    )

    def _start_handoff_worker(self, exe: str) -> None:
        assert self.handoff_socket is not None
        command = [exe, "handoff", "worker", "--connect", self.handoff_socket]
        if self._authkey is not None:
            key = self._authkey
            command += ["--authkey", key.decode() if isinstance(key, bytes) else key]
        command += ["--service", "echo"]
        self._procs.append(
            _spawn(
                command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._stderr
            )
        )

    def stop(self) -> None:
        """SIGTERM (then SIGKILL after ``stop_timeout``), wait, and remove temporary files."""
        if self._finalizer is not None:
            self._finalizer()
        else:
            _cleanup(self._procs, self._files, self._tmpdir, self._stop_timeout)
        if self._proc is not None and self._proc.stdout is not None:
            self._proc.stdout.close()

    # -- what it serves --------------------------------------------------------------

    def _stderr_text(self) -> str:
        if self._stderr is None or self._stderr.closed:
            return ""
        self._stderr.flush()
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", "replace")

    @property
    def stderr(self) -> str:
        """What netkit has written to stderr so far (its logs)."""
        return self._stderr_text()

    @property
    def pid(self) -> int:
        """The process id of ``netkit serve``."""
        if self._proc is None:
            raise RuntimeError("this Server is not started")
        return self._proc.pid

    @property
    def returncode(self) -> Optional[int]:
        """netkit's exit code once it has exited, else ``None``."""
        return None if self._proc is None else self._proc.poll()

    @property
    def services(self) -> List[str]:
        """The services that printed a listening line, in order."""
        return list(self._urls)

    def _listening(self, service: str) -> Tuple[str, str, int]:
        try:
            return self._urls[service]
        except KeyError:
            raise KeyError(
                f"{service!r} is not served here (serving: {', '.join(self._urls)})"
            ) from None

    def url(self, service: str) -> str:
        """``scheme://host:port`` of a service, as netkit printed it (no trailing slash)."""
        scheme, host, port = self._listening(service)
        return f"{scheme}://{host}:{port}"

    def address(self, service: str) -> Tuple[str, int]:
        """``(host, port)`` of a service, for ``socket.create_connection`` and friends."""
        _, host, port = self._listening(service)
        return host.strip("[]"), port

    def scheme(self, service: str) -> str:
        """``tcp``, ``udp``, ``http``, ``https`` or ``tls``."""
        return self._listening(service)[0]

    def __repr__(self) -> str:
        state = ", ".join(self.url(s) for s in self._urls) or "not started"
        return f"<netkit.Server {state}>"
