#!/usr/bin/env bash
# External MQTT peer check: starts the given mcp-coordinator binary on free ports with a throw-away data dir and
# runs paho_check.py (paho-mqtt 2.2, TCP and WebSocket, MQTT 3.1.1 and 5) against it.
# Usage: tests/external/paho.sh <path to mcp-coordinator>
set -euo pipefail

BIN=${1:?usage: paho.sh <mcp-coordinator binary>}
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE="$HERE/.cache"
VENV="$CACHE/paho-venv"
mkdir -p "$CACHE"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
if ! "$VENV/bin/python" -c 'import paho.mqtt, sys; sys.exit(0 if paho.mqtt.__version__.startswith("2.2") else 1)' 2>/dev/null; then
  "$VENV/bin/pip" install --quiet 'paho-mqtt>=2.2,<2.3'
fi

free_port() { "$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
HTTP_PORT=$(free_port)
MQTT_PORT=$(free_port)
WORK=$(mktemp -d)
LOG="$WORK/server.log"
cleanup() {
  if [ -n "${PID:-}" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

HOME="$WORK" PORT="$HTTP_PORT" COORDINATOR_MQTT_TCP_PORT="$MQTT_PORT" COORDINATOR_MQTT_REQUIRED=true \
  COORDINATOR_DATA_DIR="$WORK/data" "$BIN" server start >"$LOG" 2>&1 &
PID=$!
for _ in $(seq 1 100); do
  if curl -fsS "http://127.0.0.1:$HTTP_PORT/readyz" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$PID" 2>/dev/null; then echo "server exited:"; cat "$LOG"; exit 1; fi
  sleep 0.1
done
"$VENV/bin/python" "$HERE/paho_check.py" --http-port "$HTTP_PORT" --mqtt-port "$MQTT_PORT"
