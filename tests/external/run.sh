#!/usr/bin/env bash
# External-peer checks: clients nobody on the team wrote, run against the real binary.
#
#   tests/external/run.sh [BINARY] [CHECK...]
#
# BINARY defaults to target/debug/mcp-coordinator (relative to the current directory, else to the repo).
# CHECK names (default: all): conformance-stateless conformance-stateful py-sdk-stateless py-sdk-stateful
# py-sdk-stdio schemathesis (and the scripts listed in SCRIPT_CHECKS). See tests/external/README.md.
#
# Environment:
#   MCPC_EXTERNAL_OPTIONAL=1  a check whose tool (node/npm, python3) is missing is skipped instead of failed
#   MCPC_EXTERNAL_CACHE=DIR   where the pinned clients are installed (default tests/external/.cache)
#   MCPC_EXTERNAL_PYTHON=EXE  interpreter for the venv (default python3; needs >= 3.10 with venv)
#   MCPC_EXTERNAL_KEEP=1      keep the servers' temp dirs (logs, databases) and print where they are
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
ALL_CHECKS=(conformance-stateless conformance-stateful py-sdk-stateless py-sdk-stateful py-sdk-stdio schemathesis dashboard paho)

if [[ ${1:-} == -h || ${1:-} == --help ]]; then
    sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
fi

BIN_ARG="${1:-target/debug/mcp-coordinator}"
if [[ $# -gt 0 ]]; then shift; fi
if [[ $BIN_ARG == /* ]]; then
    BIN="$BIN_ARG"
elif [[ -e $BIN_ARG ]]; then
    BIN="$(cd "$(dirname "$BIN_ARG")" && pwd)/$(basename "$BIN_ARG")"
else
    BIN="$REPO/$BIN_ARG"
fi
if [[ ! -x $BIN ]]; then
    echo "external: ERROR: no executable mcp-coordinator at $BIN; build it first: cargo build --bin mcp-coordinator" >&2
    exit 1
fi

CHECKS=("$@")
if [[ ${#CHECKS[@]} -eq 0 ]]; then CHECKS=("${ALL_CHECKS[@]}"); fi
for c in "${CHECKS[@]}"; do
    if [[ " ${ALL_CHECKS[*]} " != *" $c "* ]]; then
        echo "external: ERROR: unknown check '$c' (known: ${ALL_CHECKS[*]})" >&2
        exit 2
    fi
done

CACHE="${MCPC_EXTERNAL_CACHE:-$HERE/.cache}"
OPTIONAL="${MCPC_EXTERNAL_OPTIONAL:-0}"
PYTHON="${MCPC_EXTERNAL_PYTHON:-python3}"
CLIENT_TIMEOUT=120 # seconds for one external client run; the whole script stays well under 6 minutes
CONFORMANCE_VERSION="$(sed -n 's/.*"@modelcontextprotocol\/conformance": "\([^"]*\)".*/\1/p' "$HERE/package.json")"
MCP_PY_VERSION="$(sed -n 's/^mcp==//p' "$HERE/requirements.txt")"
SKIP=77

mkdir -p "$CACHE"
RUN_TMP="$(mktemp -d "${TMPDIR:-/tmp}/mcpc-external.XXXXXX")"
PIDS_FILE="$RUN_TMP/server-pids"
: >"$PIDS_FILE"

# Stops every server this run started (their pids are in PIDS_FILE, whichever subshell started them).
stop_servers() {
    [[ -s $PIDS_FILE ]] || return 0
    local pid deadline=$((SECONDS + 10)) alive
    while read -r pid; do kill -TERM "$pid" 2>/dev/null || true; done <"$PIDS_FILE"
    while :; do
        alive=0
        while read -r pid; do if kill -0 "$pid" 2>/dev/null; then alive=1; fi; done <"$PIDS_FILE"
        if [[ $alive == 0 ]]; then break; fi
        if ((SECONDS >= deadline)); then
            while read -r pid; do kill -KILL "$pid" 2>/dev/null || true; done <"$PIDS_FILE"
            break
        fi
        sleep 0.1
    done
    : >"$PIDS_FILE"
}

CHECK_JOB=""
cleanup() {
    # An interrupted check: end its process group (its clients and the servers it started).
    if [[ -n $CHECK_JOB ]]; then kill -TERM -- "-$CHECK_JOB" 2>/dev/null || true; fi
    stop_servers
    if [[ ${MCPC_EXTERNAL_KEEP:-0} == 1 ]]; then
        echo "external: kept server dirs and logs in $RUN_TMP"
    else
        rm -rf "$RUN_TMP"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------------------------------
# Helpers used inside the checks (each check runs in a subshell with `set -e`).

detail() { printf '%s' "$*" >"$RUN_TMP/detail-$CHECK_NAME"; }

# A required tool is missing: fail (or skip under MCPC_EXTERNAL_OPTIONAL=1) with how to get it.
missing() {
    local what=$1 how=$2
    if [[ $OPTIONAL == 1 ]]; then
        echo "SKIP: $what is missing ($how); skipped because MCPC_EXTERNAL_OPTIONAL=1"
        detail "skipped: $what missing"
        exit $SKIP
    fi
    echo "ERROR: $what is missing. $how. (Set MCPC_EXTERNAL_OPTIONAL=1 to skip this check instead.)"
    detail "$what missing"
    exit 1
}

need_node() {
    local how="Install Node.js >= 20.18.1 with npm: apt-get install nodejs npm, or a release from nodejs.org"
    command -v node >/dev/null 2>&1 || missing "node" "$how"
    command -v npm >/dev/null 2>&1 || missing "npm" "$how"
    node -e 'const [a,b,c]=process.versions.node.split(".").map(Number); process.exit(a>20||(a==20&&(b>18||(b==18&&c>=1)))?0:1)' ||
        missing "node >= 20.18.1 (found $(node --version))" "$how"
}

need_python() {
    local how="Install Python >= 3.10 with venv: apt-get install python3 python3-venv (or set MCPC_EXTERNAL_PYTHON)"
    command -v "$PYTHON" >/dev/null 2>&1 || missing "$PYTHON" "$how"
    "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' 2>/dev/null ||
        missing "$PYTHON >= 3.10 (found $("$PYTHON" --version 2>&1))" "$how"
    "$PYTHON" -c 'import venv, ensurepip' 2>/dev/null || missing "the venv module of $PYTHON" "$how"
    # The real interpreter (a pyenv shim costs ~0.5 s a call).
    PYTHON="$("$PYTHON" -c 'import sys; print(sys.executable)')"
}

# Installs are serialised (flock) and stamped with the hash of their pins, so a warm cache costs nothing.
with_install_lock() {
    if command -v flock >/dev/null 2>&1; then
        (flock 9 && "$@") 9>"$CACHE/.install.lock"
    else
        "$@"
    fi
}

install_conformance() {
    local dir="$CACHE/npm" stamp
    stamp="$({ cat "$HERE/package.json" "$HERE/package-lock.json"; node --version; } | sha256sum | cut -d' ' -f1)"
    if [[ -f $dir/.stamp && $(cat "$dir/.stamp") == "$stamp" && -x $dir/node_modules/.bin/conformance ]]; then
        return 0
    fi
    echo "installing @modelcontextprotocol/conformance@$CONFORMANCE_VERSION into $dir (npm ci)"
    rm -rf "$dir"
    mkdir -p "$dir"
    cp "$HERE/package.json" "$HERE/package-lock.json" "$dir/"
    if ! (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error); then
        echo "ERROR: npm ci failed in $dir (is the npm registry reachable?)"
        return 1
    fi
    echo "$stamp" >"$dir/.stamp"
}

install_venv() {
    local venv="$CACHE/venv" stamp
    stamp="$({ cat "$HERE/requirements.txt"; "$PYTHON" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)"
    if [[ -f $venv/.stamp && $(cat "$venv/.stamp") == "$stamp" && -x $venv/bin/python ]]; then
        return 0
    fi
    echo "installing mcp==$MCP_PY_VERSION into $venv ($("$PYTHON" --version 2>&1))"
    rm -rf "$venv"
    if ! "$PYTHON" -m venv "$venv"; then
        echo "ERROR: '$PYTHON -m venv' failed: apt-get install python3-venv"
        return 1
    fi
    if ! "$venv/bin/python" -m pip install --disable-pip-version-check --no-input -q -r "$HERE/requirements.txt"; then
        echo "ERROR: pip install -r requirements.txt failed (is PyPI reachable?)"
        return 1
    fi
    echo "$stamp" >"$venv/.stamp"
}

# start_server MODE: a fresh HOME/data dir, OS-assigned HTTP and MQTT ports; sets SERVER_URL and SERVER_LOG.
start_server() {
    local mode=$1 dir pid line deadline
    dir="$(mktemp -d "$RUN_TMP/server-$mode.XXXXXX")"
    : >"$dir/stderr.log"
    # Port 0 for HTTP and MQTT: never the default 1883 (another broker may hold it; parallel servers would compete).
    env -i PATH="$PATH" HOME="$dir" PORT=0 COORDINATOR_MQTT_TCP_PORT=0 RUST_BACKTRACE=1 LOG_LEVEL=info \
        COORDINATOR_MCP_SESSION_MODE="$mode" COORDINATOR_LOG_JSON=false COORDINATOR_SHUTDOWN_DRAIN_MS=500 \
        "$BIN" server start --port 0 --data-dir "$dir/data" >"$dir/stdout.log" 2>"$dir/stderr.log" </dev/null &
    pid=$!
    echo "$pid" >>"$PIDS_FILE"
    SERVER_LOG="$dir/stderr.log"
    deadline=$((SECONDS + 30))
    while :; do
        line="$(grep -m1 -o 'mcp-coordinator listening on http://[^ ]*/mcp' "$SERVER_LOG" || true)"
        if [[ -n $line ]]; then break; fi
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "ERROR: the $mode server exited before listening; its stderr:"
            tail -n 30 "$SERVER_LOG"
            detail "server did not start"
            return 1
        fi
        if ((SECONDS >= deadline)); then
            echo "ERROR: the $mode server printed no listening line within 30 s; its stderr:"
            tail -n 30 "$SERVER_LOG"
            detail "server did not start"
            return 1
        fi
        sleep 0.1
    done
    SERVER_URL="${line#mcp-coordinator listening on }"
    echo "server ($mode): $SERVER_URL (pid $pid, home $dir)"
}

# After a check: the server must still be alive and must not have panicked.
server_health() {
    local log=$1
    if grep -q 'panicked at' "$log"; then
        echo "ERROR: the server panicked:"
        grep -A5 'panicked at' "$log" | head -n 20
        return 1
    fi
    local errors
    errors="$(grep -c ' ERROR ' "$log" || true)"
    if [[ $errors != 0 ]]; then
        echo "note: the server logged $errors ERROR line(s):"
        grep ' ERROR ' "$log" | head -n 5
    fi
}

# ---------------------------------------------------------------------------------------------------------
# The checks.

check_conformance() {
    local mode=$1 conf out yaml suite_rc=0 verify_rc=0 vlog
    need_node
    with_install_lock install_conformance
    conf="$CACHE/npm/node_modules/.bin/conformance"
    yaml="$RUN_TMP/baseline-$mode.yaml"
    node "$HERE/conformance_verify.mjs" - "$HERE/conformance-baseline-$mode.txt" "$mode" "$yaml"
    start_server "$mode"
    out="$CACHE/results/conformance-$mode"
    rm -rf "$out"
    mkdir -p "$out"
    echo "conformance@$CONFORMANCE_VERSION server --url $SERVER_URL --expected-failures tests/external/conformance-baseline-$mode.txt (results: $out)"
    timeout --foreground -k 10 "$CLIENT_TIMEOUT" "$conf" server --url "$SERVER_URL" --expected-failures "$yaml" -o "$out" \
        >"$out/suite-output.txt" 2>&1 || suite_rc=$?
    # The suite's own verdict (its summary and baseline section).
    sed -n '/=== SUMMARY ===/,$p' "$out/suite-output.txt" | sed 's/\x1b\[[0-9;]*m//g' |
        grep -E '^(Total:|Baseline|Unexpected|Stale|  [✗+] )' | sed 's/^/suite: /' || true
    if [[ $suite_rc == 124 || $suite_rc == 137 ]]; then
        echo "ERROR: the conformance suite did not finish within ${CLIENT_TIMEOUT}s; tail of its output:"
        tail -n 20 "$out/suite-output.txt"
        detail "suite timed out"
        return 1
    fi
    # Our verdict, from checks.json (also catches vacuous passes and a stale or misspelt baseline).
    vlog="$RUN_TMP/verify-$mode.txt"
    node "$HERE/conformance_verify.mjs" "$out" "$HERE/conformance-baseline-$mode.txt" "$mode" >"$vlog" 2>&1 || verify_rc=$?
    cat "$vlog"
    detail "$(grep -o '[0-9]* pass, [0-9]* expected failures.*' "$vlog" | tail -n 1 | sed 's/ (baseline)//')"
    server_health "$SERVER_LOG"
    stop_servers
    if [[ $verify_rc != 0 ]]; then return 1; fi
    if [[ $suite_rc != 0 ]]; then
        echo "ERROR: the suite's own baseline check failed (exit $suite_rc) although checks.json agrees with the baseline; see $out/suite-output.txt"
        return 1
    fi
}

check_py_sdk_http() {
    local mode=$1
    need_python
    with_install_lock install_venv
    start_server "$mode"
    echo "py mcp==$MCP_PY_VERSION against $SERVER_URL (modes auto, legacy)"
    local rc=0
    timeout --foreground -k 10 "$CLIENT_TIMEOUT" "$CACHE/venv/bin/python" -u "$HERE/py_sdk_client.py" http "$SERVER_URL" \
        --session-mode "$mode" --modes auto,legacy || rc=$?
    server_health "$SERVER_LOG" || rc=1
    if [[ $rc != 0 ]]; then
        echo "tail of the server's stderr:"
        tail -n 15 "$SERVER_LOG"
    fi
    stop_servers
    if [[ $rc == 124 || $rc == 137 ]]; then detail "timed out after ${CLIENT_TIMEOUT}s"; else detail "auto (2026-07-28 discover) + legacy (initialize)"; fi
    return "$rc"
}

check_py_sdk_stdio() {
    need_python
    with_install_lock install_venv
    echo "py mcp==$MCP_PY_VERSION stdio client spawning $BIN stdio (modes auto, legacy)"
    local rc=0
    timeout --foreground -k 10 "$CLIENT_TIMEOUT" "$CACHE/venv/bin/python" -u "$HERE/py_sdk_client.py" stdio "$BIN" \
        --modes auto,legacy || rc=$?
    if [[ $rc == 124 || $rc == 137 ]]; then detail "timed out after ${CLIENT_TIMEOUT}s"; else detail "auto + legacy over stdin/stdout"; fi
    return "$rc"
}

# A self-contained script check: tests/external/<name>.sh <binary> (it starts and stops its own server).
check_script() {
    local script="$HERE/$1.sh"
    [[ -f $script ]] || { detail "missing $script"; return 1; }
    local rc=0
    timeout --foreground -k 10 600 bash "$script" "$BIN" || rc=$?
    if [[ $rc == 124 || $rc == 137 ]]; then detail "timed out after 600s"; else detail "$1.sh"; fi
    return "$rc"
}

run_check() {
    case $1 in
        schemathesis) need_python; check_script schemathesis ;;
        dashboard) need_node; check_script dashboard ;;
        paho) need_python; check_script paho ;;
        conformance-stateless) check_conformance stateless ;;
        conformance-stateful) check_conformance stateful ;;
        py-sdk-stateless) check_py_sdk_http stateless ;;
        py-sdk-stateful) check_py_sdk_http stateful ;;
        py-sdk-stdio) check_py_sdk_stdio ;;
    esac
}

# ---------------------------------------------------------------------------------------------------------

echo "external: binary $BIN"
echo "external: cache $CACHE (conformance $CONFORMANCE_VERSION, py mcp $MCP_PY_VERSION)"
START=$SECONDS
declare -a RESULTS=()
passed=0 failed=0 skipped=0
for CHECK_NAME in "${CHECKS[@]}"; do
    echo
    echo "=== $CHECK_NAME"
    t0=$SECONDS
    # The check runs as a background job of its own (set -m: own process group) so that an interrupt
    # reaches this shell's trap at once and can end the check's whole process group.
    rm -f "$RUN_TMP/rc"
    set -m
    (
        {
            (
                set -e
                run_check "$CHECK_NAME"
            )
            echo $? >"$RUN_TMP/rc"
        } 2>&1 </dev/null | sed -u "s/^/[$CHECK_NAME] /"
    ) &
    CHECK_JOB=$!
    set +m
    wait "$CHECK_JOB" || true
    CHECK_JOB=""
    rc="$(cat "$RUN_TMP/rc" 2>/dev/null || echo 1)"
    stop_servers # in case the check died before stopping its server
    case $rc in
        0) result=PASS passed=$((passed + 1)) ;;
        "$SKIP") result=SKIP skipped=$((skipped + 1)) ;;
        *) result=FAIL failed=$((failed + 1)) ;;
    esac
    d="$(cat "$RUN_TMP/detail-$CHECK_NAME" 2>/dev/null || true)"
    if [[ $result == FAIL && -z $d ]]; then d="exit $rc; see [$CHECK_NAME] lines above"; fi
    RESULTS+=("$(printf '%-22s %-5s %5ss  %s' "$CHECK_NAME" "$result" "$((SECONDS - t0))" "$d")")
done

echo
echo "=== external-peer checks: summary"
printf '%-22s %-5s %6s  %s\n' check result time detail
for row in "${RESULTS[@]}"; do echo "$row"; done
echo "total $((SECONDS - START))s"
echo "external: $passed passed, $failed failed, $skipped skipped"
if [[ $failed != 0 ]]; then exit 1; fi
