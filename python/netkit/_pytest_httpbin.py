"""pytest-httpbin's fixtures served by netkit. Registered by ``netkit.pytest_plugin``
only when pytest-httpbin's own plugin is not active (``-p no:httpbin``)."""

from __future__ import annotations

from typing import Iterator

import pytest

from ._server import Server, TLSFiles
from .pytest_plugin import HttpbinServer, _httpbin_address


@pytest.fixture(scope="session")
def httpbin() -> Iterator[HttpbinServer]:
    with Server(http=_httpbin_address("HTTPBIN_HTTP_PORT")) as server:
        yield HttpbinServer(server)


@pytest.fixture(scope="session")
def httpbin_secure(netkit_tls: TLSFiles) -> Iterator[HttpbinServer]:
    with Server(http=_httpbin_address("HTTPBIN_HTTPS_PORT"), tls=netkit_tls.dir) as server:
        yield HttpbinServer(server)


@pytest.fixture(scope="session", params=["http", "https"])
def httpbin_both(request: pytest.FixtureRequest) -> HttpbinServer:
    name = "httpbin" if request.param == "http" else "httpbin_secure"
    server: HttpbinServer = request.getfixturevalue(name)
    return server


@pytest.fixture(scope="class")
def class_based_httpbin(request: pytest.FixtureRequest, httpbin: HttpbinServer) -> None:
    request.cls.httpbin = httpbin


@pytest.fixture(scope="class")
def class_based_httpbin_secure(
    request: pytest.FixtureRequest, httpbin_secure: HttpbinServer
) -> None:
    request.cls.httpbin_secure = httpbin_secure


@pytest.fixture
def httpbin_ca_bundle(monkeypatch: pytest.MonkeyPatch, netkit_tls: TLSFiles) -> str:
    """Points ``REQUESTS_CA_BUNDLE`` at the CA of ``httpbin_secure`` for this test and
    returns its path (pytest-httpbin returns None; ``verify=`` accepts either)."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", netkit_tls.ca)
    return netkit_tls.ca
