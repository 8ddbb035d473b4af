#!/usr/bin/env bash
# Installs what Herald needs to build and test on Debian, only where it is missing.
# Usage: scripts/setup.sh [--test]   (--test adds what the test suite needs)
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
need() { dpkg -s "$1" >/dev/null 2>&1 || missing+=("$1"); }

need libcurl4-openssl-dev
need libsqlite3-dev
if [ "${1:-}" = "--test" ]; then
    need postgresql
fi

if [ "${#missing[@]}" -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The channel tests sign requests with the channels' own SDKs (scripts/channel_sdk.py).
if [ "${1:-}" = "--test" ] && ! python3 -c "import twilio.request_validator, slack_sdk.signature" >/dev/null 2>&1; then
    echo "setup: installing the twilio and slack_sdk Python packages (channel tests)"
    if ! python3 -m pip --version >/dev/null 2>&1; then
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-pip >/dev/null
    fi
    python3 -m pip install -q --disable-pip-version-check "twilio>=9,<10" "slack_sdk>=3.30,<4" 2>/dev/null \
        || python3 -m pip install -q --disable-pip-version-check --break-system-packages "twilio>=9,<10" "slack_sdk>=3.30,<4"
fi

if ! command -v swift >/dev/null 2>&1; then
    echo "setup: swift is not on PATH (Swift 6.1 or newer is required)" >&2
    exit 1
fi
