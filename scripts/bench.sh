#!/usr/bin/env bash
# `make bench`: builds release binaries and runs Herald's benchmark on loopback (issue 6).
#
# One run starts a webhook sink (`herald-bench sink`) and, per scenario, a fresh Herald
# (`herald serve`: SQLite store in a temp dir, echo flow, webhook → the sink), drives it with
# `herald-bench load`, and runs the bare Hummingbird baseline (`herald-bench baseline`) under
# the same load; in the throughput scenario also the same-work floor (`herald-bench floor`:
# decode, SQLite group commit, 202, libcurl POST to the same sink, attempt recorded). It prints
# the tables (Herald, floor, baseline, ratios) and writes them as JSON to bench-results/.
# Orchestration is in scripts/bench.py (Python 3, standard library only).
#
# Settings (environment):
#   BENCH_RUNS=3                  runs of the max-throughput scenario (the table shows the median)
#   BENCH_DURATION=15             seconds of load per max-throughput run
#   BENCH_WARMUP=3                seconds of load before each measured run (not counted)
#   BENCH_SESSIONS=1000           sessions of the max-throughput scenario
#   BENCH_CONNECTIONS=256         requests in flight (closed loop)
#   BENCH_RATE=1000               messages/s of the fixed-rate scenario
#   BENCH_RATE_DURATION=20        seconds of the fixed-rate scenario
#   BENCH_HOT_DURATION=5          seconds of the one-hot-session scenario
#   BENCH_BROADCAST_SESSIONS=100000   sessions created, then notified in one broadcast
#   BENCH_SCHEDULED=100000        notifies scheduled for the same second (one per session)
#   BENCH_SOAK_RATE=1500 BENCH_SOAK_MINUTES=10 BENCH_SOAK_HISTORY=2m   the soak scenario (not in the default set)
#   BENCH_SCENARIOS=throughput,latency,hot,broadcast,scheduled   which to run
#   BENCH_STORAGE=sqlite          or memory, postgres (a throwaway server from scripts/postgres.sh, a fresh
#                                 database per Herald, its CPU reported), postgres://user:pass@host/db (used as
#                                 given), or a comma list (sqlite,postgres): the throughput scenario runs every
#                                 store in each run, alternating; the other scenarios use the first
#   BENCH_FLOOR=1                 the throughput scenario also runs the same-work floor in each run; 0 skips it
#   BENCH_WITHOUT_STORE=1         with sqlite, each throughput run also measures the same Herald on `storage: memory`; 0 skips it
#   BENCH_INSTANCES=1             with postgres: that many Herald instances share the store and the load
#   BENCH_QUIET_WAIT=120          seconds to wait, before each measured load, for other processes to leave the CPUs
#   BENCH_MAX_COMMIT_BATCH=       e.g. 1: passes --max-commit-batch N to `herald serve` (if it has it)
#   BENCH_WEBHOOK_CONCURRENCY=    the endpoint's webhook.concurrency and the floor's --concurrency (64, Herald's default, when unset)
#   BENCH_DRAIN_TIMEOUT=180       seconds to wait for all deliveries after the load stops
#   BENCH_PORT_BASE=19000         Herald on +80, admin on the same listener, sink +100, baseline +200, floor +300
#   BENCH_SKIP_BUILD=1            use the binaries already built
#   BENCH_OUT=bench-results/bench-<time>.json
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
if ! command -v python3 >/dev/null 2>&1; then
    echo "bench: python3 is required (apt-get install python3)" >&2
    exit 1
fi

if [ "${BENCH_SKIP_BUILD:-}" != "1" ]; then
    echo "bench: building release binaries (swift build -c release)"
    swift build -c release --product herald
    swift build -c release --product herald-bench
fi
BIN="$(swift build -c release --show-bin-path)"

exec python3 scripts/bench.py --bin "$BIN"
