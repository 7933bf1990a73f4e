// What a resource actor holds, the way an operator asks about it: the key, the providers in rank order (as
// `registry.get_records` serves them), the tombstones, and when each goes stale or expires under the node's
// time rules (SPEC §4.1, §4.5). The ranking and the rules stay on the node; this only adds times up.

import { formatInstant, formatRelative, h, shortId } from './format.js';

/** `<time>` with the absolute node-clock instant and how far it is from now. */
function when(t, now) {
  return h('span', { class: 'when' }, formatInstant(t), h('span', { class: 'rel' }, ` (${formatRelative(t, now)})`));
}

function peer(id, self) {
  return h('span', { class: 'mono peer', title: id }, shortId(id, 6), id === self ? h('span', { class: 'tag' }, 'this node') : null);
}

/** "goes stale at …" / "stale since …" / never published (SPEC §4.2, §4.5 evict_stale). */
function staleness(published, rules, now) {
  if (published === null || published === undefined) return h('span', { class: 'warn' }, 'stale: never published here (the republish job pushes it on)');
  const at = published + rules.stale_timeout;
  return at <= now ? h('span', { class: 'warn' }, 'stale since ', when(at, now)) : h('span', {}, 'goes stale at ', when(at, now));
}

function expiry(at, now) {
  return at <= now ? h('span', { class: 'warn' }, 'expired ', when(at, now)) : h('span', {}, when(at, now));
}

/**
 * @param {{context: object}} detail `actors.get` of a `resource:` actor
 * @param {object[]} records `registry.get_records` (served, best first)
 * @param {object[]} tombstones `registry.get_tombstones`
 * @param {{stale_timeout: number, expired_timeout: number}} rules
 * @param {number} now the node clock
 * @param {string} self this node's peer id (its host records never expire here)
 */
export function resourceView({ detail, records, tombstones, rules, now, self }) {
  const ctx = detail.context;
  const key = ctx.key;
  if (!key) {
    return h('section', { class: 'panel resource' }, h('h3', {}, 'Resource'), h('p', { class: 'muted' }, `No key ${ctx.key_id} is held here: the actor is empty until one is registered.`));
  }
  const published = ctx.published ?? null;
  const emptyExpiry = Math.max(key.timestamp_created, published ?? key.timestamp_created) + rules.expired_timeout;
  const served = records.length;
  const heldRecords = ctx.entries.filter((e) => e.kind === 'record').length;

  const keyFacts = h(
    'dl',
    { class: 'kv' },
    h('dt', {}, 'label'),
    h('dd', {}, key.label === '' ? h('span', { class: 'muted' }, '(empty)') : key.label),
    h('dt', {}, 'resource id'),
    h('dd', { class: 'mono' }, key.id),
    h('dt', {}, 'owner'),
    h('dd', {}, peer(key.owner_peer_id, self)),
    h('dt', {}, 'created'),
    h('dd', {}, when(key.timestamp_created, now)),
    h('dt', {}, 'access'),
    h('dd', {}, key.challenge_type === '' ? 'open' : key.challenge_type),
    h('dt', {}, 'published'),
    h('dd', {}, published === null ? 'never (registered here only)' : when(published, now)),
    h('dt', {}, 'stale'),
    h('dd', {}, staleness(published, rules, now)),
    h('dt', {}, 'expires'),
    h('dd', {}, 'when it holds no live record or tombstone: ', expiry(emptyExpiry, now)),
    h('dt', {}, 'entries'),
    h('dd', {}, `${served} served, ${heldRecords - served} in reserve or expired, ${tombstones.length} tombstones`),
  );

  const providers = h(
    'table',
    { class: 'providers' },
    h('thead', {}, h('tr', {}, ...['#', 'value', 'service', 'host', 'issued by', 'relay', 'issued', 'expires'].map((t) => h('th', {}, t)))),
    h(
      'tbody',
      {},
      records.length === 0
        ? h('tr', {}, h('td', { colspan: 8, class: 'muted' }, 'no live providers'))
        : records.map((r, i) => {
            const m = r.metadata;
            const hostRecord = m.peer_id === self;
            return h(
              'tr',
              { dataset: { rank: String(i + 1) } },
              h('td', {}, String(i + 1)),
              h('td', { class: 'value' }, m.value),
              h('td', {}, m.service_id[0] ?? ''),
              h('td', {}, peer(m.peer_id, self)),
              h('td', {}, peer(m.issued_by, self)),
              h('td', {}, m.relay_id[0] ? peer(m.relay_id[0], self) : ''),
              h('td', {}, formatInstant(m.timestamp_issued)),
              // SPEC §4.5: a host record on its host is live whatever its age (the renew job re-signs it).
              h('td', {}, hostRecord ? 'never (host record, renewed here)' : expiry(r.timestamp_created + rules.expired_timeout, now)),
            );
          }),
    ),
  );

  const stones = h(
    'table',
    { class: 'tombstones' },
    h('thead', {}, h('tr', {}, ...['issued by', 'host', 'issued', 'expires'].map((t) => h('th', {}, t)))),
    h(
      'tbody',
      {},
      tombstones.length === 0
        ? h('tr', {}, h('td', { colspan: 4, class: 'muted' }, 'no tombstones'))
        : tombstones.map((t) => h('tr', {}, h('td', {}, peer(t.issued_by, self)), h('td', {}, peer(t.peer_id, self)), h('td', {}, formatInstant(t.timestamp_issued)), h('td', {}, expiry(t.timestamp_issued + rules.expired_timeout, now)))),
    ),
  );

  return h(
    'section',
    { class: 'panel resource' },
    h('h3', {}, 'Key'),
    keyFacts,
    h('h3', {}, 'Providers ', h('span', { class: 'muted' }, 'in rank order'), ' ', h('span', { class: 'count' }, String(records.length))),
    providers,
    h('h3', {}, 'Tombstones ', h('span', { class: 'count' }, String(tombstones.length))),
    stones,
  );
}
