"""Fixture start-up: from the fixture's server start to the first served request, for
netkit's plugin (netkit.Server, a process) and pytest-httpbin's (a WSGI server thread
running Python httpbin), interleaved in one interpreter. Run by bench/python.sh with the
requests-suite venv (both plugins installed): python bench/python_startup.py ROUNDS."""

import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

from httpbin import app
from pytest_httpbin import certs, serve

import netkit
from netkit.pytest_plugin import generate_tls


def first_request(url, context=None):
    with urllib.request.urlopen(url + "/get", timeout=10, context=context) as reply:
        assert reply.status == 200
        reply.read()


def netkit_once(tls_dir=None, context=None):
    t0 = time.perf_counter()
    server = netkit.Server(http=True, tls=tls_dir)
    server.start()
    first_request(server.url("http"), context)
    elapsed = time.perf_counter() - t0
    server.stop()
    return elapsed


def pytest_httpbin_once(secure=False, context=None):
    t0 = time.perf_counter()
    server = (serve.SecureServer if secure else serve.Server)(application=app)
    server.start()
    first_request(server.url, context)
    elapsed = time.perf_counter() - t0
    server.__exit__(None, None, None)
    return elapsed


def import_seconds(module):
    """Wall time of a fresh interpreter importing pytest and then the plugin's module, which
    every pytest run with the plugin installed pays, whether or not it uses a fixture."""
    code = f"import time, pytest; t = time.perf_counter(); import {module}; "
    code += "print(time.perf_counter() - t)"
    out = subprocess.run([sys.executable, "-c", code], stdout=subprocess.PIPE, check=True).stdout
    return float(out)


def summary(samples):
    ms = sorted(s * 1000 for s in samples)
    median = statistics.median(ms)
    return f"median {median:6.1f} ms  (min {ms[0]:.1f}, max {ms[-1]:.1f}, n={len(ms)})"


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    tls = generate_tls(os.path.join(tempfile.mkdtemp(prefix="netkit-bench-"), "certs"))
    netkit_ctx = ssl.create_default_context(cafile=tls.ca)
    theirs_ctx = ssl.create_default_context(cafile=certs.where())
    results = {
        k: []
        for k in ("netkit http", "pytest-httpbin http", "netkit https", "pytest-httpbin https")
    }
    for _ in range(rounds):
        results["netkit http"].append(netkit_once())
        results["pytest-httpbin http"].append(pytest_httpbin_once())
        results["netkit https"].append(netkit_once(tls.dir, netkit_ctx))
        results["pytest-httpbin https"].append(pytest_httpbin_once(True, theirs_ctx))
    imports = {"netkit.pytest_plugin": [], "pytest_httpbin.plugin": []}
    for _ in range(5):
        for module, samples in imports.items():
            samples.append(import_seconds(module))
    for module, samples in imports.items():
        print(f"import: {module:21} {summary(samples)}")
    for name, samples in results.items():
        print(f"startup: {name:21} {summary(samples)}")
    for scheme in ("http", "https"):
        ratio = statistics.median(results["netkit " + scheme]) / statistics.median(
            results["pytest-httpbin " + scheme]
        )
        print(f"startup: ratio netkit/pytest-httpbin {scheme} (medians): {ratio:.2f}")


if __name__ == "__main__":
    main()
