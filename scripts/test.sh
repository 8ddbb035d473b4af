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
# At most 16 tests at once: unbounded, the parameterized cases all start together and the
# process holds about 1,440 descriptors (their receivers, Heralds and connections), and
# Foundation's select()-based socket and Process code breaks on descriptors above 1023 (hangs,
# crashes). Capped at 16 it peaks at about 410 and takes as long (104 s both, 2026-12-02).
swift test --skip-build --experimental-maximum-parallelization-width 16 2>&1 | tee .build/test-output.txt | grep -vE '^(◇|↳|\[[0-9]+/[0-9]+\])'
status=${PIPESTATUS[0]}
if [ "$status" -ne 0 ]; then
    echo "tests failed (exit $status); the full log is .build/test-output.txt" >&2
    exit "$status"
fi

# Tests with a time bound in their contract run alone, on a machine no other test shares: a
# rolling restart of three PostgreSQL instances where no request may wait 2 s, an endpoint
# made through one instance's admin API served by another within 2 s, and a killed instance's
# outputs delivered by the others within 3 s.
HERALD_TEST_SOLO=1 swift test --skip-build --experimental-maximum-parallelization-width 1 --filter 'RollingRestartTests|EndpointPropagationTests|FailoverTests' > .build/test-solo-output.txt 2>&1
solo=$?
grep -E '^(✔|✘) (Test|Suite)' .build/test-solo-output.txt
if [ "$solo" -ne 0 ]; then
    echo "tests failed (exit $solo); the full log is .build/test-solo-output.txt" >&2
    exit "$solo"
fi

# The example playbooks, as a user runs them: self-contained, from the example config.
.build/debug/herald test examples/playbooks/*.yaml --config examples/herald-test.yaml --junit .build/playbooks.xml || exit 1

# The operator console in headless Chromium: sign in, a session's transcript, notify, XSS.
scripts/console-test.sh || exit 1

# The HTTP contract: openapi.yaml validates, schemathesis finds nothing against a live server.
scripts/contract/run.sh || exit 1
echo "all tests passed"
