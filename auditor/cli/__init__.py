"""The command line: each command parses, calls one library function, renders.

The commands live by subject: `index` (index ...), `scan` (scan, demo), `report` (report,
verify, provenance), `info` (version, channels, schema, eval, serve); `common` holds the apps,
shared options and the mapping of errors to exit codes (see there).
"""

from __future__ import annotations

import os
import sys

from . import index, info, report, scan  # noqa: F401  (each registers its commands, in this order in --help)
from .common import app


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
