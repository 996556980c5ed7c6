"""The command line: each command parses, calls one library function, renders.

The commands live by subject: `index` (index ...), `scan` (scan, demo), `report` (report,
verify, provenance), `info` (version, channels, schema, eval, serve); `common` holds the apps,
shared options and the mapping of errors to exit codes (see there).
"""

from __future__ import annotations

import os
import sys
import warnings

# pyHanko imports cryptography's DSA support, which warns that DSA is deprecated whenever a report
# is signed or verified: a line about a library's internals, first on the screen, on every run
warnings.filterwarnings("ignore", message=r"DSA is deprecated", module=r"pyhanko(\..*)?$")

from . import index, info, report, reviewers, scan  # noqa: E402, F401  (each registers its commands, in this order in --help)
from .common import app  # noqa: E402


def main() -> None:
    try:
        app()
    except SystemExit as exc:
        if exc.code == 130:
            # Ctrl-C: everything finished is already written (atomically, CSVs included). End now,
            # without tearing down decoder and thread-pool libraries that may be mid-frame in
            # another thread (their teardown can abort the process and lose the exit code).
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(130)
        raise


if __name__ == "__main__":
    main()
