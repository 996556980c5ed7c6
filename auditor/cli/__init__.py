"""The command line: each command parses, calls one library function, renders.

The commands live by subject: `index` (index ...), `scan` (scan, demo), `report` (report,
verify, provenance), `info` (version, channels, schema, eval, serve); `common` holds the apps,
shared options and the mapping of errors to exit codes (see there).
"""

from __future__ import annotations

from . import scan, report, info, index  # noqa: F401, I001  (each registers its commands, in this order in --help)
from .common import app


def main() -> None:
    app()


if __name__ == "__main__":
    main()
