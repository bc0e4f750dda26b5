"""pytest plugin (auto-loaded as ``netkit`` through the ``pytest11`` entry point).

Fixtures:

- ``httpbin``, ``httpbin_secure``, ``httpbin_both``, ``httpbin_ca_bundle``,
  ``class_based_httpbin``, ``class_based_httpbin_secure``: drop-ins for pytest-httpbin's,
  served by ``netkit serve --http`` (one process per session for each of http and https,
  started on first use).
- ``netkit_server``: a factory, ``netkit_server(echo=True, authkey="peekaboo", ...)``,
  taking :class:`netkit.Server`'s arguments; every server it started stops after the test.
- ``netkit_tls``: a CA and certificates made once per session by ``netkit tls gen-cert``.

With pytest-httpbin installed as well, pytest-httpbin keeps its fixtures (installing
netkit changes nothing) and netkit adds only ``netkit_server`` and ``netkit_tls``. To get
netkit's httpbin fixtures run ``pytest -p no:httpbin``; to turn netkit's plugin off,
``pytest -p no:netkit``.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Iterator, List
from urllib.parse import urljoin

import pytest

from ._find import binary
from ._server import Server, TLSFiles, generate_tls

__all__ = ["HttpbinServer", "TLSFiles", "generate_tls"]

# pytest-httpbin registers its plugin under this name (its pytest11 entry point).
_PYTEST_HTTPBIN = "httpbin"


class HttpbinServer:
    """pytest-httpbin's server object: ``.url``, ``.host``, ``.port``, ``.protocol``,
    ``server + "/path"`` and ``.join(path)``; ``.server`` is the :class:`netkit.Server`."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.host, self.port = server.address("http")
        self.protocol = server.scheme("http")

    @property
    def url(self) -> str:
        return f"{self.protocol}://{self.host}:{self.port}"

    def __add__(self, other: str) -> str:
        return self.url + other

    def join(self, url: str, allow_fragments: bool = True) -> str:
        return urljoin(self.url, url, allow_fragments=allow_fragments)

    def __repr__(self) -> str:
        return f"<netkit httpbin {self.url}>"


def _httpbin_address(port_variable: str) -> Any:
    # pytest-httpbin's way to pin a port: HTTPBIN_HTTP_PORT / HTTPBIN_HTTPS_PORT.
    port = os.environ.get(port_variable)
    return f"127.0.0.1:{int(port)}" if port else True


@pytest.fixture(scope="session")
def netkit_tls(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    """A CA and server/client certificates for localhost and 127.0.0.1 (once a session)."""
    return generate_tls(str(tmp_path_factory.mktemp("netkit-tls") / "certs"))


@pytest.fixture
def netkit_server(request: pytest.FixtureRequest) -> Iterator[Callable[..., Server]]:
    """Factory: ``netkit_server(**kwargs)`` starts and returns a :class:`netkit.Server`
    (same arguments); all of them stop after the test. ``tls=True`` uses the session's
    ``netkit_tls`` certificates, so ``server.ca`` is the same CA for every server."""
    started: List[Server] = []

    def start(**kwargs: Any) -> Server:
        if kwargs.get("tls") is True:
            kwargs["tls"] = request.getfixturevalue("netkit_tls").dir
        server = Server(**kwargs)
        server.start()
        started.append(server)
        return server

    yield start
    for server in reversed(started):
        server.stop()


def _pytest_httpbin_active(config: pytest.Config) -> bool:
    return config.pluginmanager.has_plugin(_PYTEST_HTTPBIN)


def pytest_configure(config: pytest.Config) -> None:
    if not _pytest_httpbin_active(config):
        from . import _pytest_httpbin

        config.pluginmanager.register(_pytest_httpbin, "netkit-httpbin")


def pytest_report_header(config: pytest.Config) -> str | None:
    try:
        exe: str = binary()
    except FileNotFoundError as e:
        return f"netkit: {e}"
    if _pytest_httpbin_active(config):
        return f"netkit: {exe} (httpbin fixtures: pytest-httpbin's; -p no:httpbin for netkit's)"
    return f"netkit: {exe} (httpbin fixtures: netkit's)"
