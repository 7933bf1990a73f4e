// The sync job as an operator reads it: what this node compares (its range of location buckets) and the
// last sessions with its neighbours, newest first: the outcome, what differed and how it was found,
// what moved, and what it cost (round trips, bytes). Everything comes from `actors.get job:sync`.

import { formatInstant, h, shortId } from './format.js';

const OUTCOMES = { equal: 'equal', done: 'reconciled', failed: 'failed', busy: 'busy' };

/**
 * @param {{context: {history: {at: number, result?: object, error?: string}[], sessions: object[]}}} detail
 *   `actors.get` of `job:sync`
 */
export function syncView({ detail }) {
  const { history, sessions } = detail.context;
  const last = history[0];
  const summary = last
    ? last.error
      ? h('p', { class: 'warn' }, `Last run at ${formatInstant(last.at)} failed: ${last.error}`)
      : h('p', {}, `Last run at ${formatInstant(last.at)}: range ${last.result.range}, ${last.result.neighbours} neighbours — `, `${last.result.equal} equal, ${last.result.done} reconciled, ${last.result.failed} failed, ${last.result.busy} busy; ${last.result.pushed} entries sent, ${last.result.received} received.`)
    : h('p', { class: 'muted' }, 'No run yet.');
  const rows = sessions.map((s) =>
    h(
      'tr',
      { class: `outcome-${s.outcome}` },
      h('td', {}, formatInstant(s.at)),
      h('td', { class: 'mono', title: s.peer_id }, shortId(s.peer_id, 6)),
      h('td', {}, OUTCOMES[s.outcome] ?? s.outcome, s.error ? h('div', { class: 'muted' }, s.error) : null),
      h('td', { class: 'mono' }, s.range ?? '—'),
      h('td', {}, s.outcome === 'done' ? `${s.ours} ours, ${s.theirs} theirs (${s.method})` : s.outcome === 'equal' ? 'none' : '—'),
      h('td', {}, `${s.pushed} / ${s.received}`),
      h('td', {}, String(s.roundTrips)),
      h('td', {}, `${s.bytesSent} / ${s.bytesReceived}`),
    ),
  );
  return h(
    'section',
    { class: 'panel resource sync' },
    h('h3', {}, 'Anti-entropy sync'),
    summary,
    sessions.length === 0
      ? h('p', { class: 'muted' }, 'No session yet.')
      : h(
          'table',
          {},
          h('thead', {}, h('tr', {}, ...['at', 'neighbour', 'outcome', 'buckets', 'differences', 'entries sent / received', 'round trips', 'bytes sent / received'].map((t) => h('th', {}, t)))),
          h('tbody', {}, ...rows),
        ),
  );
}
