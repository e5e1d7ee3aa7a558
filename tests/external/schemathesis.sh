#!/usr/bin/env bash
# Fuzzes the REST API with schemathesis against the OpenAPI document the server itself serves:
#   tests/external/schemathesis.sh <path to the mcp-coordinator binary>
# Starts the binary on OS-assigned ports (HTTP and MQTT) with a throw-away data dir and HOME (reset stays
# disabled), then runs schemathesis with the checks: no 5xx, documented status codes, content types and response
# schemas. Bounded: SCHEMATHESIS_MAX_EXAMPLES (30) cases per operation. SCHEMATHESIS_SEED replays a run
# (schemathesis prints its seed).
# schemathesis (pinned) is installed into tests/external/.cache/ (gitignored) on first use.
set -euo pipefail

BIN=${1:?usage: tests/external/schemathesis.sh <mcp-coordinator binary>}
[ -x "$BIN" ] || { echo "schemathesis: $BIN is not an executable" >&2; exit 2; }
BIN=$(realpath "$BIN")
HERE=$(cd "$(dirname "$0")" && pwd)
ST_VERSION=4.32.5
VENV="$HERE/.cache/schemathesis-$ST_VERSION"
ST="$VENV/bin/schemathesis"

if [ ! -x "$ST" ]; then
  echo "schemathesis: installing $ST_VERSION into $VENV" >&2
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$ST_VERSION"
fi

WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# OS-assigned HTTP and MQTT ports (never the default MQTT port 1883, which another broker may hold).
env -u COORDINATOR_ALLOW_RESET HOME="$WORK" COORDINATOR_MQTT_TCP_PORT=0 \
  "$BIN" server start --port 0 --data-dir "$WORK/data" >"$WORK/server.out" 2>"$WORK/server.err" &
SERVER_PID=$!

PORT=
for _ in $(seq 1 300); do
  PORT=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9][0-9]*\)/mcp.*|\1|p' "$WORK/server.err" | head -n 1)
  [ -n "$PORT" ] && break
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "schemathesis: the server exited before listening:" >&2
    cat "$WORK/server.err" >&2
    exit 1
  fi
  sleep 0.1
done
if [ -z "$PORT" ]; then
  echo "schemathesis: the server did not print its port within 30 s:" >&2
  cat "$WORK/server.err" >&2
  exit 1
fi
BASE="http://127.0.0.1:$PORT"
echo "schemathesis $ST_VERSION against $BASE/api/openapi.json" >&2

args=(
  run "$BASE/api/openapi.json"
  --url "$BASE"
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance
  --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-30}"
  --exclude-path /api/events
  --workers 1
  --request-timeout 10
)
if [ -n "${SCHEMATHESIS_SEED:-}" ]; then
  args+=(--seed "$SCHEMATHESIS_SEED")
fi

status=0
(cd "$WORK" && "$ST" --no-color "${args[@]}") || status=$?

if ! kill -0 "$SERVER_PID" 2>/dev/null; then
  echo "schemathesis: the server died during the run:" >&2
  tail -n 50 "$WORK/server.err" >&2
  status=1
fi
if grep -q '"level":"ERROR"' "$WORK/server.err"; then
  echo "schemathesis: the server logged errors (for information):" >&2
  grep '"level":"ERROR"' "$WORK/server.err" | tail -n 20 >&2
fi
exit "$status"
