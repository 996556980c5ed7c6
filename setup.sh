#!/usr/bin/env bash
# Installs everything auditor needs on a Debian machine, from the project's own files:
#   - Debian packages: the fonts every report embeds, all TrueType, which reportlab can embed
#     (fonts-dejavu-core for Latin, Greek and Cyrillic, fonts-ipaexfont-gothic for Japanese,
#     fonts-droid-fallback for Chinese, fonts-nanum for Korean), poppler-utils (pdftotext, which `auditor verify` reads the printed hashes with) and
#     chromium (the headless browser the review desk's end-to-end tests drive);
#   - a virtual environment in .venv with the project and the extras named in $1 (default: all of
#     them: clip, ray, desk, eval, dev), at the exact versions of constraints.txt.
# Safe to re-run: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")"

DEBS="fonts-dejavu-core fonts-ipaexfont-gothic fonts-droid-fallback fonts-nanum poppler-utils chromium"
missing=""
for pkg in $DEBS; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
    if ! command -v apt-get >/dev/null; then
        echo "setup.sh: install these packages with your system's package manager:$missing" >&2
        exit 1
    fi
    if [ "$(id -u)" = 0 ]; then sudo=""; elif command -v sudo >/dev/null; then sudo="sudo"; else
        echo "setup.sh: root is needed to install:$missing" >&2
        exit 1
    fi
    echo "setup.sh: installing Debian packages:$missing" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q -c constraints.txt -e ".[${1:-clip,ray,desk,eval,dev}]"
