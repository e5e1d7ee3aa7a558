// The side panels: agents with their activity, hot files, token budget per agent, consensus metrics, conflict
// signals per scoring layer, the header summary. Each is a render function registered with the scheduler.

import { agentName, onRender, state } from './state.js';
import { compact, duration, el, replaceChildren, show } from './util.js';

const ACTIVITY_RANK = { working: 0, waiting: 1, idle: 2, offline: 3 };
const NAMES = new Intl.Collator('en', { numeric: true, sensitivity: 'base' });
const AGENTS_SHOWN = 60;
const TOKENS_SHOWN = 20;
const LAYERS = [
  ['L0', 'active consultation'],
  ['L0.5', 'symbol overlap'],
  ['L1', 'recent edit or claim'],
  ['L2', 'dependency edit'],
  ['L3', 'module overlap'],
  ['L4', 'co-change'],
];
const OUTCOME_LABELS = {
  consensus: 'consensus',
  auto_resolved: 'auto',
  timeout: 'timeout',
  closed: 'closed',
  max_rounds: 'max rounds',
  agent_departure: 'departure',
  cancelled: 'cancelled',
  unresolved: 'open',
};

function renderAgents() {
  const agents = [...state.agents.values()].sort(
    (a, b) => (ACTIVITY_RANK[a.activity] ?? 4) - (ACTIVITY_RANK[b.activity] ?? 4) || NAMES.compare(a.name, b.name),
  );
  const rows = agents.slice(0, AGENTS_SHOWN).map((a) => {
    const li = el('li', `agent act-${a.activity}`);
    li.dataset.id = a.id;
    li.dataset.activity = a.activity;
    const line = el('div', 'agent-line');
    line.append(el('span', 'dot'), el('span', 'name', a.name), el('span', 'act', a.activity));
    li.append(line);
    const where = a.file || (a.thread ? `consultation ${a.thread.slice(0, 8)}` : '');
    if (where && a.activity !== 'offline') li.append(el('div', 'where', where));
    li.title = a.id;
    return li;
  });
  const list = document.getElementById('agents');
  replaceChildren(list, rows);
  const online = agents.filter((a) => a.activity !== 'offline').length;
  document.getElementById('agents-count').textContent = `${online} / ${agents.length}`;
  show(document.getElementById('agents-empty'), agents.length === 0);
}

function renderHot() {
  const rows = state.hot.slice(0, 10).map((h) => {
    const li = el('li', 'hot-file');
    const names = (h.agents || []).map(agentName);
    li.append(el('span', 'path', h.file_path), el('span', `n${h.agent_count > 1 ? ' many' : ''}`, h.agent_count));
    li.title = `${h.file_path}\n${names.join(', ')}`;
    return li;
  });
  replaceChildren(document.getElementById('hot'), rows);
  show(document.getElementById('hot-empty'), rows.length === 0);
}

function renderTokens() {
  const rows = [...state.tokens.entries()]
    .map(([id, t]) => ({ id, ...t, total: t.input + t.output }))
    .sort((a, b) => b.total - a.total);
  const max = rows.length ? Math.max(1, rows[0].total) : 1;
  const trs = rows.slice(0, TOKENS_SHOWN).map((r) => {
    const tr = el('tr');
    const name = el('td', 'tok-name');
    const bar = el('span', 'bar');
    bar.style.width = `${Math.round((r.total / max) * 100)}%`;
    name.append(bar, el('span', 'label', agentName(r.id)));
    tr.append(name, el('td', 'num', compact(r.input)), el('td', 'num', compact(r.output)));
    tr.append(el('td', 'num', compact(r.cacheRead + r.cacheCreation)));
    tr.title = `${r.reports} reports, ${r.thinking} thinking tokens`;
    return tr;
  });
  replaceChildren(document.getElementById('tokens'), trs);
  show(document.getElementById('tokens-empty'), trs.length === 0);
}

function metric(label, value, cls = '') {
  const div = el('div', `metric ${cls}`);
  div.append(el('dt', '', label), el('dd', '', value));
  return div;
}

function renderMetrics() {
  const m = state.metrics;
  const avg = m.resolveCount ? duration(m.resolveMsTotal / m.resolveCount) : '–';
  const rate = m.resolved ? `${Math.round((m.consensus / m.resolved) * 100)} %` : '–';
  replaceChildren(document.getElementById('metrics'), [
    metric('Consultations', m.opened),
    metric('Conflicts', m.conflicts, m.conflicts ? 'warn' : ''),
    metric('Consensus', m.consensus, 'good'),
    metric('Timeouts', m.timeout, m.timeout ? 'warn' : ''),
    metric('Auto-resolved', m.autoResolved),
    metric('Other / cancelled', `${m.otherResolved} / ${m.cancelled}`),
    metric('Avg time to resolution', avg),
    metric('Consensus rate', rate),
    metric('Consultation tokens', compact(m.consultationTokens)),
  ]);
}

function renderLayers() {
  const byName = new Map(state.layers.map((l) => [l.layer, l]));
  let any = false;
  const rows = LAYERS.map(([name, what]) => {
    const l = byName.get(name) || { fire_count: 0, avg_score: 0, outcomes: {} };
    if (l.fire_count) any = true;
    const tr = el('tr', l.fire_count ? 'fired' : 'quiet');
    const label = el('td', 'layer');
    label.append(el('b', '', name), el('span', 'what', what));
    const outcomes = el('td', 'outcomes');
    for (const [k, v] of Object.entries(l.outcomes || {})) {
      if (v > 0) outcomes.append(el('span', `chip o-${k}`, `${OUTCOME_LABELS[k] || k} ${v}`));
    }
    tr.append(label, el('td', 'num', l.fire_count), el('td', 'num', l.fire_count ? l.avg_score : '–'), outcomes);
    return tr;
  });
  replaceChildren(document.getElementById('layers'), rows);
  show(document.getElementById('layers-empty'), !any);
}

function renderSummary() {
  const s = state.status;
  const live = [...state.threads.values()].filter((t) => t.status === 'open' || t.status === 'resolving').length;
  document.getElementById('sum-online').textContent = s ? String(s.online) : '–';
  document.getElementById('sum-threads').textContent = String(live);
  document.getElementById('sum-hot').textContent = s ? String(s.hot_files) : '–';
  document.getElementById('sum-events').textContent = String(state.events);
  document.getElementById('meta').textContent = `v${state.version || '?'} · org ${state.org}`;
}

/** Registers the panel renderers. */
export function initPanels() {
  onRender('agents', renderAgents);
  onRender('hot', renderHot);
  onRender('tokens', renderTokens);
  onRender('metrics', renderMetrics);
  onRender('layers', renderLayers);
  onRender('summary', renderSummary);
}
