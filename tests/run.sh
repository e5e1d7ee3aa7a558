#!/usr/bin/env bash
# The test command: every tier that exists — unit, property, store conformance and full-app tests
# (cargo nextest), then the external-peer checks (official MCP conformance suite, official MCP
# Python SDK) against the real binary.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --bin mcp-coordinator
cargo nextest run --no-fail-fast
bash tests/external/run.sh target/debug/mcp-coordinator
