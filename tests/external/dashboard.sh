#!/usr/bin/env bash
# Headless Chromium test of the live dashboard (TESTING.md "Browser"): starts the real server binary on
# OS-assigned ports (HTTP and MQTT) with a throw-away HOME and data dir, then runs dashboard.mjs (playwright-core
# driving the system Chromium), which drives MCP calls and checks that each result appears live in the page.
#
# Usage: tests/external/dashboard.sh <path to mcp-coordinator>
# Installs, only when missing: Debian `chromium` (apt) and npm `playwright-core` (pinned) into
# tests/external/.cache/playwright-core-<version>/.
# Writes the screenshots to tests/external/.artifacts/ and prints their paths. Exits non-zero on failure.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
bin="${1:?usage: dashboard.sh <mcp-coordinator binary>}"
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
[ -x "$bin" ] || { echo "dashboard: $bin is not an executable" >&2; exit 2; }
PW_VERSION=1.65.1
cache="$here/.cache/playwright-core-$PW_VERSION"
artifacts="$here/.artifacts"
mkdir -p "$cache" "$artifacts"

if [ ! -x /usr/bin/chromium ]; then
  echo "dashboard: installing chromium with apt-get" >&2
  apt-get install -y chromium >&2 || { apt-get update >&2 && apt-get install -y chromium >&2; }
fi
if [ ! -f "$cache/node_modules/playwright-core/package.json" ]; then
  echo "dashboard: installing playwright-core into $cache" >&2
  [ -f "$cache/package.json" ] || echo '{"private": true}' > "$cache/package.json"
  npm install --prefix "$cache" --no-audit --no-fund --loglevel=error "playwright-core@$PW_VERSION" >&2
fi

tmp="$(mktemp -d)"
log="$tmp/server.log"
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

: >"$log"
# OS-assigned HTTP and MQTT ports (never the default MQTT port 1883, which another broker may hold).
HOME="$tmp" PORT=0 COORDINATOR_MQTT_TCP_PORT=0 "$bin" server start --port 0 --data-dir "$tmp/data" 2>"$log" >/dev/null &
pid=$!

# Wait (bounded, polling the log) for "mcp-coordinator listening on http://127.0.0.1:PORT/mcp".
port=""
deadline=$((SECONDS + 30))
while [ -z "$port" ]; do
  port="$(sed -nE 's#.*listening on http://127\.0\.0\.1:([0-9]+)/mcp.*#\1#p' "$log" | head -n 1 || true)"
  [ -n "$port" ] && break
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "dashboard: the server exited before listening:" >&2
    cat "$log" >&2
    exit 1
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "dashboard: the server did not report its port within 30 s:" >&2
    cat "$log" >&2
    exit 1
  fi
  sleep 0.1
done
echo "dashboard: server on port $port" >&2

status=0
DASH_CACHE="$cache" DASH_ARTIFACTS="$artifacts" node "$here/dashboard.mjs" "http://127.0.0.1:$port" || status=$?
if [ "$status" -ne 0 ]; then
  echo "dashboard: FAILED (exit $status); server log tail:" >&2
  tail -n 30 "$log" >&2
fi
exit "$status"
