"""The pytest plugin's fixtures, used as a test suite would use them."""

import json
import os
import pickle
import socket
import ssl
import urllib.request
import xmlrpc.client
from multiprocessing import AuthenticationError
from multiprocessing.connection import Client

import pytest

import netkit
from netkit.pytest_plugin import HttpbinServer, TLSFiles


def get_json(url, context=None):
    with urllib.request.urlopen(url, timeout=10, context=context) as reply:
        return json.loads(reply.read().decode())


def test_httpbin_is_pytest_httpbins_server_object(httpbin):
    assert isinstance(httpbin, HttpbinServer)
    assert httpbin.protocol == "http" and httpbin.host == "127.0.0.1" and httpbin.port > 0
    assert httpbin.url == f"http://127.0.0.1:{httpbin.port}"
    assert httpbin + "/get" == httpbin.url + "/get"
    assert httpbin.join("/status/418") == httpbin.url + "/status/418"
    assert get_json(httpbin + "/get?a=b")["args"] == {"a": "b"}


def test_httpbin_is_one_server_per_session(httpbin, request):
    assert request.getfixturevalue("httpbin") is httpbin
    assert httpbin.server.returncode is None


def test_httpbin_secure_speaks_https_with_the_session_ca(httpbin_secure, netkit_tls):
    assert httpbin_secure.protocol == "https"
    assert httpbin_secure.url == f"https://127.0.0.1:{httpbin_secure.port}"
    context = ssl.create_default_context(cafile=netkit_tls.ca)
    body = get_json(httpbin_secure + "/get", context=context)
    assert body["url"] == httpbin_secure.url + "/get"
    with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
        get_json(httpbin_secure + "/get", context=ssl.create_default_context())


SEEN_BOTH = []


def test_httpbin_both_runs_once_for_each_scheme(httpbin_both):
    SEEN_BOTH.append(httpbin_both.protocol)
    assert httpbin_both.url.startswith(httpbin_both.protocol + "://")


def test_httpbin_both_ran_for_http_and_https():
    assert sorted(SEEN_BOTH) == ["http", "https"]


def test_httpbin_ca_bundle_exports_requests_ca_bundle(httpbin_ca_bundle, httpbin_secure):
    assert os.environ["REQUESTS_CA_BUNDLE"] == httpbin_ca_bundle
    context = ssl.create_default_context(cafile=os.environ["REQUESTS_CA_BUNDLE"])
    assert get_json(httpbin_secure + "/get", context=context)["url"].startswith("https://")


def test_httpbin_ca_bundle_is_undone_after_its_test():
    assert "REQUESTS_CA_BUNDLE" not in os.environ or not os.environ["REQUESTS_CA_BUNDLE"].endswith(
        os.path.join("certs", "ca.pem")
    )


@pytest.mark.usefixtures("class_based_httpbin", "class_based_httpbin_secure")
class TestClassBased:
    def test_attributes(self):
        assert self.httpbin.protocol == "http"
        assert self.httpbin_secure.protocol == "https"


def test_netkit_tls_holds_gen_certs_files(netkit_tls):
    assert isinstance(netkit_tls, TLSFiles)
    for path in (
        netkit_tls.ca,
        netkit_tls.server_cert,
        netkit_tls.server_key,
        netkit_tls.client_cert,
        netkit_tls.client_key,
    ):
        assert os.path.getsize(path) > 0, path
    with open(netkit_tls.ca) as f:
        assert f.read().startswith("-----BEGIN CERTIFICATE-----")


def test_netkit_server_factory_starts_any_services(netkit_server):
    server = netkit_server(echo=True, time=True)
    with socket.create_connection(server.address("echo"), timeout=10) as sock:
        sock.sendall(b"ping")
        assert sock.recv(4) == b"ping"
    assert server.scheme("time") == "udp"


def test_netkit_server_factory_xmlrpc_conn_rpc_handoff(netkit_server):
    store = netkit_server(xmlrpc=True, kv_store="memory")
    proxy = xmlrpc.client.ServerProxy(store.url("xmlrpc"))
    proxy.set("k", [1, 2])
    assert proxy.get("k") == [1, 2]

    framed = netkit_server(conn=True, rpc=True, authkey=b"peekaboo")
    with Client(framed.address("conn"), authkey=b"peekaboo") as conn:
        conn.send(("x", 1))
        assert conn.recv() == ("x", 1)
    with Client(framed.address("rpc"), authkey=b"peekaboo") as rpc:
        rpc.send(pickle.dumps(("sub", (7, 2), {})))
        assert pickle.loads(rpc.recv()) == 5
    with pytest.raises(AuthenticationError):
        Client(framed.address("conn"), authkey=b"wrong")

    handoff = netkit_server(handoff=True, handoff_workers=1)
    with socket.create_connection(handoff.address("handoff"), timeout=10) as sock:
        sock.sendall(b"handed off")
        assert sock.recv(64) == b"handed off"


STOPPED = []


def test_netkit_server_factory_stops_its_servers(netkit_server):
    server = netkit_server(echo=True)
    STOPPED.append(server)
    assert server.returncode is None


def test_netkit_server_factory_stopped_them_after_the_test():
    assert [server.returncode for server in STOPPED] == [0]


def test_netkit_server_tls_true_uses_the_session_ca(netkit_server, netkit_tls):
    server = netkit_server(http=True, tls=True)
    assert server.ca == netkit_tls.ca
    context = ssl.create_default_context(cafile=netkit_tls.ca)
    assert get_json(server.url("http") + "/get", context=context)["url"].startswith("https://")


def test_netkit_server_startup_failure_raises(netkit_server):
    with pytest.raises(netkit.NetkitError) as caught:
        netkit_server(echo=True, max_connections="many")
    assert caught.value.returncode == 2
    assert "many" in caught.value.message


# -- the plugin in isolated runs (pytester) -------------------------------------------

HTTPBIN_TEST = """
def test_url(httpbin):
    print("HTTPBIN-TYPE", type(httpbin).__module__, type(httpbin).__name__)
"""


def test_plugin_is_auto_loaded_and_reports_itself(pytester):
    pytester.makepyfile(HTTPBIN_TEST)
    result = pytester.runpytest_subprocess("-s", "-p", "no:httpbin")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "netkit: *netkit (httpbin fixtures: netkit's)",
            "*HTTPBIN-TYPE netkit.pytest_plugin HttpbinServer",
        ]
    )


def test_pytest_httpbin_keeps_its_fixtures_when_both_are_active(pytester):
    # A stand-in for pytest-httpbin's plugin, registered under its name "httpbin".
    pytester.makepyfile(
        httpbin="""
import pytest

class Theirs:
    url = "theirs"

@pytest.fixture(scope="session")
def httpbin():
    return Theirs()
"""
    )
    pytester.makepyfile(test_it=HTTPBIN_TEST)
    pytester.syspathinsert()
    result = pytester.runpytest_subprocess("-s", "-p", "httpbin")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "netkit: * (httpbin fixtures: pytest-httpbin's; -p no:httpbin for netkit's)",
            "*HTTPBIN-TYPE httpbin Theirs",
        ]
    )


def test_p_no_netkit_turns_the_plugin_off(pytester):
    pytester.makepyfile(HTTPBIN_TEST)
    result = pytester.runpytest_subprocess("-p", "no:netkit", "-p", "no:httpbin")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'httpbin' not found*"])
