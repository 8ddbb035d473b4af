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

if ! command -v swift >/dev/null 2>&1; then
    echo "setup: swift is not on PATH (Swift 6.1 or newer is required)" >&2
    exit 1
fi
