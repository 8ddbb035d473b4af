#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, runs every test target.
set -uo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh --test || exit 1
swift build --build-tests || exit 1

# Swift Testing prints a line as each test starts; keep the results only. The full log
# stays in .build/test-output.txt.
swift test --skip-build 2>&1 | tee .build/test-output.txt | grep -vE '^(◇|↳|\[[0-9]+/[0-9]+\])'
status=${PIPESTATUS[0]}
if [ "$status" -ne 0 ]; then
    echo "tests failed (exit $status); the full log is .build/test-output.txt" >&2
    exit "$status"
fi

# The HTTP contract: openapi.yaml validates, schemathesis finds nothing against a live server.
scripts/contract/run.sh || exit 1
echo "all tests passed"
