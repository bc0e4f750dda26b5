"""netkit from Python: the bundled ``netkit`` executable, a :class:`Server` to run its
services from code, and a pytest plugin (``netkit.pytest_plugin``) with pytest-httpbin's
fixtures.

::

    import netkit, requests

    with netkit.Server(http=True, echo=True) as server:
        requests.get(server.url("http") + "/get").json()
        server.address("echo")   # ('127.0.0.1', 41235)
"""

from ._find import binary
from ._server import SERVICES, NetkitError, Server, TLSFiles, generate_tls

try:
    from importlib.metadata import version as _version

    __version__ = _version("netkit")
except Exception:  # not installed (a source checkout on sys.path)
    __version__ = "0+unknown"

__all__ = [
    "SERVICES",
    "NetkitError",
    "Server",
    "TLSFiles",
    "binary",
    "generate_tls",
    "__version__",
]
