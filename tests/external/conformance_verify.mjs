#!/usr/bin/env node
// Reads the MCP conformance suite's results (one `server-<scenario>-<timestamp>/checks.json` per scenario)
// and judges them against a baseline of expected failures, independently of the suite's own
// `--expected-failures` verdict:
//   * a scenario fails when any of its checks is FAILURE or WARNING, or it has no check at all
//     (the suite's own rule, plus "no checks" so an empty scenario cannot pass);
//   * a failure not in the baseline is an error; a baseline entry that passed is an error (stale);
//     a baseline entry naming a scenario that did not run is an error (typo or removed scenario);
//   * the core scenarios must pass and may not be baselined, and their passes must be real: the
//     details in checks.json are asserted (26 tools, 403/200 on the Host check, our serverInfo, ...).
// Usage: node conformance_verify.mjs RESULTS_DIR BASELINE_TXT MODE(stateless|stateful) [YAML_OUT]
// With YAML_OUT it only converts the baseline to the suite's YAML format and exits.
import { readFileSync, readdirSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";

const [resultsDir, baselinePath, mode, yamlOut] = process.argv.slice(2);
if (!baselinePath || !["stateless", "stateful"].includes(mode)) {
  console.error("usage: conformance_verify.mjs RESULTS_DIR BASELINE_TXT stateless|stateful [YAML_OUT]");
  process.exit(2);
}

// Scenarios that must pass in each mode, each with a check that its pass is not vacuous.
const TOOL_COUNT = 26;
const byId = (checks, id) => checks.find((c) => c.id === id);
const CORE = {
  "server-initialize": (checks) => {
    const c = byId(checks, "server-initialize");
    return c?.status === "SUCCESS" && c.details?.connected === true ? null : "no SUCCESS with details.connected";
  },
  ping: (checks) => {
    const c = byId(checks, "ping");
    return c?.status === "SUCCESS" && c.details?.result && typeof c.details.result === "object"
      ? null
      : "ping did not return an (empty) result object";
  },
  "tools-list": (checks) => {
    const c = byId(checks, "tools-list");
    if (c?.status !== "SUCCESS") return "tools-list not SUCCESS";
    if (c.details?.toolCount !== TOOL_COUNT) return `toolCount ${c.details?.toolCount}, expected ${TOOL_COUNT}`;
    return null;
  },
  "dns-rebinding-protection": (checks) => {
    const bad = byId(checks, "localhost-host-rebinding-rejected");
    const good = byId(checks, "localhost-host-valid-accepted");
    if (bad?.status !== "SUCCESS" || !(bad.details?.statusCode >= 400 && bad.details?.statusCode < 500))
      return `foreign Host not rejected with 4xx (status ${bad?.details?.statusCode})`;
    if (good?.status !== "SUCCESS" || good.details?.statusCode !== 200)
      return `loopback Host not accepted (status ${good?.details?.statusCode})`;
    // The suite keeps a JSON body; a stateful server answers initialize as SSE, which it records as null.
    const body = good.details?.body;
    if (body == null && mode === "stateful") return null;
    const name = body?.result?.serverInfo?.name;
    if (name !== "mcp-coordinator") return `accepted initialize has serverInfo.name ${JSON.stringify(name)}`;
    return null;
  },
};
const CORE_STATEFUL = {
  "server-sse-multiple-streams": (checks) => {
    const acc = byId(checks, "server-accepts-multiple-post-streams");
    const fun = byId(checks, "server-sse-streams-functional");
    if (acc?.status !== "SUCCESS" || acc.details?.numStreamsAccepted !== acc.details?.numStreamsAttempted)
      return "concurrent POSTs on one session were not all accepted";
    if (fun?.status !== "SUCCESS" || !(fun.details?.functionalSseStreams >= 1)) return "no functional SSE stream";
    return null;
  },
};
const core = mode === "stateful" ? { ...CORE, ...CORE_STATEFUL } : CORE;

// Baseline: `scenario  # reason`, blank lines and whole-line comments ignored.
const problems = [];
const baseline = new Map();
readFileSync(baselinePath, "utf8")
  .split("\n")
  .forEach((line, i) => {
    const t = line.trim();
    if (!t || t.startsWith("#")) return;
    const hash = t.indexOf("#");
    const name = (hash < 0 ? t : t.slice(0, hash)).trim();
    const reason = hash < 0 ? "" : t.slice(hash + 1).trim();
    if (!/^[a-z0-9-]+$/.test(name)) problems.push(`${baselinePath}:${i + 1}: not a scenario name: ${JSON.stringify(name)}`);
    else if (!reason) problems.push(`${baselinePath}:${i + 1}: ${name} has no '# reason'`);
    else if (baseline.has(name)) problems.push(`${baselinePath}:${i + 1}: ${name} listed twice`);
    else if (name in core) problems.push(`${baselinePath}:${i + 1}: ${name} must pass in ${mode} mode and cannot be baselined`);
    else baseline.set(name, reason);
  });

if (yamlOut) {
  if (problems.length) {
    problems.forEach((p) => console.error(p));
    process.exit(1);
  }
  writeFileSync(yamlOut, "server:\n" + [...baseline.keys()].map((n) => `  - ${n}\n`).join(""));
  process.exit(0);
}

// Results: server-<scenario>-<ISO timestamp with - for :>.
const results = new Map();
for (const entry of readdirSync(resultsDir)) {
  const m = /^server-(.+)-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$/.exec(entry);
  const file = join(resultsDir, entry, "checks.json");
  if (!m || !existsSync(file)) continue;
  if (results.has(m[1])) problems.push(`scenario ${m[1]} has more than one result directory`);
  results.set(m[1], JSON.parse(readFileSync(file, "utf8")));
}
if (results.size === 0) problems.push(`no results under ${resultsDir}`);

const rows = [];
for (const [scenario, checks] of [...results.entries()].sort()) {
  const failed = checks.filter((c) => c.status === "FAILURE" || c.status === "WARNING");
  const passes = checks.filter((c) => c.status === "SUCCESS").length;
  const fails = checks.length === 0 || failed.length > 0;
  const first = failed[0];
  const why = first ? `${first.status}: ${first.errorMessage || first.details?.message || first.id}` : "";
  let verdict;
  if (fails && baseline.has(scenario)) verdict = "expected-fail";
  else if (fails) {
    verdict = "UNEXPECTED-FAIL";
    problems.push(`${scenario}: unexpected failure (${checks.length === 0 ? "no checks" : why})`);
  } else if (baseline.has(scenario)) {
    verdict = "STALE";
    problems.push(`${scenario}: passes now but is listed in ${baselinePath}: remove the line`);
  } else verdict = "pass";
  if (!fails && scenario in core) {
    const vacuous = core[scenario](checks);
    if (vacuous) {
      verdict = "VACUOUS";
      problems.push(`${scenario}: passed, but not for real: ${vacuous}`);
    }
  }
  rows.push([scenario, verdict, `${passes}/${checks.length}`, fails ? why.slice(0, 70) : ""]);
}
for (const name of Object.keys(core)) if (!results.has(name)) problems.push(`core scenario ${name} did not run`);
for (const name of baseline.keys()) if (!results.has(name)) problems.push(`baseline entry ${name} did not run (removed or misspelt?)`);

const w = Math.max(...rows.map((r) => r[0].length), 8);
console.log(`conformance (${mode}): ${"scenario".padEnd(w)}  ${"verdict".padEnd(15)}  ok/checks  first problem`);
for (const [s, v, n, why] of rows) console.log(`conformance (${mode}): ${s.padEnd(w)}  ${v.padEnd(15)}  ${n.padEnd(9)}  ${why}`);
const count = (v) => rows.filter((r) => r[1] === v).length;
console.log(
  `conformance (${mode}): ${count("pass")} pass, ${count("expected-fail")} expected failures (baseline), ` +
    `${problems.length} problem(s)`,
);
if (problems.length) {
  problems.forEach((p) => console.log(`conformance (${mode}): ERROR ${p}`));
  process.exit(1);
}
