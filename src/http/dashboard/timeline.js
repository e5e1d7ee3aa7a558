// The live timeline: newest first, one card style per event type, at most CAP rows in the DOM. Incoming
// events are queued and inserted in one batch per animation frame.

import { EVENT_TYPES, describe, subjects } from './describe.js';
import { mark, onRender } from './state.js';
import { clip, clock, el, parseTs, show } from './util.js';

/** Rows kept in the DOM. */
export const CAP = 300;

let pending = [];
let list;
let empty;
let query = '';

function matches(hay) {
  return !query || hay.includes(query);
}

function row(item) {
  const meta = EVENT_TYPES[item.type] || { cat: 'other', label: item.type };
  const li = el('li', `ev cat-${meta.cat}${meta.verbose || item.quiet ? ' v' : ''}`);
  li.dataset.hay = item.hay;
  li.dataset.type = item.type;
  li.title = item.detail;
  li.append(el('time', 'ts', clock(item.ts)), el('span', 'badge', meta.label), el('span', 'text', item.text));
  li.append(el('span', 'seq', item.seq ? `#${item.seq}` : ''));
  li.hidden = !matches(item.hay);
  return li;
}

/** Explains an empty view: nothing yet, everything filtered out, or only verbose rows so far. */
function updateEmpty() {
  if (!list.childElementCount) return;
  const verbose = list.classList.contains('verbose');
  let visible = false;
  for (const li of list.children) {
    if (!li.hidden && (verbose || !li.classList.contains('v'))) {
      visible = true;
      break;
    }
  }
  if (!visible) {
    empty.textContent = query
      ? 'No event matches the filter.'
      : 'Only heartbeats and scoring details so far: tick “verbose” to show them.';
  }
  show(empty, !visible);
}

function render() {
  if (!pending.length) return;
  const batch = pending;
  pending = [];
  const frag = document.createDocumentFragment();
  for (let i = batch.length - 1; i >= 0; i -= 1) frag.appendChild(row(batch[i]));
  list.prepend(frag);
  while (list.childElementCount > CAP) list.lastElementChild.remove();
  updateEmpty();
}

/**
 * Queues one event for the timeline (description computed now, while names are current). `quiet` rows (e.g. a
 * heartbeat repeating the known state) are shown only in verbose mode.
 */
export function push(seq, type, data, quiet = false) {
  const text = describe(type, data);
  const hay = `${type} ${text} ${subjects(data)}`.toLowerCase();
  let detail = '';
  try {
    detail = clip(JSON.stringify(data), 1500);
  } catch {
    detail = '';
  }
  pending.push({ seq, type, ts: parseTs(data._ts), text, hay, detail, quiet });
  if (pending.length > CAP) pending.splice(0, pending.length - CAP);
  mark('timeline');
}

function applyFilter() {
  for (const li of list.children) li.hidden = !matches(li.dataset.hay || '');
}

/** Wires the timeline controls. */
export function initTimeline() {
  list = document.getElementById('timeline');
  empty = document.getElementById('timeline-empty');
  onRender('timeline', render);
  const filter = document.getElementById('filter');
  filter.addEventListener('input', () => {
    query = filter.value.trim().toLowerCase();
    applyFilter();
    updateEmpty();
  });
  const verbose = document.getElementById('verbose');
  verbose.addEventListener('change', () => {
    list.classList.toggle('verbose', verbose.checked);
    updateEmpty();
  });
  document.getElementById('clear').addEventListener('click', () => {
    pending = [];
    list.replaceChildren();
    empty.textContent = 'View cleared; new events will appear here.';
    show(empty, true);
  });
}
