// Small DOM and formatting helpers shared by the dashboard modules. Text always goes through textContent:
// event payloads are untrusted and never reach innerHTML.

/** Creates an element with an optional class and text. */
export function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}

/** Replaces the children of `parent` with `nodes` in one DOM operation. */
export function replaceChildren(parent, nodes) {
  const frag = document.createDocumentFragment();
  for (const n of nodes) frag.appendChild(n);
  parent.replaceChildren(frag);
}

/** Shows or hides an element. */
export function show(node, visible) {
  if (node) node.hidden = !visible;
}

/** Parses the server's timestamps: T1 `YYYY-MM-DD HH:MM:SS` (UTC) or ISO-8601. Returns ms or NaN. */
export function parseTs(s) {
  if (typeof s !== 'string' || !s) return NaN;
  if (/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?$/.test(s)) return Date.parse(s.replace(' ', 'T') + 'Z');
  return Date.parse(s);
}

/** Local wall-clock time `HH:MM:SS` of a timestamp in ms. */
export function clock(ms) {
  if (!Number.isFinite(ms)) return '--:--:--';
  const d = new Date(ms);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

/** A duration in ms as `1h 02m`, `3m 05s` or `12s`. */
export function duration(ms) {
  if (!Number.isFinite(ms)) return '–';
  const s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (h > 0) return `${h}h ${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m ${String(sec).padStart(2, '0')}s`;
  return `${sec}s`;
}

/** Compact number: 1234 → 1.2k, 3400000 → 3.4M. */
export function compact(n) {
  const v = Number(n) || 0;
  if (Math.abs(v) >= 1e6) return `${(v / 1e6).toFixed(1)}M`;
  if (Math.abs(v) >= 1e4) return `${Math.round(v / 1e3)}k`;
  if (Math.abs(v) >= 1e3) return `${(v / 1e3).toFixed(1)}k`;
  return String(v);
}

/** Lists arrive as arrays or, in legacy row shapes, as JSON-encoded strings. */
export function asList(v) {
  if (Array.isArray(v)) return v;
  if (typeof v === 'string' && v.startsWith('[')) {
    try {
      const parsed = JSON.parse(v);
      return Array.isArray(parsed) ? parsed : [];
    } catch {
      return [];
    }
  }
  return [];
}

/** Shortens long text to `max` characters. */
export function clip(s, max = 120) {
  const t = String(s ?? '').replace(/\s+/g, ' ').trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

/** Short form of an id (first 8 characters). */
export function shortId(id) {
  const s = String(id ?? '');
  return s.length > 10 ? s.slice(0, 8) : s;
}

/** GET a JSON document from the same origin; rejects on a non-2xx status. */
export async function getJSON(path) {
  const res = await fetch(path, { headers: { Accept: 'application/json' }, cache: 'no-store' });
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
  return res.json();
}

/**
 * Wraps `fn` so that it runs at most once per `ms`; calls in between collapse into one trailing call.
 * The wrapped function returns nothing; errors are passed to `onError`.
 */
export function throttle(fn, ms, onError = () => {}) {
  let last = 0;
  let timer = null;
  const run = () => {
    timer = null;
    last = Date.now();
    Promise.resolve().then(fn).catch(onError);
  };
  return () => {
    if (timer) return;
    const wait = Math.max(0, last + ms - Date.now());
    timer = setTimeout(run, wait);
  };
}
