#!/usr/bin/env bash
# The operator console in headless Chromium (Tests/console/console_test.py).
#
# Installs what is missing (Debian's chromium and chromium-driver with apt-get, Python selenium
# with pip), builds the debug `herald` (incremental: quick when it is up to date), then the Python
# test starts `herald serve` on a temporary configuration and free ports, with a webhook receiver
# of its own, drives the console, and stops everything. About 20 seconds once built.
#
# Usage: scripts/console-test.sh [--update-screenshots]
#   Screenshots go to .build/console/; --update-screenshots writes them to docs/ instead.
#   HERALD_BIN=path uses that binary instead of building .build/debug/herald.
# Exits 0 when every check passed; otherwise non-zero, with the reason on stderr.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() {
    echo "console test FAILED: $*" >&2
    exit 1
}

SCREENSHOTS=.build/console
case "${1:-}" in
    "") ;;
    --update-screenshots) SCREENSHOTS=docs ;;
    *) fail "unknown argument '$1' (usage: scripts/console-test.sh [--update-screenshots])" ;;
esac

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# Chromium and its WebDriver, from Debian.
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
if [ "${#missing[@]}" -gt 0 ]; then
    command -v apt-get >/dev/null 2>&1 || fail "${missing[*]} missing and no apt-get to install them (the console test needs Debian's chromium and chromium-driver)"
    echo "console test: installing ${missing[*]} with apt-get"
    $SUDO apt-get update -qq || fail "apt-get update failed (needed to install ${missing[*]})"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null \
        || fail "apt-get install ${missing[*]} failed"
    command -v chromium >/dev/null 2>&1 || fail "chromium is still not on PATH after apt-get install"
    command -v chromedriver >/dev/null 2>&1 || fail "chromedriver is still not on PATH after apt-get install chromium-driver"
fi

# Python 3 with selenium. Debian's own Python refuses a plain `pip install` (PEP 668), so that
# one gets --break-system-packages; a pyenv or venv Python takes it as is.
command -v python3 >/dev/null 2>&1 || fail "python3 is missing (apt-get install python3)"
if ! python3 -c "import selenium" 2>/dev/null; then
    echo "console test: installing selenium with pip"
    if ! python3 -m pip --version >/dev/null 2>&1; then
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-pip >/dev/null || fail "python3 has no pip and apt-get install python3-pip failed"
    fi
    python3 -m pip install -q --disable-pip-version-check "selenium>=4.20" 2>/dev/null \
        || python3 -m pip install -q --disable-pip-version-check --break-system-packages "selenium>=4.20" \
        || fail "pip install selenium failed"
    python3 -c "import selenium" 2>/dev/null || fail "selenium still cannot be imported after pip install"
fi

# The debug herald, with the console's files next to it (HeraldHTTP's resource bundle).
if [ -n "${HERALD_BIN:-}" ]; then
    BIN="$HERALD_BIN"
else
    echo "console test: swift build --product herald"
    build_log=$(mktemp)
    if ! swift build --product herald >"$build_log" 2>&1; then
        tail -40 "$build_log" >&2
        fail "swift build --product herald failed (its last lines are above)"
    fi
    rm -f "$build_log"
    BIN=.build/debug/herald
fi
[ -x "$BIN" ] || fail "no herald binary at $BIN"

python3 Tests/console/console_test.py --herald "$BIN" --screenshots "$SCREENSHOTS" \
    || fail "see the messages above (Tests/console/console_test.py)"
