#!/usr/bin/env python3
"""Drives mcp-coordinator with the official MCP Python SDK (PyPI `mcp`, pinned in requirements.txt).

Usage:
  py_sdk_client.py http URL [--session-mode stateless|stateful] [--modes auto,legacy]
  py_sdk_client.py stdio BINARY [--modes auto,legacy]

http:  for each mode (`auto` = `server/discover` at 2026-07-28, `legacy` = `initialize` handshake) it
       lists the tools (exactly the 26 names), registers two agents, announces work on the same file
       twice (the second answer must name the first agent as concerned and leave the thread open), and
       sends bad arguments (isError result whose text starts with `Invalid arguments:`). It records every
       HTTP response and fails on a 5xx, and checks the Mcp-Session-Id behaviour of the session mode.
stdio: spawns `BINARY stdio --data-dir <temp>` through the SDK's stdio client, lists the tools and
       makes one call, in each mode.

Exit status 0 when every step passed; each step prints one `ok`/`FAIL` line.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import traceback
import uuid
from typing import Any

import warnings

import anyio
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

# Spec mcp-tools.md: exactly these 26 tools.
EXPECTED_TOOLS = {
    "register_agent", "list_agents", "heartbeat", "agent_activity",
    "announce_work", "post_to_thread", "propose_resolution", "approve_resolution", "contest_resolution",
    "close_thread", "cancel_thread", "get_thread", "get_thread_updates", "list_threads", "log_action_summary",
    "hot_files", "get_session_files", "check_file_conflict", "set_dependency_map", "get_blast_radius",
    "get_module_info", "wait_for_message", "get_queued_messages", "mqtt_publish",
    "coordinator_status", "wait_for_peers",
}  # fmt: skip
assert len(EXPECTED_TOOLS) == 26

# What each connect mode must negotiate.
EXPECTED_VERSION = {"auto": "2026-07-28", "legacy": "2025-11-25"}

# Bound for one mode's whole scenario, so a hang fails instead of blocking run.sh.
STEP_TIMEOUT_S = 60


class CheckFailed(AssertionError):
    pass


def check(cond: bool, what: str) -> None:
    if not cond:
        raise CheckFailed(what)


def text_of(result: Any) -> str:
    check(len(result.content) >= 1, f"result has no content: {result!r}")
    item = result.content[0]
    check(getattr(item, "type", None) == "text", f"first content item is not text: {item!r}")
    return item.text


def json_of(result: Any, tool: str) -> Any:
    check(not result.is_error, f"{tool} returned isError: {text_of(result)}")
    raw = text_of(result)
    try:
        return json.loads(raw)
    except json.JSONDecodeError as e:
        raise CheckFailed(f"{tool} result text is not JSON ({e}): {raw[:200]}") from None


async def list_and_check_tools(client: Client) -> None:
    listed = await client.list_tools()
    names = [t.name for t in listed.tools]
    check(listed.next_cursor is None, f"tools/list is paginated (next_cursor={listed.next_cursor!r})")
    check(len(names) == 26, f"expected 26 tools, got {len(names)}: {sorted(names)}")
    check(len(set(names)) == len(names), f"duplicate tool names: {sorted(names)}")
    check(set(names) == EXPECTED_TOOLS,
          f"tool names differ: missing {sorted(EXPECTED_TOOLS - set(names))}, extra {sorted(set(names) - EXPECTED_TOOLS)}")  # fmt: skip


def check_negotiation(client: Client, mode: str) -> None:
    got = client.protocol_version
    check(got == EXPECTED_VERSION[mode], f"mode={mode}: negotiated {got!r}, expected {EXPECTED_VERSION[mode]!r}")
    session = client.session
    if mode == "auto":
        check(session.discover_result is not None, "mode=auto: no server/discover result (fell back to initialize?)")
    else:
        check(session.initialize_result is not None, "mode=legacy: no initialize result")
    info = client.server_info
    check(info is not None and info.name == "mcp-coordinator", f"serverInfo.name is not mcp-coordinator: {info!r}")
    caps = client.server_capabilities
    check(caps.tools is not None, f"server does not advertise the tools capability: {caps!r}")


async def coordination_flow(client: Client, tag: str) -> None:
    """Two agents, same file: the second announcement must concern the first agent."""
    alice, bob = f"{tag}-alice", f"{tag}-bob"
    path = f"ext/{tag}/auth/jwt.rs"

    a = json_of(await client.call_tool("register_agent", {"agent_id": alice, "name": "Alice", "modules": [f"ext/{tag}/auth"]}), "register_agent")  # fmt: skip
    check(a.get("id") == alice and a.get("status") == "online", f"register_agent(alice) row: {a}")
    b = json_of(await client.call_tool("register_agent", {"agent_id": bob, "name": "Bob", "modules": [f"ext/{tag}/ui"]}), "register_agent")  # fmt: skip
    check(b.get("id") == bob and b.get("status") == "online", f"register_agent(bob) row: {b}")

    first = json_of(
        await client.call_tool(
            "announce_work",
            {
                "agent_id": alice,
                "subject": "JWT rotation",
                "plan": f"Rotate signing keys in {path}: add a key id header and a second verification key.",
                "target_modules": [f"ext/{tag}/auth"],
                "target_files": [path],
            },
        ),
        "announce_work",
    )
    check(isinstance(first.get("thread"), dict) and first["thread"].get("initiator_id") == alice,
          f"first announce_work: thread missing or wrong initiator: {str(first)[:300]}")  # fmt: skip

    second = json_of(
        await client.call_tool(
            "announce_work",
            {
                "agent_id": bob,
                "subject": "Login page",
                "plan": f"Show token expiry on the login page; touches {path} to export the expiry.",
                "target_modules": [f"ext/{tag}/ui"],
                "target_files": [path],
            },
        ),
        "announce_work",
    )
    concerned = (second.get("impact") or {}).get("concerned")
    check(isinstance(concerned, list) and len(concerned) >= 1,
          f"second announce_work: impact.concerned is empty: {json.dumps(second.get('impact'))[:400]}")  # fmt: skip
    check(concerned[0].get("agent_id") == alice,
          f"second announce_work: impact.concerned[0].agent_id = {concerned[0].get('agent_id')!r}, expected {alice!r}")  # fmt: skip
    check(all(c.get("agent_id") != bob for c in concerned), "the announcer is listed as concerned by its own work")
    thread = second.get("thread") or {}
    check(thread.get("status") == "open", f"second announce_work: thread.status = {thread.get('status')!r}, expected 'open'")  # fmt: skip
    check(thread.get("initiator_id") == bob, f"second announce_work: thread.initiator_id = {thread.get('initiator_id')!r}")  # fmt: skip


async def bad_arguments(client: Client) -> None:
    # `modules` must be an array of strings, `agent_id` is required.
    r = await client.call_tool("register_agent", {"name": "Nobody", "modules": "not-a-list"})
    check(r.is_error, f"bad arguments did not give isError: {r!r}")
    t = text_of(r)
    check(t.startswith("Invalid arguments:"), f"bad-arguments text does not start with 'Invalid arguments:': {t!r}")


class HttpLog:
    """Every HTTP response the SDK's client received (method, status, session header)."""

    def __init__(self) -> None:
        self.responses: list[tuple[str, int, str | None]] = []

    async def hook(self, response: Any) -> None:
        self.responses.append(
            (response.request.method, response.status_code, response.headers.get("mcp-session-id"))
        )


async def run_http_mode(url: str, mode: str, session_mode: str | None) -> None:
    log = HttpLog()
    http_client = create_mcp_http_client()
    http_client.event_hooks["response"].append(log.hook)
    tag = f"{mode}-{uuid.uuid4().hex[:8]}"
    async with http_client:
        async with Client(streamable_http_client(url, http_client=http_client), mode=mode) as client:
            check_negotiation(client, mode)
            await list_and_check_tools(client)
            await coordination_flow(client, tag)
            await bad_arguments(client)
            if mode == "legacy":
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # "ping is removed as of 2026-07-28": we are on 2025-11-25
                    pong = await client.send_ping()
                check(pong is not None, "ping gave no result")
    server_errors = [r for r in log.responses if r[1] >= 500]
    check(not server_errors, f"server answered 5xx: {server_errors}")
    session_ids = {r[2] for r in log.responses if r[2]}
    if session_mode == "stateless":
        check(not session_ids, f"stateless server issued Mcp-Session-Id {session_ids}")
    elif session_mode == "stateful" and mode == "legacy":
        check(len(session_ids) == 1, f"stateful server: expected one Mcp-Session-Id on the initialize path, saw {session_ids}")  # fmt: skip
    elif session_mode == "stateful" and mode == "auto":
        # 2026-07-28 is always stateless (spec mcp-tools.md §9.1).
        check(not session_ids, f"2026-07-28 connection got Mcp-Session-Id {session_ids}")
    posts = [r for r in log.responses if r[0] == "POST"]
    check(posts and all(r[1] in (200, 202) for r in posts), f"unexpected POST statuses: {[r[1] for r in posts]}")


async def run_stdio_mode(binary: str, mode: str) -> None:
    home = tempfile.mkdtemp(prefix="mcpc-ext-stdio-")
    try:
        params = StdioServerParameters(
            command=os.path.abspath(binary),
            args=["stdio", "--data-dir", os.path.join(home, "data")],
            # MQTT port 0: should the command ever open a listener, it must not compete for 1883.
            env={"HOME": home, "COORDINATOR_LOG_JSON": "false", "LOG_LEVEL": "warn", "COORDINATOR_MQTT_TCP_PORT": "0"},
            cwd=home,
        )
        errpath = os.path.join(home, "stderr.log")
        try:
            with open(errpath, "w") as errlog:
                async with Client(stdio_client(params, errlog=errlog), mode=mode) as client:
                    check_negotiation(client, mode)
                    await list_and_check_tools(client)
                    agent = f"stdio-{mode}"
                    row = json_of(
                        await client.call_tool("register_agent", {"agent_id": agent, "name": "Stdio", "modules": []}),
                        "register_agent",
                    )
                    check(row.get("id") == agent and row.get("org_id") == "default",
                          f"stdio register_agent row: {row}")  # fmt: skip
                    await bad_arguments(client)
            with open(errpath) as f:
                check("panicked at" not in f.read(), "the stdio server panicked (see its stderr)")
        except BaseException:
            with open(errpath) as f:
                tail = f.read()[-2000:]
            print(f"--- server stderr ({mode}) ---\n{tail}", file=sys.stderr)
            raise
    finally:
        shutil.rmtree(home, ignore_errors=True)


async def run_all(args: argparse.Namespace) -> int:
    failures = 0
    for mode in args.modes:
        label = f"{args.transport} mode={mode}" + (f" server={args.session_mode}" if args.session_mode else "")
        try:
            with anyio.fail_after(STEP_TIMEOUT_S):
                if args.transport == "http":
                    await run_http_mode(args.target, mode, args.session_mode)
                else:
                    await run_stdio_mode(args.target, mode)
            print(f"ok   {label}", flush=True)
        except CheckFailed as e:
            failures += 1
            print(f"FAIL {label}: {e}", flush=True)
        except TimeoutError:
            failures += 1
            print(f"FAIL {label}: no answer within {STEP_TIMEOUT_S}s (hang)", flush=True)
        except BaseException as e:  # noqa: BLE001 - report any SDK/transport exception as a failure
            failures += 1
            print(f"FAIL {label}: {type(e).__name__}: {e}", flush=True)
            traceback.print_exc(file=sys.stderr)
    return 1 if failures else 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("transport", choices=["http", "stdio"])
    p.add_argument("target", help="MCP URL (http) or path of the mcp-coordinator binary (stdio)")
    p.add_argument("--session-mode", choices=["stateless", "stateful"], help="server's session mode (http only)")
    p.add_argument("--modes", default="auto,legacy", help="comma-separated: auto,legacy")
    args = p.parse_args()
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    for m in args.modes:
        if m not in EXPECTED_VERSION:
            p.error(f"unknown mode {m!r}")
    return anyio.run(run_all, args)


if __name__ == "__main__":
    sys.exit(main())
