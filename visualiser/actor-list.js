// The live actors: what /inspect says is alive (ActorStore), and the grouped, filtered list that shows them
// (ActorList). The list is windowed: only the rows in view (plus a few) exist in the DOM, so 10 000 actors
// cost the same to draw as 20, and an event only redraws when a frame is due.

import { h, stateText } from './format.js';

/** SPEC §9.4 actor kinds, in the order the list groups them. */
export const KINDS = ['resource', 'registration', 'lookup', 'republish', 'renew', 'gc', 'sync', 'connection', 'bootstrap'];


const ROW_HEIGHT = 26;
const OVERSCAN = 8;
/** How long a row stays tinted after its actor changed state. */
const RECENT_MS = 1500;

/** Every live actor by id, kept from the /inspect stream. */
export class ActorStore {
  /** id → {id, kind, state, text, haystack, started_at, changedAt} */
  actors = new Map();
  /** Bumped when actors come or go (the list then re-sorts). */
  membership = 0;

  /** A `snapshot` replaces everything the page knew. */
  replace(list) {
    this.actors.clear();
    for (const a of list) this.#put(a.id, a.kind, a.state, a.started_at, 0);
    this.membership++;
  }

  /** Applies an `events` batch; returns the ids whose actor started, changed state or ended. */
  apply(events) {
    const touched = new Set();
    for (const e of events) {
      touched.add(e.id);
      // The node marks the event after which an actor is no longer live (it reached a final state).
      const ended = e.ended === true || e.state_after === null;
      const known = this.actors.get(e.id);
      if (ended) {
        if (known && this.actors.delete(e.id)) this.membership++;
        continue;
      }
      if (!known) {
        this.#put(e.id, e.kind, e.state_after, e.at, performance.now());
        this.membership++;
      } else if (stateText(e.state_after) !== known.text) {
        this.#put(e.id, e.kind, e.state_after, known.started_at, performance.now());
      }
    }
    return touched;
  }

  countByKind() {
    const counts = Object.fromEntries(KINDS.map((k) => [k, 0]));
    for (const a of this.actors.values()) counts[a.kind] = (counts[a.kind] ?? 0) + 1;
    return counts;
  }

  #put(id, kind, state, started_at, changedAt) {
    const text = stateText(state);
    this.actors.set(id, { id, kind, state, text, haystack: `${id} ${kind} ${text}`.toLowerCase(), started_at, changedAt });
  }
}

/** The sidebar list: kind chips with counts, a filter, and a windowed list grouped by kind. */
export class ActorList {
  #store;
  #els;
  #onSelect;
  #kindsShown = new Set(); // empty: every kind
  #collapsed = new Set();
  #terms = [];
  #sorted = null; // per kind, ids sorted; rebuilt when membership changes
  #sortedAt = -1;
  #rows = [];
  #frame = 0;
  #rebuildDue = false;
  #recentTimer = 0;
  selectedId = null;

  constructor(store, els, onSelect) {
    this.#store = store;
    this.#els = els;
    this.#onSelect = onSelect;
    els.filter.addEventListener('input', () => {
      this.#terms = els.filter.value.toLowerCase().split(/\s+/).filter(Boolean);
      this.refresh();
    });
    els.list.addEventListener('scroll', () => this.#schedule(false));
    els.list.addEventListener('click', (e) => {
      const row = e.target.closest('.row');
      if (!row) return;
      if (row.dataset.kind && !row.dataset.actorId) {
        this.#collapsed.has(row.dataset.kind) ? this.#collapsed.delete(row.dataset.kind) : this.#collapsed.add(row.dataset.kind);
        this.refresh();
      } else if (row.dataset.actorId) this.#onSelect(row.dataset.actorId);
    });
    els.list.addEventListener('keydown', (e) => this.#key(e));
    this.#buildChips();
    this.refresh();
  }

  /** Rebuilds the rows (after actors came, went or changed, or the filter changed) at the next frame. */
  refresh() {
    this.#schedule(true);
  }

  select(id) {
    this.selectedId = id;
    this.#schedule(false);
  }

  /** Scrolls the selected actor into view. */
  reveal(id) {
    this.#rebuildRows();
    const i = this.#rows.findIndex((r) => r.actor?.id === id);
    if (i < 0) return;
    const list = this.#els.list;
    const top = i * ROW_HEIGHT;
    if (top < list.scrollTop || top + ROW_HEIGHT > list.scrollTop + list.clientHeight) list.scrollTop = top - list.clientHeight / 2;
    this.#schedule(false);
  }

  #schedule(rebuild) {
    this.#rebuildDue ||= rebuild;
    if (this.#frame) return;
    this.#frame = requestAnimationFrame(() => {
      this.#frame = 0;
      if (this.#rebuildDue) this.#rebuildRows();
      this.#rebuildDue = false;
      this.#draw();
    });
  }

  #buildChips() {
    const chips = this.#els.chips;
    chips.replaceChildren(
      ...KINDS.map((kind) =>
        h('button', { type: 'button', class: `chip kind-${kind}`, dataset: { kind }, 'aria-pressed': 'false', onclick: () => this.#toggleKind(kind) }, h('span', { class: 'dot' }), kind, ' ', h('b', {}, '0')),
      ),
    );
  }

  #toggleKind(kind) {
    this.#kindsShown.has(kind) ? this.#kindsShown.delete(kind) : this.#kindsShown.add(kind);
    for (const chip of this.#els.chips.children) chip.setAttribute('aria-pressed', String(this.#kindsShown.has(chip.dataset.kind)));
    this.refresh();
  }

  #rebuildRows() {
    const store = this.#store;
    if (this.#sortedAt !== store.membership) {
      this.#sorted = Object.fromEntries(KINDS.map((k) => [k, []]));
      for (const a of store.actors.values()) (this.#sorted[a.kind] ??= []).push(a.id);
      for (const ids of Object.values(this.#sorted)) ids.sort();
      this.#sortedAt = store.membership;
    }
    const counts = store.countByKind();
    for (const chip of this.#els.chips.children) {
      chip.querySelector('b').textContent = counts[chip.dataset.kind].toLocaleString('en-US');
      chip.classList.toggle('none', counts[chip.dataset.kind] === 0);
    }
    this.#els.total.textContent = store.actors.size.toLocaleString('en-US');

    const rows = [];
    let shown = 0;
    for (const kind of Object.keys(this.#sorted)) {
      if (this.#kindsShown.size > 0 && !this.#kindsShown.has(kind)) continue;
      const matching = [];
      for (const id of this.#sorted[kind]) {
        const a = store.actors.get(id);
        if (a && this.#terms.every((t) => a.haystack.includes(t))) matching.push(a);
      }
      if (matching.length === 0) continue;
      shown += matching.length;
      const collapsed = this.#collapsed.has(kind);
      rows.push({ group: kind, count: matching.length, total: this.#sorted[kind].length, collapsed });
      if (!collapsed) for (const a of matching) rows.push({ actor: a });
    }
    this.#rows = rows;
    this.#els.spacer.style.height = `${rows.length * ROW_HEIGHT}px`;
    this.#els.foot.textContent = shown === store.actors.size ? '' : `${shown.toLocaleString('en-US')} of ${store.actors.size.toLocaleString('en-US')} match`;
  }

  #draw() {
    const { list, spacer } = this.#els;
    const first = Math.max(0, Math.floor(list.scrollTop / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(this.#rows.length, Math.ceil((list.scrollTop + list.clientHeight) / ROW_HEIGHT) + OVERSCAN);
    const now = performance.now();
    let nextFade = Infinity;
    const els = [];
    for (let i = first; i < last; i++) {
      const r = this.#rows[i];
      let el;
      if (r.group) {
        el = h('div', { class: `row group kind-${r.group}`, dataset: { kind: r.group }, title: r.collapsed ? 'show' : 'hide' }, r.collapsed ? '▸ ' : '▾ ', r.group, h('span', { class: 'count' }, r.count === r.total ? r.count.toLocaleString('en-US') : `${r.count.toLocaleString('en-US')} / ${r.total.toLocaleString('en-US')}`));
      } else {
        const a = r.actor;
        const age = now - a.changedAt;
        if (age < RECENT_MS) nextFade = Math.min(nextFade, RECENT_MS - age);
        el = h(
          'div',
          {
            class: `row actor kind-${a.kind}${age < RECENT_MS ? ' recent' : ''}`,
            role: 'option',
            'aria-selected': String(a.id === this.selectedId),
            dataset: { actorId: a.id, state: a.text },
            title: a.id,
          },
          h('span', { class: 'dot' }),
          h('span', { class: 'id mono' }, a.id),
          h('span', { class: 'state' }, a.text),
        );
      }
      el.style.transform = `translateY(${i * ROW_HEIGHT}px)`;
      els.push(el);
    }
    spacer.replaceChildren(...els);
    // Clear the "recently changed" tint when it is due, without redrawing on a timer otherwise.
    clearTimeout(this.#recentTimer);
    if (nextFade !== Infinity) this.#recentTimer = setTimeout(() => this.#schedule(false), nextFade + 20);
  }

  /** Up and down move the selection through the visible actors. */
  #key(e) {
    if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
    e.preventDefault();
    const actors = this.#rows.filter((r) => r.actor);
    const i = actors.findIndex((r) => r.actor.id === this.selectedId);
    const next = actors[Math.max(0, Math.min(actors.length - 1, i + (e.key === 'ArrowDown' ? 1 : -1)))];
    if (next) {
      this.#onSelect(next.actor.id);
      this.reveal(next.actor.id);
    }
  }
}
