// The Signpost node page: the node, its peers, its live actors (from the /inspect stream), the resources it
// holds (registry.list_keys), and the selected actor's statechart, context and events. Everything comes
// from the node that served the page, so it works on a closed network.

import { Rpc, RpcError, followInspect, nodeSocketUrl } from './connection.js';
import { ActorList, ActorStore } from './actor-list.js';
import { StateChart, eventLabel, noteChange } from './statechart.js';
import { resourceView } from './resource-view.js';
import { syncView } from './sync-view.js';
import { formatDuration, formatInstant, h, jsonView, shortId, stateText } from './format.js';

const $ = (id) => document.getElementById(id);

/** Events kept page-wide, so selecting an actor shows what it did before it was selected. */
const RECENT_EVENTS = 5000;
/** Events shown in the selected actor's log. */
const LOG_LIMIT = 200;
const RESOURCE_PAGE = 100;
/** At most one `actors.get` of the selected actor per this many ms while its events stream in. */
const DETAIL_REFRESH_MS = 250;
/** Resource actor events that change what it holds (reads such as get_records change nothing). */
const WRITES = new Set(['register_key', 'republish_key', 'put_record', 'add_tombstone', 'republish_records', 'republish_tombstones', 'clear_expired', 'renew']);
/** Resource actor events that only read (the page's own refreshes among them): the log can hide them. */
const READS = new Set(['get_key_metadata', 'get_records', 'get_tombstones', 'list_item', 'evict_stale']);
const RESOURCE_PREFIX = 'resource:';

const rpc = new Rpc(nodeSocketUrl('/rpc'));
const store = new ActorStore();
const chart = new StateChart($('chart'), $('root-events'));
const page = {
  /** `node.info`, refreshed every second. */
  info: null,
  /** `/node-config.json`: clock kind and time rules. */
  config: { clock: 'system', stale_timeout: 3600, expired_timeout: 86400 },
  recent: [],
  selected: null,
  /** The selected actor's last `actors.get`, and for a resource its records and tombstones. */
  detail: null,
  resource: null,
  log: [],
  resources: { items: [], next: null, loaded: false },
};

// ---- small helpers -------------------------------------------------------------------------------------

let toastTimer = 0;
/** Shows a message for a few seconds (failed calls, dropped events): visible to the user, not thrown. */
function toast(message, kind = 'error') {
  const el = $('toast');
  el.textContent = message;
  el.dataset.kind = kind;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (el.hidden = true), 5000);
}

function report(e) {
  toast(e instanceof RpcError ? `${e.code}: ${e.message}` : String(e?.message ?? e));
}

/** Runs `fn` at most once per `ms`, the last call winning (trailing). */
function throttle(fn, ms) {
  let timer = 0;
  let last = 0;
  return () => {
    if (timer) return;
    const wait = Math.max(0, last + ms - performance.now());
    timer = setTimeout(() => {
      timer = 0;
      last = performance.now();
      fn();
    }, wait);
  };
}

// ---- the node ------------------------------------------------------------------------------------------

async function refreshNode() {
  const before = page.info?.now;
  const info = await rpc.call('node.info');
  page.info = info;
  $('node-peer-id').textContent = info.peer_id;
  $('node-peer-id').title = info.addresses.join(' ');
  $('node-version').textContent = `v${info.version}`;
  $('node-uptime').textContent = formatDuration(info.uptime_s);
  $('node-clock').textContent = `${formatInstant(info.now)}${page.config.clock === 'manual' ? ' · manual' : ''}`;
  document.title = `Signpost node ${shortId(info.peer_id, 4)}`;
  if (before !== undefined && before !== info.now && page.resource) {
    // A manual clock jumps: entries may have expired without an event, so ask again. (A system clock
    // only moves the relative times, which are redrawn from what was fetched.)
    if (page.config.clock === 'manual') refreshResource();
    else renderResource();
  }
}

async function refreshPeers() {
  const peers = await rpc.call('node.peers');
  $('peer-total').textContent = String(peers.length);
  $('peer-list').replaceChildren(
    ...(peers.length === 0
      ? [h('li', { class: 'muted' }, 'none yet (this node does not connect to other nodes yet)')]
      : peers.map((p) => {
          // A peer's address is its base URL ws://HOST:PORT; its own visualiser is http://HOST:PORT/.
          const http = p.address.replace(/^ws/, 'http').replace(/\/(p2p)?$/, '') + '/';
          return h('li', {}, h('a', { href: http, title: p.peer_id, class: 'mono' }, shortId(p.peer_id, 6)), h('span', { class: 'muted' }, ` bucket ${p.distance_bucket}, seen ${formatInstant(p.last_seen)}`));
        })),
  );
}

function setupClockControls() {
  const form = $('clock-controls');
  form.hidden = page.config.clock !== 'manual';
  form.addEventListener('click', (e) => {
    const seconds = e.target.dataset?.advance;
    if (seconds === undefined) return;
    rpc
      .call('debug.advance_time', { seconds: Number(seconds) })
      .then(refreshNode)
      .catch(report);
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const now = Number($('clock-set').value);
    rpc
      .call('debug.set_time', { now })
      .then(refreshNode)
      .catch(report);
  });
}

// ---- live actors ---------------------------------------------------------------------------------------

const list = new ActorList(store, { list: $('actor-list'), spacer: $('actor-spacer'), chips: $('kind-chips'), filter: $('actor-filter'), total: $('actor-total'), foot: $('actor-foot') }, (id) => select(id));

function onInspect(message) {
  if (message.type === 'snapshot') {
    store.replace(message.actors);
    list.refresh();
    renderResourceList();
    // The list of keys was read before this snapshot: a key registered in between (no event reaches a page
    // before its snapshot) would be missing from it while the actor list shows it held.
    if (heldButNotListed()) reloadResources();
    if (page.selected) markLive(store.actors.has(page.selected));
    // A deep link (#resource:…) selects its actor once the node has said what is alive.
    const wanted = decodeURI(location.hash.slice(1));
    if (wanted && !page.selected) select(wanted);
  } else if (message.type === 'events') {
    const membershipBefore = store.membership;
    const receivedAt = new Date().toLocaleTimeString();
    for (const e of message.events) e.receivedAt = receivedAt;
    store.apply(message.events);
    let newChange = false;
    for (const e of message.events) if (noteChange(e) && e.kind === page.detail?.kind) newChange = true;
    page.recent.push(...message.events);
    if (page.recent.length > RECENT_EVENTS) page.recent.splice(0, page.recent.length - RECENT_EVENTS);
    list.refresh();
    if (store.membership !== membershipBefore) renderResourceList();
    let newKey = false;
    for (const e of message.events) {
      if (e.id === page.selected) selectedEvent(e);
      if ((e.event.type === 'register_key' || e.event.type === 'republish_key') && !page.resources.items.some((i) => RESOURCE_PREFIX + i.key.id === e.id)) newKey = true;
      if (e.id === 'job:gc' && e.state_after === 'waiting') newKey = true; // gc may have removed keys
    }
    if (newKey) reloadResources();
    // Another actor of the shown kind made a state change the machine's JSON does not explain: draw it.
    if (newChange && !message.events.some((e) => e.id === page.selected)) chart.refresh().catch(report);
    // The node clock moved (a job ran, the manual clock jumped): show it before the next poll.
    const latest = message.events[message.events.length - 1]?.at;
    if (page.info && latest > page.info.now) refreshNodeSoon();
  } else if (message.type === 'dropped') {
    toast(`the node dropped ${message.count} inspection events (this page read too slowly)`, 'warn');
  }
}

function onStatus(status) {
  const el = $('connection');
  el.dataset.state = status;
  el.textContent = status === 'open' ? 'live' : status === 'connecting' ? 'connecting…' : 'disconnected, retrying…';
}

// ---- the selected actor --------------------------------------------------------------------------------

// A link to another actor on a page that is already open (the address bar, a pasted #id) selects it too.
window.addEventListener('hashchange', () => {
  const wanted = decodeURI(location.hash.slice(1));
  if (wanted && wanted !== page.selected) select(wanted);
});

async function select(id) {
  page.selected = id;
  page.detail = null;
  page.resource = null;
  page.log = page.recent.filter((e) => e.id === id).slice(-LOG_LIMIT);
  history.replaceState(null, '', `#${encodeURI(id)}`);
  list.select(id);
  list.reveal(id);
  $('empty-detail').hidden = true;
  $('actor-detail').hidden = false;
  $('detail-title').textContent = id;
  $('detail-title').title = id;
  $('resource-view').hidden = true;
  $('resource-view').replaceChildren();
  chart.clear();
  renderLog();
  renderResourceList();
  try {
    await loadDetail();
    if (page.detail?.kind === 'resource') await loadResource();
  } catch (e) {
    report(e);
  }
}

/** Shows whether the selected actor is live; a passivated resource actor can be woken from here. */
function markLive(live) {
  $('actor-detail').classList.toggle('not-live', !live);
  $('detail-activate').hidden = live || !page.selected?.startsWith(RESOURCE_PREFIX);
  if (!live) $('detail-state').textContent = page.detail ? `${stateText(page.detail.state)} · not live` : 'not live';
}

async function loadDetail() {
  const id = page.selected;
  let detail;
  try {
    detail = await rpc.call('actors.get', { id });
  } catch (e) {
    if (!(e instanceof RpcError && e.code === 'actor_not_found')) throw e;
    if (id === page.selected) markLive(false);
    return;
  }
  if (id !== page.selected) return;
  page.detail = detail;
  $('detail-kind').textContent = detail.kind;
  $('detail-kind').className = `kind-badge kind-${detail.kind}`;
  $('detail-state').textContent = stateText(detail.state);
  markLive(true);
  $('detail-context').replaceChildren(jsonView(detail.context));
  if (id === 'job:sync') {
    $('resource-view').hidden = false;
    $('resource-view').replaceChildren(syncView({ detail }));
  }
  await chart.show(detail.machine, detail.state, detail.kind);
}

/**
 * Reads the selected resource's providers and tombstones (ranked and filtered by the node itself). These
 * reads are events of the actor too, so they are made on selection, after its writes and after a manual
 * clock jump, never in answer to its reads (that would feed itself).
 */
async function loadResource() {
  const id = page.selected;
  if (!id?.startsWith(RESOURCE_PREFIX) || !page.detail?.context.key) {
    page.resource = { records: [], tombstones: [] };
    renderResource();
    return;
  }
  const keyId = id.slice(RESOURCE_PREFIX.length);
  const [records, tombstones] = await Promise.all([rpc.call('registry.get_records', { key_id: keyId }), rpc.call('registry.get_tombstones', { key_id: keyId })]);
  if (id !== page.selected) return;
  page.resource = { records, tombstones };
  const listed = page.resources.items.find((i) => i.key.id === keyId);
  if (listed) {
    listed.records = records;
    listed.tombstones = tombstones;
    renderResourceList();
  }
  renderResource();
}

function renderResource() {
  if (!page.detail || page.detail.kind !== 'resource' || !page.resource) return;
  const view = $('resource-view');
  view.hidden = false;
  view.replaceChildren(resourceView({ detail: page.detail, ...page.resource, rules: page.config, now: page.info?.now ?? 0, self: page.info?.peer_id ?? '' }));
}

const refreshNodeSoon = throttle(() => refreshNode().catch(() => undefined), 200);
const refreshDetail = throttle(() => loadDetail().catch(report), DETAIL_REFRESH_MS);
const refreshResource = throttle(() => loadResource().catch(report), DETAIL_REFRESH_MS);

/**
 * An event of the selected actor: log it, light up the chart, and re-read what it may have changed
 * (`actors.get` reads the actor's snapshot without sending it an event).
 */
function selectedEvent(e) {
  page.log.push(e);
  if (page.log.length > LOG_LIMIT) page.log.shift();
  renderLog();
  $('detail-state').textContent = stateText(e.state_after);
  chart.event(e).catch(report);
  markLive(store.actors.has(e.id));
  if (store.actors.has(e.id)) refreshDetail();
  if (e.kind === 'resource' && WRITES.has(e.event.type)) refreshResource();
}

function renderLog() {
  const shown = $('hide-reads').checked ? page.log.filter((e) => !READS.has(e.event.type)) : page.log;
  $('event-count').textContent = String(shown.length);
  if (shown.length === 0) {
    $('event-log').replaceChildren(h('tr', {}, h('td', { colspan: 4, class: 'muted' }, 'no events since this page opened')));
    return;
  }
  $('event-log').replaceChildren(
    ...shown
      .slice()
      .reverse()
      .map((e) =>
        h(
          'tr',
          {},
          h('td', { class: 'nowrap' }, formatInstant(e.at)),
          h('td', { class: 'nowrap muted' }, e.receivedAt ?? ''),
          h('td', { title: e.event.type }, eventLabel(e.event.type)),
          h('td', {}, `${stateText(e.state_before)} → ${stateText(e.state_after)}`),
        ),
      ),
  );
}

$('hide-reads').addEventListener('change', renderLog);
$('detail-activate').addEventListener('click', () => activateResource(page.selected.slice(RESOURCE_PREFIX.length)));

// ---- resources held ------------------------------------------------------------------------------------

/** Loads the first page again (or the next one): every key this node holds, live or passivated. */
async function loadResources(more = false) {
  const params = more && page.resources.next ? { after: page.resources.next, limit: RESOURCE_PAGE } : { limit: RESOURCE_PAGE };
  const res = await rpc.call('registry.list_keys', params);
  page.resources.items = more ? [...page.resources.items, ...res.keys] : res.keys;
  page.resources.next = res.next;
  page.resources.loaded = true;
  renderResourceList();
  if (heldButNotListed()) reloadResources();
}

const reloadResources = throttle(() => loadResources(false).catch(report), 1000);

/** A resource actor holds a key the resources list does not show (the list has every key when it has no next page). */
function heldButNotListed() {
  if (!page.resources.loaded || page.resources.next) return false;
  const listed = new Set(page.resources.items.map((i) => RESOURCE_PREFIX + i.key.id));
  for (const a of store.actors.values()) if (a.kind === 'resource' && a.state === 'holding' && !listed.has(a.id)) return true;
  return false;
}

let resourceFrame = 0;
/** Redraws the resources list at the next frame (live badges follow the actors that come and go). */
function renderResourceList() {
  if (resourceFrame) return;
  resourceFrame = requestAnimationFrame(() => {
    resourceFrame = 0;
    const { items, next } = page.resources;
    $('resource-total').textContent = `${items.length}${next ? '+' : ''}`;
    $('resources-more').hidden = !next;
    $('resource-list').replaceChildren(
      ...(items.length === 0 && page.resources.loaded
        ? [h('li', { class: 'muted' }, 'no resources held')]
        : items.map(({ key, records, tombstones }) => {
            const actorId = RESOURCE_PREFIX + key.id;
            const live = store.actors.has(actorId);
            return h(
              'li',
              {},
              h(
                'button',
                { type: 'button', class: 'resource-item', dataset: { keyId: key.id }, 'aria-selected': String(actorId === page.selected), title: key.id, onclick: () => activateResource(key.id) },
                h('span', { class: 'label' }, key.label === '' ? '(no label)' : key.label),
                h('span', { class: 'mono muted' }, shortId(key.id, 5)),
                h('span', { class: 'counts' }, `${records.length} prov · ${tombstones.length} tomb`),
                h('span', { class: `live ${live ? 'yes' : 'no'}` }, live ? 'live' : 'passivated'),
              ),
            );
          })),
    );
  });
}

/** Selecting a resource wakes its actor (a read activates it: SPEC virtual actors) and shows it. */
async function activateResource(keyId) {
  try {
    await rpc.call('registry.get_key_metadata', { key_id: keyId });
  } catch (e) {
    report(e);
  }
  await select(RESOURCE_PREFIX + keyId);
}

$('resources-refresh').addEventListener('click', () => loadResources(false).catch(report));
$('resources-more').addEventListener('click', () => loadResources(true).catch(report));

// ---- start ---------------------------------------------------------------------------------------------

async function start() {
  try {
    const res = await fetch('/node-config.json');
    if (res.ok) page.config = await res.json();
  } catch {
    // keep the defaults: the page still works, the times use SPEC §4.1's defaults
  }
  setupClockControls();
  followInspect(nodeSocketUrl('/inspect'), { onMessage: onInspect, onStatus });
  const every = (fn, ms) => {
    const run = () => fn().catch(() => undefined); // the connection indicator already says when the node is gone
    run();
    setInterval(run, ms);
  };
  every(refreshNode, 1000);
  every(refreshPeers, 5000);
  loadResources().catch(report);
}

start();
