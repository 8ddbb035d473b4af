#!/usr/bin/env bash
# The operator console in headless Chromium (Tests/console/console_test.py): installs what is
# missing (Debian's chromium and chromium-driver, Python selenium), then drives the console of
# the built `herald` binary. Runs offline once installed; about 20 seconds.
#
# Usage: scripts/console-test.sh [--update-screenshots]
#   Screenshots go to .build/console/; --update-screenshots writes them to docs/ instead.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
missing=()
for package in chromium chromium-driver; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "console test: installing ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if ! python3 -c "import selenium" 2>/dev/null; then
    echo "console test: installing selenium"
    python3 -m pip install -q --disable-pip-version-check "selenium>=4.20"
fi

BIN="${HERALD_BIN:-$(swift build --show-bin-path)/herald}"
if [ ! -x "$BIN" ]; then
    swift build --product herald
fi

SCREENSHOTS=.build/console
if [ "${1:-}" = "--update-screenshots" ]; then SCREENSHOTS=docs; fi
exec python3 Tests/console/console_test.py --herald "$BIN" --screenshots "$SCREENSHOTS"
