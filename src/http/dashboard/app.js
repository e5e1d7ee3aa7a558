// Dashboard entry point: the SSE connection to `/api/events` (the browser resumes with Last-Event-ID after a
// drop; after a hard failure we reconnect ourselves with `?last_event_id=`), event dispatch into the model,
// and the REST polling of operations.md §11 (5 s status/agents/threads, 10 s hot files, 60 s scoring stats).

import { EVENT_TYPES } from './describe.js';
import { initPanels } from './panels.js';
import { agent, mark, state } from './state.js';
import { applyThreadEvent, initThreads, pollThreads } from './threads.js';
import { initTimeline, push } from './timeline.js';
import { getJSON, throttle } from './util.js';

const POLL_FAST_MS = 5000;
const POLL_HOT_MS = 10000;
const POLL_STATS_MS = 60000;
const RETRY_MAX_MS = 30000;

function report(err) {
  console.warn('dashboard:', err && err.message ? err.message : err);
}

async function pollStatus() {
  state.status = await getJSON('/api/status');
  mark('summary');
}

async function pollAgents() {
  const since = Date.now();
  const body = await getJSON('/api/agents');
  const seen = new Set();
  for (const r of Array.isArray(body.agents) ? body.agents : []) {
    seen.add(r.id);
    const a = agent(r.id, r.name);
    if (a.evAt > since) continue;
    const act = r.online ? r.activity || {} : {};
    a.online = Boolean(r.online);
    a.activity = a.online ? act.activity_status || 'idle' : 'offline';
    a.file = act.current_file || null;
    a.thread = act.current_thread || null;
  }
  for (const a of [...state.agents.values()]) {
    if (!seen.has(a.id) && a.seenAt < since && a.evAt < since) state.agents.delete(a.id);
  }
  mark('agents', 'threads', 'tokens', 'hot');
}

async function pollHot() {
  const rows = await getJSON('/api/hot-files');
  state.hot = Array.isArray(rows) ? rows : [];
  mark('hot');
}

async function pollLayers() {
  const body = await getJSON('/api/scoring-stats?since=24h');
  state.layers = Array.isArray(body.layers) ? body.layers : [];
  mark('layers');
}

const refreshHot = throttle(pollHot, 3000, report);
const refreshLayers = throttle(pollLayers, 5000, report);
const refreshStatus = throttle(pollStatus, 1000, report);
const refreshThreads = throttle(pollThreads, 1500, report);

function pollFast() {
  Promise.all([pollStatus(), pollAgents(), pollThreads()]).catch(report);
}

function pollAll() {
  pollFast();
  pollHot().catch(report);
  pollLayers().catch(report);
}

function addTokens(d) {
  const t = state.tokens.get(d.agent_id) || {
    input: 0, output: 0, cacheRead: 0, cacheCreation: 0, thinking: 0, reports: 0,
  };
  t.input += Number(d.input_tokens) || 0;
  t.output += Number(d.output_tokens) || 0;
  t.cacheRead += Number(d.cache_read) || 0;
  t.cacheCreation += Number(d.cache_creation) || 0;
  t.thinking += Number(d.thinking) || 0;
  t.reports += 1;
  state.tokens.set(d.agent_id, t);
  mark('tokens');
}

function applyAgentEvent(type, d) {
  if (!d.agent_id) return;
  if (type === 'token_usage') {
    addTokens(d);
    return;
  }
  if (!['agent_online', 'agent_offline', 'agent_activity', 'file_edited'].includes(type)) return;
  const a = agent(d.agent_id, type === 'agent_activity' ? undefined : d.name || d.agent_name);
  a.evAt = Date.now();
  if (type === 'agent_online') {
    a.online = true;
    if (a.activity === 'offline') a.activity = 'idle';
  } else if (type === 'agent_offline') {
    a.online = false;
    a.activity = 'offline';
    a.file = null;
    a.thread = null;
  } else if (type === 'agent_activity') {
    a.activity = d.activity_status || 'idle';
    a.online = a.activity !== 'offline';
    a.file = d.current_file || null;
    a.thread = d.current_thread || null;
  } else {
    a.online = true;
    a.activity = 'working';
    a.file = d.file || a.file;
    refreshHot();
  }
  if (type === 'agent_online' || type === 'agent_offline') refreshStatus();
  mark('agents');
}

/** A heartbeat that repeats the agent's known state (shown only in the verbose timeline). */
function unchanged(d) {
  const a = state.agents.get(d.agent_id);
  return Boolean(a) && a.activity === (d.activity_status || 'idle') && a.file === (d.current_file || null) &&
    a.thread === (d.current_thread || null);
}

function onEvent(ev) {
  const seq = Number(ev.lastEventId) || 0;
  if (seq && seq <= state.lastSeq) return;
  if (seq) state.lastSeq = seq;
  let data;
  try {
    data = JSON.parse(ev.data);
  } catch {
    return;
  }
  if (!data || typeof data !== 'object') return;
  if (data.org_id) state.org = data.org_id;
  state.events += 1;
  const quiet = ev.type === 'agent_activity' && unchanged(data);
  applyAgentEvent(ev.type, data);
  if (applyThreadEvent(ev.type, data) && ev.type === 'thread_opened') refreshThreads();
  if (ev.type === 'impact_scored' || ev.type === 'thread_resolved') refreshLayers();
  push(seq, ev.type, data, quiet);
  mark('summary');
}

const CONN_LABELS = { live: 'Live', reconnecting: 'Reconnecting…', connecting: 'Connecting…', down: 'Disconnected' };

function setConn(s, extra = '') {
  const box = document.getElementById('conn');
  box.dataset.state = s;
  document.getElementById('conn-label').textContent = CONN_LABELS[s] + extra;
}

let retryMs = 1000;

function connect() {
  const url = state.lastSeq > 0 ? `/api/events?last_event_id=${state.lastSeq}` : '/api/events';
  const source = new EventSource(url);
  setConn('connecting');
  source.onopen = () => {
    retryMs = 1000;
    setConn('live');
    pollAll();
  };
  source.onerror = () => {
    if (source.readyState !== EventSource.CLOSED) {
      setConn('reconnecting');
      return;
    }
    // The browser gave up (e.g. 503 when the server is at its SSE client cap): retry with backoff.
    source.close();
    setConn('down', ` · retry in ${Math.round(retryMs / 1000)} s`);
    setTimeout(connect, retryMs);
    retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
  };
  for (const type of Object.keys(EVENT_TYPES)) source.addEventListener(type, onEvent);
}

async function start() {
  initTimeline();
  initThreads();
  initPanels();
  mark('agents', 'hot', 'tokens', 'metrics', 'layers', 'summary', 'threads');
  getJSON('/livez')
    .then((h) => {
      state.version = h.version || '';
      mark('summary');
    })
    .catch(report);
  // Names first, so the replayed events read "Alice", not "alice".
  await pollAgents().catch(report);
  connect();
  setInterval(pollFast, POLL_FAST_MS);
  setInterval(() => pollHot().catch(report), POLL_HOT_MS);
  setInterval(() => pollLayers().catch(report), POLL_STATS_MS);
}

start().catch(report);
