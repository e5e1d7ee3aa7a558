// Consultations: the live model (from `/api/threads-active` and thread events), the cards with status pill,
// countdown to `created_at + timeout_seconds × round`, severity pills and claim badge, and the consensus
// metrics fed by thread_resolved events.

import { agent, agentName, mark, onRender, state } from './state.js';
import { asList, clip, duration, el, getJSON, parseTs, replaceChildren, show } from './util.js';

/** Finished consultations kept on screen (and in memory: a few more). */
const FINISHED_SHOWN = 12;
const FINISHED_KEPT = 50;
const LIVE = new Set(['open', 'resolving']);

function model(id) {
  let t = state.threads.get(id);
  if (!t) {
    t = {
      id, subject: '', initiator: null, status: null, files: [], expected: [], conflicts: 0, info: 0,
      concerned: new Set(), createdAt: NaN, timeout: null, round: 1, messages: 0, claimedBy: null, proposal: null,
      resolutionType: null, resolvedAt: NaN, tokens: 0, seenAt: Date.now(), evAt: 0, finishedAt: 0,
    };
    state.threads.set(id, t);
  }
  return t;
}

function setConflicts(t, raw) {
  const list = asList(raw);
  t.conflicts = list.length;
  t.info = 0;
  for (const c of list) {
    if (c && c.severity === 'warning') {
      if (c.agent_id) t.concerned.add(c.agent_id);
    } else {
      t.info += 1;
    }
  }
}

function finish(t, status) {
  t.status = status;
  if (!t.finishedAt) t.finishedAt = Date.now();
}

/** Applies a REST Thread row (legacy shape: lists as JSON strings) unless an event updated it meanwhile. */
function fromRow(r, since) {
  const t = model(r.id);
  if (t.evAt > since) return;
  t.subject = r.subject;
  t.initiator = r.initiator_id;
  t.status = r.status;
  t.files = asList(r.target_files);
  t.expected = asList(r.expected_respondents);
  setConflicts(t, r.conflicts);
  t.createdAt = parseTs(r.created_at);
  t.timeout = Number(r.timeout_seconds) || 0;
  t.round = Math.max(1, Number(r.round) || 1);
  t.claimedBy = r.claimed_by || null;
  if (r.resolution_summary && !t.proposal) t.proposal = { by: null, summary: r.resolution_summary };
}

/** Reconciles with `/api/threads-active`; live threads missing from it are looked up one by one. */
export async function pollThreads() {
  const since = Date.now();
  const rows = await getJSON('/api/threads-active');
  const ids = new Set();
  for (const r of Array.isArray(rows) ? rows : []) {
    ids.add(r.id);
    fromRow(r, since);
  }
  for (const t of state.threads.values()) {
    if (!LIVE.has(t.status) || ids.has(t.id) || t.seenAt >= since || t.evAt >= since) continue;
    try {
      const s = await getJSON(`/api/consultation/${encodeURIComponent(t.id)}/status`);
      if (s.status && !LIVE.has(s.status)) finish(t, s.status);
    } catch {
      finish(t, 'unknown');
    }
  }
  mark('threads', 'summary');
}

function metricsResolved(d) {
  const m = state.metrics;
  m.resolved += 1;
  if (d.resolution_type === 'consensus') m.consensus += 1;
  else if (d.resolution_type === 'timeout') m.timeout += 1;
  else if (d.resolution_type === 'auto_resolved') m.autoResolved += 1;
  else m.otherResolved += 1;
  const took = parseTs(d.resolved_at) - parseTs(d.created_at);
  if (Number.isFinite(took) && took >= 0) {
    m.resolveMsTotal += took;
    m.resolveCount += 1;
  }
}

/** Applies a consultation event to the model and the metrics; returns true when it was one. */
export function applyThreadEvent(type, d) {
  if (!d.thread_id) return false;
  const t = model(d.thread_id);
  t.evAt = Date.now();
  switch (type) {
    case 'thread_opened':
      agent(d.agent_id, d.agent_name);
      t.subject = d.subject || t.subject;
      t.initiator = d.initiator || d.agent_id;
      t.files = asList(d.target_files);
      t.expected = asList(d.expected_respondents);
      setConflicts(t, d.conflicts);
      if (!Number.isFinite(t.createdAt)) t.createdAt = parseTs(d.created_at);
      if (!t.status) t.status = d.status || 'open';
      if (!LIVE.has(t.status)) finish(t, t.status);
      state.metrics.opened += 1;
      state.metrics.conflicts += t.conflicts;
      break;
    case 'impact_scored':
      if (d.category === 'concerned') t.concerned.add(d.agent_id);
      break;
    case 'introspection_completed':
      if (d.concerned) t.concerned.add(d.agent_id);
      break;
    case 'message_posted':
      t.messages += 1;
      t.round = Math.max(t.round, Number(d.round) || 1);
      t.tokens += Number(d.token_estimate) || 0;
      state.metrics.consultationTokens += Number(d.token_estimate) || 0;
      break;
    case 'resolution_proposed':
      if (LIVE.has(t.status) || !t.status) t.status = 'resolving';
      t.proposal = { by: d.agent_id, name: d.agent_name, summary: d.summary };
      break;
    case 'thread_resolved':
      finish(t, 'resolved');
      t.resolutionType = d.resolution_type;
      t.resolvedAt = parseTs(d.resolved_at);
      if (!Number.isFinite(t.createdAt)) t.createdAt = parseTs(d.created_at);
      metricsResolved(d);
      break;
    case 'thread_cancelled':
      finish(t, 'cancelled');
      state.metrics.cancelled += 1;
      break;
    case 'task_claimed':
      t.claimedBy = d.agent_id;
      break;
    default:
      return false;
  }
  mark('threads', 'metrics');
  return true;
}

function countdownText(t, now) {
  if (!LIVE.has(t.status)) {
    if (Number.isFinite(t.resolvedAt) && Number.isFinite(t.createdAt)) return `took ${duration(t.resolvedAt - t.createdAt)}`;
    return '';
  }
  if (!t.timeout) return t.timeout === 0 ? 'no timeout' : '';
  if (!Number.isFinite(t.createdAt)) return '';
  const left = t.createdAt + t.timeout * 1000 * t.round - now;
  return left > 0 ? `${duration(left)} left` : 'timing out…';
}

function pill(cls, text, title) {
  const p = el('span', `pill ${cls}`, text);
  if (title) p.title = title;
  return p;
}

function card(t, now) {
  const li = el('li', 'thread');
  li.dataset.id = t.id;
  li.dataset.status = t.status || 'open';
  const top = el('div', 'thread-top');
  top.append(pill(`st-${t.status || 'open'}`, t.status || 'open'), el('span', 'subject', t.subject || t.id));
  const cd = el('span', 'countdown', countdownText(t, now));
  cd.dataset.id = t.id;
  top.append(cd);
  const meta = el('div', 'thread-meta');
  const bits = [`by ${agentName(t.initiator)}`];
  if (t.expected.length) bits.push(`asks ${t.expected.map(agentName).join(', ')}`);
  bits.push(`round ${t.round}`);
  if (t.messages) bits.push(`${t.messages} msg`);
  meta.textContent = bits.join(' · ');
  const pills = el('div', 'thread-pills');
  if (t.concerned.size) pills.append(pill('warn', `${t.concerned.size} concerned`, [...t.concerned].map(agentName).join(', ')));
  if (t.info) pills.append(pill('info', `${t.info} info`));
  if (t.claimedBy) pills.append(pill('claim', `claimed by ${agentName(t.claimedBy)}`));
  if (t.resolutionType) pills.append(pill('kind', t.resolutionType.replace('_', ' ')));
  for (const f of t.files.slice(0, 3)) pills.append(pill('file', f));
  li.append(top, meta);
  if (pills.childElementCount) li.append(pills);
  if (t.proposal?.summary) {
    const who = t.proposal.name || (t.proposal.by ? agentName(t.proposal.by) : '');
    li.append(el('div', 'proposal', `${who ? `${who}: ` : ''}${clip(t.proposal.summary, 140)}`));
  }
  return li;
}

function render() {
  const all = [...state.threads.values()].filter((t) => t.status);
  const live = all.filter((t) => LIVE.has(t.status)).sort((a, b) => (b.createdAt || 0) - (a.createdAt || 0));
  const done = all.filter((t) => !LIVE.has(t.status)).sort((a, b) => b.finishedAt - a.finishedAt);
  for (const t of done.slice(FINISHED_KEPT)) state.threads.delete(t.id);
  const now = Date.now();
  const list = document.getElementById('threads');
  replaceChildren(list, [...live, ...done.slice(0, FINISHED_SHOWN)].map((t) => card(t, now)));
  document.getElementById('threads-count').textContent = String(live.length);
  show(document.getElementById('threads-empty'), list.childElementCount === 0);
}

/** Updates only the countdown texts (every second). */
function tick() {
  const now = Date.now();
  for (const span of document.querySelectorAll('#threads .countdown')) {
    const t = state.threads.get(span.dataset.id);
    if (t && LIVE.has(t.status)) span.textContent = countdownText(t, now);
  }
}

/** Wires rendering and the countdown clock. */
export function initThreads() {
  onRender('threads', render);
  setInterval(tick, 1000);
}
