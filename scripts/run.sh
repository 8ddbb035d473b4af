#!/usr/bin/env bash
# Builds Herald and runs it on examples/herald.yaml (SQLite store, echo flow), with a local
# `herald receive` on port 9000 printing every webhook delivery as one JSON line.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
swift build -c release --product herald
BIN="$(swift build -c release --show-bin-path)/herald"

export HERALD_ADMIN_KEY="${HERALD_ADMIN_KEY:-dev-admin-key}"
export HOOK_PASSWORD="${HOOK_PASSWORD:-dev-hook-password}"

"$BIN" receive --port 9000 --user bot --password "$HOOK_PASSWORD" &
RECEIVER=$!
trap 'kill $RECEIVER 2>/dev/null || true' EXIT

cat <<HINT

  Herald is starting on http://127.0.0.1:8080 (admin key: $HERALD_ADMIN_KEY).
  Deliveries print below as JSON lines. In another terminal, try:

    curl -s -X POST http://127.0.0.1:8080/demo -H 'Content-Type: application/json' \\
         -d '{"userId":"user-42","sessionId":"conv-7","text":"hello"}'

  and a notify that arrives 10 seconds later:

    curl -s -X POST http://127.0.0.1:8080/notify/demo -H 'X-API-Key: $HERALD_ADMIN_KEY' \\
         -H 'Content-Type: application/json' \\
         -d '{"userId":"user-42","sessionId":"conv-7","text":"later","delay":"10s"}'

HINT
"$BIN" serve --config examples/herald.yaml
