"""Locate the ``netkit`` executable that the wheel installs beside this package."""

import os
import sys
import sysconfig

_EXE = "netkit" + (sysconfig.get_config_var("EXE") or "")


def _user_scheme() -> str:
    if sys.version_info >= (3, 10):
        return sysconfig.get_preferred_scheme("user")
    if os.name == "nt":
        return "nt_user"
    if sys.platform == "darwin" and getattr(sys, "_framework", None):
        return "osx_framework_user"
    return "posix_user"


def binary() -> str:
    """Return the path of the bundled ``netkit`` executable.

    The wheel installs the executable into the environment's scripts directory
    (``bin/`` of a venv), like ruff and uv do. Searched in order:

    1. ``$NETKIT_BINARY`` when set (e.g. a ``cargo build`` output while developing);
    2. the scripts directory of this interpreter's install scheme;
    3. the user scheme's scripts directory (``pip install --user``);
    4. ``bin/`` beside the package root (``pip install --target DIR``).

    Raises :class:`FileNotFoundError` naming the places searched.
    """
    override = os.environ.get("NETKIT_BINARY")
    if override:
        if os.path.isfile(override) and os.access(override, os.X_OK):
            return override
        raise FileNotFoundError(f"NETKIT_BINARY={override} is not an executable file")

    candidates = [os.path.join(sysconfig.get_path("scripts"), _EXE)]
    try:
        candidates.append(os.path.join(sysconfig.get_path("scripts", scheme=_user_scheme()), _EXE))
    except KeyError:
        pass
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    candidates.append(os.path.join(package_root, "bin", _EXE))

    for path in candidates:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    raise FileNotFoundError(f"the netkit executable was not found in: {', '.join(candidates)}")
