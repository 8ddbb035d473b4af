#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds, starts a throwaway PostgreSQL
# server, runs every test target, the example playbooks, the console in headless Chromium,
# then the HTTP contract tests (openapi + schemathesis).
set -uo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh --test || exit 1
swift build --build-tests || exit 1

# PostgreSQL for the store and scale-out tests (torn down on exit).
if ! PG_ENV="$(scripts/postgres.sh start)"; then
    echo "tests: could not start PostgreSQL (see above); the PostgreSQL tests need it" >&2
    exit 1
fi
eval "$PG_ENV"
trap 'scripts/postgres.sh stop "$HERALD_TEST_POSTGRES_DIR"' EXIT

# Swift Testing prints a line as each test starts; keep the results only. The full log
# stays in .build/test-output.txt.
swift test --skip-build 2>&1 | tee .build/test-output.txt | grep -vE '^(◇|↳|\[[0-9]+/[0-9]+\])'
status=${PIPESTATUS[0]}
if [ "$status" -ne 0 ]; then
    echo "tests failed (exit $status); the full log is .build/test-output.txt" >&2
    exit "$status"
fi

# The example playbooks, as a user runs them: self-contained, from the example config.
.build/debug/herald test examples/playbooks/*.yaml --config examples/herald-test.yaml --junit .build/playbooks.xml || exit 1

# The operator console in headless Chromium: sign in, a session's transcript, notify, XSS.
scripts/console-test.sh || exit 1

# The HTTP contract: openapi.yaml validates, schemathesis finds nothing against a live server.
scripts/contract/run.sh || exit 1
echo "all tests passed"
