// Browser test of the live dashboard, run by dashboard.sh against a real server:
//   node dashboard.mjs http://127.0.0.1:PORT   (env DASH_CACHE = dir holding node_modules/playwright-core,
//                                               DASH_ARTIFACTS = where screenshots go)
// 1. loads /dashboard/ in headless system Chromium (fresh profile), waits for the live SSE connection;
// 2. over MCP (plain JSON-RPC POSTs to the stateless /mcp), registers two agents, opens a consultation on a
//    shared file and resolves it (propose by the initiator, approve by the respondent), and waits for each step
//    to appear live: agent names, the consultation row open → resolving → resolved, the timeline rows;
// 3. smoothness: 20 more agents and enough events to pass 1000; the page must stay responsive and keep its
//    timeline capped;
// 4. no console error and no page error anywhere; screenshots saved and their paths printed.
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const base = process.argv[2];
if (!base) {
  console.error('usage: node dashboard.mjs http://127.0.0.1:PORT');
  process.exit(2);
}
const cacheDir = process.env.DASH_CACHE || path.join(import.meta.dirname, '.cache', 'playwright-core-1.65.1');
const artifacts = process.env.DASH_ARTIFACTS || path.join(import.meta.dirname, '.artifacts');
const require = createRequire(path.join(cacheDir, 'package.json'));
const { chromium } = require('playwright-core');

const FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
const WAIT_MS = 15000;
const TIMELINE_CAP = 300;

let rpcId = 0;

/** One MCP tools/call over the stateless streamable-HTTP endpoint; returns the parsed tool result. */
async function tool(name, args) {
  rpcId += 1;
  const res = await fetch(`${base}/mcp`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: rpcId, method: 'tools/call', params: { name, arguments: args } }),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${name}: HTTP ${res.status} ${text}`);
  let msg;
  if ((res.headers.get('content-type') || '').includes('text/event-stream')) {
    const datas = text.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).filter(Boolean);
    msg = datas.map((d) => JSON.parse(d)).find((m) => m.id === rpcId);
  } else {
    msg = JSON.parse(text);
  }
  if (!msg || msg.error) throw new Error(`${name}: ${JSON.stringify(msg && msg.error)}`);
  const out = msg.result.content?.[0]?.text ?? '';
  if (msg.result.isError) throw new Error(`${name} failed: ${out}`);
  try {
    return JSON.parse(out);
  } catch {
    return out;
  }
}

/** A REST POST (hooks API). */
async function rest(route, body) {
  const res = await fetch(`${base}${route}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${route}: HTTP ${res.status} ${await res.text()}`);
  return res.json();
}

/** Runs `fns` with at most `n` in flight. */
async function pool(n, fns) {
  let i = 0;
  const worker = async () => {
    while (i < fns.length) {
      const f = fns[i];
      i += 1;
      await f();
    }
  };
  await Promise.all(Array.from({ length: n }, worker));
}

function step(msg) {
  console.log(`dashboard: ${msg}`);
}

async function main() {
  const profile = mkdtempSync(path.join(tmpdir(), 'dash-chromium-'));
  const problems = [];
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: FLAGS,
    viewport: { width: 1500, height: 940 },
  });
  try {
    const page = context.pages()[0] || (await context.newPage());
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console error: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
    page.setDefaultTimeout(WAIT_MS);

    const nav = await page.goto(`${base}/dashboard`);
    if (!nav || nav.status() !== 200) throw new Error(`GET /dashboard → ${nav && nav.status()}`);
    if (!page.url().endsWith('/dashboard/')) throw new Error(`not redirected to /dashboard/: ${page.url()}`);
    await page.waitForSelector('#conn[data-state="live"]');
    await page.waitForSelector('#quota-text:has-text("Quota: not configured")');
    step('page loaded, event stream live');

    // Two agents appear live in the agent panel.
    await tool('register_agent', { agent_id: 'alice', name: 'Alice', modules: ['src/auth'] });
    await tool('register_agent', { agent_id: 'bob', name: 'Bob', modules: ['src/api'] });
    await page.waitForSelector('#agents li[data-id="alice"]:has-text("Alice")');
    await page.waitForSelector('#agents li[data-id="bob"]:has-text("Bob")');
    await page.waitForSelector('#timeline .ev[data-type="agent_online"]:has-text("Bob came online")');
    step('agents Alice and Bob shown');

    // Bob works on the file; Alice announces work on the same file: the consultation opens.
    await tool('heartbeat', { agent_id: 'bob', current_file: 'src/auth/session.rs' });
    await page.waitForSelector('#agents li[data-id="bob"][data-activity="working"]');
    await rest('/api/log-file', { session_id: 's-bob', agent_id: 'bob', tool_name: 'Edit', file: 'src/auth/session.rs' });
    const opened = await tool('announce_work', {
      agent_id: 'alice',
      subject: 'Rotate session tokens on login',
      plan: 'Edit src/auth/session.rs: add rotate_token() and call it from login(); keep the cookie name.',
      target_modules: ['src/auth'],
      target_files: ['src/auth/session.rs'],
    });
    const thread = opened.thread || {};
    if (thread.status !== 'open') throw new Error(`expected an open consultation, got ${JSON.stringify(opened)}`);
    const tid = thread.id;
    await page.waitForSelector(`#threads li[data-id="${tid}"][data-status="open"]:has-text("Rotate session tokens")`);
    await page.waitForSelector('#timeline .ev[data-type="thread_opened"]:has-text("Rotate session tokens")');
    step(`consultation ${tid} shown open`);

    await tool('post_to_thread', {
      thread_id: tid, agent_id: 'bob', type: 'context', content: 'I am renaming the session cookie; keep it in mind.',
    });
    await tool('propose_resolution', {
      thread_id: tid, agent_id: 'alice', summary: 'Alice rotates the token; Bob keeps the cookie rename in his branch.',
    });
    await page.waitForSelector(`#threads li[data-id="${tid}"][data-status="resolving"]`);
    await tool('approve_resolution', { thread_id: tid, agent_id: 'bob' });
    await page.waitForSelector(`#threads li[data-id="${tid}"][data-status="resolved"]`);
    await page.waitForSelector('#timeline .ev[data-type="thread_resolved"]:has-text("consensus")');
    await page.waitForFunction(() => [...document.querySelectorAll('#metrics .metric')]
      .some((m) => m.querySelector('dt').textContent === 'Consensus' && m.querySelector('dd').textContent === '1'));
    step('consultation resolved live (open → resolving → resolved)');

    // Alice now edits the file Bob touched: it becomes a hot file (two agents within 30 min).
    await rest('/api/log-file', { session_id: 's-alice', agent_id: 'alice', tool_name: 'Edit', file: 'src/auth/session.rs' });
    await rest('/api/token-usage', { agent_id: 'alice', input_tokens: 1840, output_tokens: 420, cache_read: 9000 });
    await rest('/api/token-usage', { agent_id: 'bob', input_tokens: 950, output_tokens: 310 });
    await page.waitForSelector('#tokens tr:has-text("Alice")');
    await page.waitForSelector('#hot li:has-text("src/auth/session.rs")', { timeout: 20000 });
    // The conflict-signals panel follows the resolution (refreshed, throttled, after thread_resolved).
    await page.waitForSelector('#layers tr.fired .chip.o-consensus', { timeout: 20000 });
    const shot = path.join(artifacts, 'dashboard.png');
    await page.screenshot({ path: shot });
    console.log(`dashboard: screenshot ${shot}`);

    await smoothness(page);
    const shot2 = path.join(artifacts, 'dashboard-1000-events.png');
    await page.screenshot({ path: shot2 });
    console.log(`dashboard: screenshot ${shot2}`);

    if (problems.length) throw new Error(`browser reported problems:\n  ${problems.join('\n  ')}`);
    step('PASS');
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

/** 20 agents, > 1000 events: the page keeps up, stays responsive and caps its timeline DOM. */
async function smoothness(page) {
  const ids = Array.from({ length: 20 }, (_, i) => `agent-${String(i + 1).padStart(2, '0')}`);
  await pool(5, ids.map((id, i) => () => tool('register_agent', { agent_id: id, name: `Worker ${i + 1}`, modules: [`pkg/m${i % 5}`] })));
  await page.waitForSelector('#agents li[data-id="agent-20"]');
  // A few consultations among the workers, left open, so the panels carry load too.
  for (let k = 0; k < 3; k += 1) {
    const a = ids[k * 2];
    const b = ids[k * 2 + 1];
    await tool('heartbeat', { agent_id: b, current_file: `pkg/m${k}/lib.rs` });
    await rest('/api/log-file', { session_id: `s-${b}`, agent_id: b, tool_name: 'Edit', file: `pkg/m${k}/lib.rs` });
    await tool('announce_work', {
      agent_id: a, subject: `Refactor module m${k}`, plan: `Edit pkg/m${k}/lib.rs to split the parser into two passes.`,
      target_modules: [`pkg/m${k}`], target_files: [`pkg/m${k}/lib.rs`],
    });
  }
  let top = 0;
  let round = 0;
  while (top < 1000) {
    round += 1;
    const calls = ids.map((id, i) => () => {
      const n = (round + i) % 4;
      if (n === 0) return rest('/api/token-usage', { agent_id: id, input_tokens: 100 + i, output_tokens: 20 + round });
      if (n === 1) return rest('/api/log-file', { session_id: `s-${id}`, agent_id: id, tool_name: 'Edit', file: `pkg/m${i % 5}/f${round % 7}.rs` });
      return tool('heartbeat', { agent_id: id, current_file: n === 2 ? `pkg/m${i % 5}/f${round % 7}.rs` : undefined });
    });
    await pool(8, calls);
    top = await page.evaluate(() => {
      const s = document.querySelector('#timeline .ev .seq');
      return s ? Number(s.textContent.slice(1)) : 0;
    });
  }
  // A marker event last: once it is shown, the page has processed everything before it.
  await rest('/api/token-usage', { agent_id: 'alice', input_tokens: 7, output_tokens: 7, model: 'marker-model' });
  await page.waitForSelector('#timeline .ev:first-child:has-text("marker-model")', { timeout: 20000 });
  const t0 = Date.now();
  await page.evaluate(() => 1);
  const evalMs = Date.now() - t0;
  const t1 = Date.now();
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r())));
  const frameMs = Date.now() - t1;
  const t2 = Date.now();
  await page.fill('#filter', 'worker 7');
  await page.fill('#filter', '');
  const filterMs = Date.now() - t2;
  const facts = await page.evaluate(() => ({
    rows: document.querySelectorAll('#timeline > li').length,
    events: Number(document.getElementById('sum-events').textContent),
    top: Number(document.querySelector('#timeline .ev .seq').textContent.slice(1)),
    agents: document.querySelectorAll('#agents > li').length,
  }));
  step(`smoothness: ${JSON.stringify({ ...facts, evalMs, frameMs, filterMs })}`);
  if (facts.top < 1000) throw new Error(`expected ≥ 1000 events, saw ${facts.top}`);
  if (facts.events !== facts.top) throw new Error(`the page missed events: counted ${facts.events} of ${facts.top}`);
  if (facts.rows > TIMELINE_CAP || facts.rows < TIMELINE_CAP - 5) throw new Error(`timeline rows not capped: ${facts.rows}`);
  if (facts.agents < 22) throw new Error(`expected 22 agents in the panel, saw ${facts.agents}`);
  if (evalMs >= 200 || frameMs >= 200) throw new Error(`page not responsive: eval ${evalMs} ms, frame ${frameMs} ms`);
  if (filterMs >= 1000) throw new Error(`filtering the timeline took ${filterMs} ms`);
}

main().catch((e) => {
  console.error(`dashboard: FAIL: ${e && e.stack ? e.stack : e}`);
  process.exit(1);
});
