#!/usr/bin/env bash
# External MQTT peer check: starts the given mcp-coordinator binary on OS-assigned ports with a throw-away data dir and
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

WORK=$(mktemp -d)
LOG="$WORK/server.log"
cleanup() {
  if [ -n "${PID:-}" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# OS-assigned HTTP and MQTT ports (never the default 1883: another broker may hold it), read back from the server:
# the HTTP port from its "listening on" line, the MQTT port from /health (mqtt_tcp_port). MQTT_REQUIRED makes a
# listener that cannot bind fatal instead of a silent WebSocket-only start.
: >"$LOG"
HOME="$WORK" PORT=0 COORDINATOR_MQTT_TCP_PORT=0 COORDINATOR_MQTT_REQUIRED=true \
  COORDINATOR_DATA_DIR="$WORK/data" "$BIN" server start --port 0 >"$LOG" 2>&1 &
PID=$!
HTTP_PORT=
for _ in $(seq 1 300); do
  HTTP_PORT=$(sed -nE 's#.*listening on http://127\.0\.0\.1:([0-9]+)/mcp.*#\1#p' "$LOG" | head -n 1)
  [ -n "$HTTP_PORT" ] && break
  if ! kill -0 "$PID" 2>/dev/null; then echo "server exited:"; cat "$LOG"; exit 1; fi
  sleep 0.1
done
if [ -z "$HTTP_PORT" ]; then echo "the server did not report its port within 30 s:"; cat "$LOG"; exit 1; fi
MQTT_PORT=
for _ in $(seq 1 100); do
  MQTT_PORT=$(curl -fsS "http://127.0.0.1:$HTTP_PORT/health" 2>/dev/null |
    "$VENV/bin/python" -c 'import json, sys; p = json.load(sys.stdin).get("mqtt_tcp_port"); print(p or "")' 2>/dev/null || true)
  [ -n "$MQTT_PORT" ] && break
  if ! kill -0 "$PID" 2>/dev/null; then echo "server exited:"; cat "$LOG"; exit 1; fi
  sleep 0.1
done
if [ -z "$MQTT_PORT" ]; then echo "/health reported no mqtt_tcp_port:"; cat "$LOG"; exit 1; fi
echo "paho: server on HTTP port $HTTP_PORT, MQTT port $MQTT_PORT"
"$VENV/bin/python" "$HERE/paho_check.py" --http-port "$HTTP_PORT" --mqtt-port "$MQTT_PORT"
