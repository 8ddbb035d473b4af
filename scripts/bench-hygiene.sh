#!/usr/bin/env bash
# Queue hygiene on PostgreSQL: a steady load for a while, with a short `history`, and the
# tables' sizes once a minute. Delivered outputs, attempts and inputs older than `history`
# are pruned by the sweeper (every minute), so the sizes must level off, not grow with time.
#   scripts/bench-hygiene.sh            (HYGIENE_MINUTES=10 HYGIENE_RATE=1000 HYGIENE_HISTORY=2m)
# Uses the release binaries (`make bench` builds them) and a throwaway PostgreSQL server.
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES="${HYGIENE_MINUTES:-10}"
RATE="${HYGIENE_RATE:-1000}"
HISTORY="${HYGIENE_HISTORY:-2m}"
PORT="${HYGIENE_PORT:-19380}"
BIN="$(swift build -c release --show-bin-path)"
[ -x "$BIN/herald" ] && [ -x "$BIN/herald-bench" ] || { echo "hygiene: build first (swift build -c release)" >&2; exit 1; }

eval "$(scripts/postgres.sh start)"
WORK="$(mktemp -d)"
cleanup() {
    kill "${HERALD_PID:-}" "${SINK_PID:-}" 2>/dev/null || true
    wait 2>/dev/null || true
    scripts/postgres.sh stop "$HERALD_TEST_POSTGRES_DIR"
    rm -rf "$WORK"
}
trap cleanup EXIT

"$BIN/herald-bench" sink --port $((PORT + 1)) >"$WORK/sink.log" 2>&1 &
SINK_PID=$!
cat >"$WORK/herald.yaml" <<YAML
listen: 127.0.0.1:$PORT
admin:
  keys: ["hygiene"]
storage: $HERALD_TEST_POSTGRES_URL
history: $HISTORY
endpoints:
  - urlToken: bench
    flow: $PWD/examples/flows/echo.yaml
    webhook:
      url: http://127.0.0.1:$((PORT + 1))/hook
YAML
"$BIN/herald" serve --config "$WORK/herald.yaml" --log-level warning >"$WORK/herald.log" 2>&1 &
HERALD_PID=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done

sizes() {
    psql -qAt "$HERALD_TEST_POSTGRES_URL" -c "
        SELECT string_agg(relname || ' ' || n_live_tup || ' rows ' || pg_size_pretty(pg_total_relation_size(relid)), ', ' ORDER BY relname)
        FROM pg_stat_user_tables WHERE relname IN ('outputs', 'attempts', 'inputs', 'sessions', 'outbox_leases')"
}
echo "hygiene: $RATE messages/s for $MINUTES min, history $HISTORY, PostgreSQL $(psql -qAt "$HERALD_TEST_POSTGRES_URL" -c 'SHOW server_version')"
"$BIN/herald-bench" load --url "http://127.0.0.1:$PORT/bench" --rate "$RATE" --duration $((MINUTES * 60)) --sessions 1000 >"$WORK/load.json" &
LOAD_PID=$!
for minute in $(seq 1 "$MINUTES"); do
    sleep 60
    psql -qAt "$HERALD_TEST_POSTGRES_URL" -c "ANALYZE" >/dev/null
    echo "minute $minute: $(sizes)"
done
wait "$LOAD_PID"
echo "load: $(tr -d '\n' <"$WORK/load.json" | head -c 300)"
