// The dashboard's client-side model and its render scheduler. Event handlers only change `state` and mark
// the panels they touched; marked panels are redrawn once per animation frame, however many events arrived.

export const state = {
  org: 'default',
  version: '',
  /** agent id → {id, name, online, activity, file, thread, seenAt, evAt} (local ms first seen / last event) */
  agents: new Map(),
  /** thread id → consultation model (threads.js) */
  threads: new Map(),
  /** agent id → {input, output, cacheRead, cacheCreation, thinking, reports} */
  tokens: new Map(),
  metrics: {
    opened: 0,
    conflicts: 0,
    resolved: 0,
    consensus: 0,
    timeout: 0,
    autoResolved: 0,
    otherResolved: 0,
    cancelled: 0,
    resolveMsTotal: 0,
    resolveCount: 0,
    consultationTokens: 0,
  },
  hot: [],
  layers: [],
  status: null,
  events: 0,
  lastSeq: 0,
};

const renderers = new Map();
const dirty = new Set();
let scheduled = false;

/** Registers the function that redraws `part`. */
export function onRender(part, fn) {
  renderers.set(part, fn);
}

function flush() {
  scheduled = false;
  const parts = [...dirty];
  dirty.clear();
  for (const part of parts) {
    const fn = renderers.get(part);
    if (fn) fn();
  }
}

/** Marks panels as changed; they are redrawn together on the next animation frame. */
export function mark(...parts) {
  for (const p of parts) dirty.add(p);
  if (!scheduled) {
    scheduled = true;
    requestAnimationFrame(flush);
  }
}

/** The agent with `id`, created on first sight. */
export function agent(id, name) {
  let a = state.agents.get(id);
  if (!a) {
    a = { id, name: name || id, online: false, activity: 'offline', file: null, thread: null, seenAt: Date.now(), evAt: 0 };
    state.agents.set(id, a);
  } else if (name && a.name !== name) {
    a.name = name;
  }
  return a;
}

/** Display name of an agent id (the id itself when unknown). */
export function agentName(id) {
  if (!id) return 'someone';
  return state.agents.get(id)?.name || id;
}

/** Subject of a consultation, quoted, or its short id when unknown. */
export function threadLabel(id) {
  const t = state.threads.get(id);
  if (t?.subject) return `“${t.subject}”`;
  return `consultation ${String(id ?? '').slice(0, 8)}`;
}
