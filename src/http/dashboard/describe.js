// One readable English line per event type (events-mqtt.md §1), and the card style of each type.

import { agentName, threadLabel } from './state.js';
import { clip, compact, duration, parseTs } from './util.js';

/** Every event type the stream can carry, with its timeline category and badge label. */
export const EVENT_TYPES = {
  agent_online: { cat: 'agent', label: 'online' },
  agent_offline: { cat: 'agent-off', label: 'offline' },
  agent_activity: { cat: 'activity', label: 'activity' },
  thread_opened: { cat: 'thread', label: 'consultation' },
  impact_scored: { cat: 'impact', label: 'impact', verbose: true },
  introspection_requested: { cat: 'impact', label: 'introspection', verbose: true },
  introspection_completed: { cat: 'impact', label: 'introspection', verbose: true },
  message_posted: { cat: 'message', label: 'message' },
  resolution_proposed: { cat: 'proposal', label: 'proposal' },
  thread_resolved: { cat: 'resolved', label: 'resolved' },
  thread_cancelled: { cat: 'cancelled', label: 'cancelled' },
  task_claimed: { cat: 'thread', label: 'claimed' },
  file_edited: { cat: 'file', label: 'edit' },
  action_summary: { cat: 'file', label: 'summary' },
  token_usage: { cat: 'tokens', label: 'tokens' },
  quota_update: { cat: 'tokens', label: 'quota' },
};

function who(d, idKey = 'agent_id', nameKey = 'agent_name') {
  return d[nameKey] || agentName(d[idKey]);
}

function plural(n, word) {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

const MESSAGE_VERBS = {
  context: 'added context to',
  suggestion: 'suggested in',
  warning: 'warned in',
  resolution: 'posted the resolution of',
  approve: 'approved',
  contest: 'contested',
};

const LINES = {
  agent_online: (d) => {
    const mods = Array.isArray(d.modules) && d.modules.length ? ` (modules: ${clip(d.modules.join(', '), 60)})` : '';
    return `${d.name || agentName(d.agent_id)} came online${mods}`;
  },
  agent_offline: (d) => `${d.name || agentName(d.agent_id)} went offline${d.reason ? ` (${d.reason})` : ''}`,
  agent_activity: (d) => {
    let s = `${agentName(d.agent_id)} is ${d.activity_status || 'idle'}`;
    if (d.current_file) s += ` on ${d.current_file}`;
    if (d.current_thread) s += ` in ${threadLabel(d.current_thread)}`;
    return s;
  },
  thread_opened: (d) => {
    const n = Array.isArray(d.conflicts) ? d.conflicts.length : 0;
    const files = Array.isArray(d.target_files) && d.target_files.length ? ` on ${clip(d.target_files.join(', '), 60)}` : '';
    const c = n ? ` with ${plural(n, 'conflict')}` : '';
    return `${who(d)} opened “${clip(d.subject, 80)}”${files}${c}`;
  },
  impact_scored: (d) =>
    `${who(d)} scored ${d.score} (${String(d.category || '').replace('_', ' ')})` +
    `${d.layer ? ` at ${d.layer}` : ''} for ${threadLabel(d.thread_id)}${d.reason ? `: ${clip(d.reason, 60)}` : ''}`,
  introspection_requested: (d) =>
    `Introspection asked of ${agentName(d.agent_id)} for ${threadLabel(d.thread_id)} (score ${d.score})`,
  introspection_completed: (d) =>
    `${agentName(d.agent_id)} is ${d.concerned ? 'concerned' : 'not concerned'}${d.joined ? ' and joined' : ''}` +
    ` about ${threadLabel(d.thread_id)}${d.reason ? `: ${clip(d.reason, 60)}` : ''}`,
  message_posted: (d) =>
    `${who(d)} ${MESSAGE_VERBS[d.type] || 'wrote in'} ${threadLabel(d.thread_id)} (round ${d.round}): ${clip(d.content, 90)}`,
  resolution_proposed: (d) => `${who(d)} proposed a resolution for ${threadLabel(d.thread_id)}: ${clip(d.summary, 90)}`,
  thread_resolved: (d) => {
    const took = parseTs(d.resolved_at) - parseTs(d.created_at);
    const by = d.approved_by_name || (d.approved_by ? agentName(d.approved_by) : '');
    return `${threadLabel(d.thread_id)} resolved by ${String(d.resolution_type || 'unknown').replace('_', ' ')}` +
      `${by ? `, approved by ${by}` : ''}${Number.isFinite(took) ? ` after ${duration(took)}` : ''}`;
  },
  thread_cancelled: (d) =>
    `${agentName(d.agent_id)} cancelled ${threadLabel(d.thread_id)}${d.reason ? `: ${clip(d.reason, 60)}` : ''}`,
  task_claimed: (d) => `${agentName(d.agent_id)} claimed ${threadLabel(d.thread_id)}`,
  file_edited: (d) => `${who(d)} edited ${d.file}${d.tool_name ? ` (${d.tool_name})` : ''}`,
  action_summary: (d) => `${agentName(d.agent_id)}${d.file_path ? ` on ${d.file_path}` : ''}: ${clip(d.summary, 90)}`,
  token_usage: (d) =>
    `${agentName(d.agent_id)} used ${compact(d.input_tokens)} input / ${compact(d.output_tokens)} output tokens` +
    `${d.model ? ` (${d.model})` : ''}`,
  quota_update: () => 'Quota figures refreshed',
};

/** The one-line description of an event. */
export function describe(type, data) {
  const line = LINES[type];
  return line ? line(data || {}) : `${type}`;
}

/** The agent and thread ids an event mentions (for the timeline filter). */
export function subjects(data) {
  return [data.agent_id, data.agent_name, data.name, data.thread_id, data.initiator].filter(Boolean).join(' ');
}
