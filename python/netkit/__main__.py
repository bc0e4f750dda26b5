"""``python -m netkit ARGS`` runs the bundled executable with ARGS."""

import os
import sys

from ._find import binary


def main() -> None:
    exe = binary()
    if sys.platform == "win32":
        import subprocess

        sys.exit(subprocess.call([exe, *sys.argv[1:]]))
    os.execv(exe, [exe, *sys.argv[1:]])


if __name__ == "__main__":
    main()
