// An actor's statechart, drawn from its machine definition (XState's `machine.toJSON()`, as `actors.get`
// returns it): elkjs lays the states and transitions out once per machine, this module renders the layout as
// SVG, highlights the current state, and lights up the transitions an event took as events arrive.
//
// Notation: rounded boxes are states (a double border is a final state), a filled dot points at a compound
// state's initial state, "any state" stands for transitions its compound state takes from every child,
// transitions that change no state are listed inside their state (for the machine's root, above the
// chart). The node adds the eventless (`always`) transitions XState's JSON leaves out, as event "always";
// a state change that no exported transition explains is drawn dashed once this page has seen it.

import { h, stateText } from './format.js';

const SVG = 'http://www.w3.org/2000/svg';
/** Must match `.chart svg` in style.css: labels are measured with it before they are laid out. */
const FONT = '12px "Liberation Sans", Arial, sans-serif';
const LINE = 16;
const FLASH_MS = 900;

const LAYOUT_OPTIONS = {
  'elk.algorithm': 'layered',
  'elk.direction': 'RIGHT',
  // Edges may cross compound states' borders, so the whole hierarchy is laid out in one pass.
  'elk.hierarchyHandling': 'INCLUDE_CHILDREN',
  'elk.json.shapeCoords': 'ROOT',
  'elk.json.edgeCoords': 'ROOT',
  // Start from the initial state and follow transitions, so the chart reads left to right in the order a
  // machine runs (elk's MODEL_ORDER cycle breaking crashes on hierarchical graphs in elkjs 0.12).
  'elk.layered.cycleBreaking.strategy': 'DEPTH_FIRST',
  'elk.edgeRouting': 'ORTHOGONAL',
  'elk.spacing.nodeNode': '28',
  'elk.layered.spacing.nodeNodeBetweenLayers': '44',
  'elk.spacing.edgeLabel': '3',
  'elk.spacing.edgeNode': '14',
};

/** XState state node JSON → a tree with parents, the transitions, and each node's targetless ones. */
export function parseMachine(json) {
  const nodes = new Map();
  const transitions = [];
  const strip = (target) => (target.startsWith('#') ? target.slice(1) : target);
  const visit = (def, parent) => {
    const node = {
      id: def.id,
      key: def.key,
      type: def.type,
      parent,
      depth: parent ? parent.depth + 1 : 0,
      children: [],
      initial: (def.initial?.target ?? []).map(strip),
      invoke: (def.invoke ?? []).map((i) => ({ id: i.id, src: i.src })),
      targetless: [],
    };
    nodes.set(node.id, node);
    for (const child of Object.values(def.states ?? {})) node.children.push(visit(child, node));
    for (const t of def.transitions ?? []) {
      const tr = { index: transitions.length, event: t.eventType, source: node.id, targets: (t.target ?? []).map(strip) };
      transitions.push(tr);
      if (tr.targets.length === 0) node.targetless.push(tr);
    }
    return node;
  };
  const root = visit(json, null);
  return { root, nodes, transitions };
}

/** A short label for an event type: XState's generated names of invoke and delay events say "done", "error", "after". */
export function eventLabel(type) {
  const actor = /^xstate\.(done|error)\.actor\./.exec(type);
  if (actor) return actor[1];
  const after = /^xstate\.after\.([^.]+)\./.exec(type);
  if (after) return `after ${after[1]} ms`;
  return type;
}

/** The ids of the state nodes a snapshot value makes active, the root included. */
export function activeIds(machine, value) {
  const ids = new Set([machine.root.id]);
  const walk = (node, v) => {
    if (v === null || v === undefined) return;
    const entries = typeof v === 'string' ? [[v, null]] : Object.entries(v);
    for (const [key, sub] of entries) {
      const child = node.children.find((c) => c.key === key);
      if (!child) continue;
      ids.add(child.id);
      walk(child, sub);
    }
  };
  walk(machine.root, value);
  return ids;
}

let measureCtx = null;
function textWidth(text) {
  measureCtx ??= document.createElement('canvas').getContext('2d');
  measureCtx.font = FONT;
  return Math.ceil(measureCtx.measureText(text).width);
}

/** Lines shown inside a state under its name: what it invokes and the events it handles in place. */
function innerLines(node) {
  return [...node.invoke.map((i) => ({ text: `invokes ${i.src}` })), ...node.targetless.map((t) => ({ text: `↻ ${eventLabel(t.event)}`, transition: t.index }))];
}

/** Transitions drawn as edges: [edge id, source node id, target node id, label, transition index | null]. */
function edgeList(machine, observed) {
  const edges = [];
  const anyNodes = new Set();
  for (const node of machine.nodes.values()) {
    if (node.children.length > 0 && node.initial.length > 0) for (const target of node.initial) edges.push({ id: `init:${node.id}:${target}`, from: `${node.id}::initial`, to: target, label: null, transition: null, kind: 'initial' });
  }
  for (const t of machine.transitions) {
    const source = machine.nodes.get(t.source);
    t.targets.forEach((target, i) => {
      if (!machine.nodes.has(target)) return;
      // A compound state's own transition to one of its descendants leaves from its "any state" marker.
      const inside = source.children.length > 0 && isDescendant(machine.nodes.get(target), source);
      if (inside) anyNodes.add(source.id);
      edges.push({ id: `t${t.index}:${i}`, from: inside ? `${source.id}::any` : source.id, to: target, label: eventLabel(t.event), transition: t.index, kind: 'declared' });
    });
  }
  for (const o of observed.values()) edges.push({ id: `seen:${o.from}->${o.to}`, from: o.from, to: o.to, label: eventLabel(o.event), transition: null, kind: 'observed' });
  return { edges, anyNodes };
}

function isDescendant(node, ancestor) {
  for (let n = node.parent; n; n = n.parent) if (n === ancestor) return true;
  return false;
}

/** The elk graph of a machine: nested nodes sized to their text, and every edge at the top level. */
function elkGraph(machine, observed) {
  const { edges, anyNodes } = edgeList(machine, observed);
  const toElk = (node) => {
    const lines = node === machine.root ? [] : innerLines(node);
    const nameWidth = textWidth(node === machine.root ? `machine ${node.key}` : node.key) + 28;
    const linesWidth = Math.max(0, ...lines.map((l) => textWidth(l.text) + 24));
    if (node.children.length === 0) return { id: node.id, width: Math.max(96, nameWidth, linesWidth), height: 34 + lines.length * LINE };
    const children = [];
    if (node.initial.length > 0) children.push({ id: `${node.id}::initial`, width: 12, height: 12 });
    if (anyNodes.has(node.id)) children.push({ id: `${node.id}::any`, width: textWidth('any state') + 18, height: 22 });
    children.push(...node.children.map(toElk));
    const top = 30 + lines.length * LINE;
    return { id: node.id, layoutOptions: { ...LAYOUT_OPTIONS, 'elk.padding': `[top=${top},left=16,bottom=16,right=16]`, 'elk.nodeSize.minimum': `(${Math.max(nameWidth, linesWidth)},0)`, 'elk.nodeSize.constraints': 'MINIMUM_SIZE' }, children };
  };
  return {
    id: '::graph',
    layoutOptions: { ...LAYOUT_OPTIONS, 'elk.padding': '[top=4,left=4,bottom=4,right=4]' },
    children: [toElk(machine.root)],
    edges: edges.map((e) => ({
      id: e.id,
      sources: [e.from],
      targets: [e.to],
      labels: e.label ? [{ text: e.label, width: textWidth(e.label) + 8, height: 16 }] : [],
    })),
    meta: edges,
  };
}

/** Layouts by machine definition and observed edges: every actor of a kind shares one. */
const layouts = new Map();
/** State changes this page has seen, by actor kind: `before->after` → {before, after, event}. */
const seenChanges = new Map();

/**
 * Notes a state change of any actor (every /inspect event goes through here); returns true when it is new
 * for its kind, so a chart of that kind may have a transition to add.
 */
export function noteChange(e) {
  if (e.state_before === null || e.state_before === undefined || e.state_after === null || e.state_after === undefined) return false;
  const key = `${stateText(e.state_before)}->${stateText(e.state_after)}`;
  if (stateText(e.state_before) === stateText(e.state_after)) return false;
  const seen = seenChanges.get(e.kind) ?? new Map();
  seenChanges.set(e.kind, seen);
  if (seen.has(key)) return false;
  seen.set(key, { before: e.state_before, after: e.state_after, event: e.event.type });
  return true;
}

/** The seen changes of `kind` that no exported transition of `machine` explains, as edges between states. */
function unexplainedChanges(machine, kind) {
  const edges = new Map();
  for (const c of seenChanges.get(kind)?.values() ?? []) {
    const before = activeIds(machine, c.before);
    const after = activeIds(machine, c.after);
    if (takenBy(machine, c.event, before, after).some((t) => t.targets.some((target) => after.has(target)))) continue;
    const from = deepestActive(machine, before);
    const to = deepestActive(machine, after);
    if (from && to && !edges.has(`${from}->${to}`)) edges.set(`${from}->${to}`, { from, to, event: c.event });
  }
  return edges;
}

/**
 * The transitions an event took from the active states `before` to `after`: XState takes those of the
 * deepest state that handles it, then any eventless ("always") transitions the new states allow.
 */
function takenBy(machine, type, before, after) {
  const matches = machine.transitions.filter((t) => t.event === type && before.has(t.source));
  const deepest = Math.max(-1, ...matches.map((t) => machine.nodes.get(t.source).depth));
  const taken = matches.filter((t) => machine.nodes.get(t.source).depth === deepest);
  const reached = new Set([...before, ...taken.flatMap((t) => t.targets)]);
  const eventless = machine.transitions.filter((t) => t.event === 'always' && reached.has(t.source) && t.targets.some((x) => after.has(x)));
  return [...taken, ...eventless];
}

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) el.setAttribute(k, String(v));
  for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

/** The chart of the selected actor, in `container`; events handled in every state as pills in `rootEvents`. */
export class StateChart {
  #container;
  #rootEvents;
  #elk = new globalThis.ELK();
  #machine = null;
  #kind = '';
  #machineKey = '';
  #layoutKey = '';
  #generation = 0;
  #state = null;
  #timers = new WeakMap();

  constructor(container, rootEvents) {
    this.#container = container;
    this.#rootEvents = rootEvents;
  }

  /** Shows `machineJson` (of an actor of `kind`) with `state` current; lays it out only if something changed. */
  async show(machineJson, state, kind) {
    const key = JSON.stringify(machineJson);
    this.#state = state;
    this.#kind = kind;
    if (key !== this.#machineKey) {
      this.#machineKey = key;
      this.#machine = parseMachine(machineJson);
      this.#layoutKey = '';
    }
    await this.#draw();
    // Events may have moved the state while elk was busy: show the latest.
    this.setState(this.#state);
  }

  clear() {
    this.#generation++;
    this.#machine = null;
    this.#machineKey = this.#layoutKey = '';
    this.#container.replaceChildren();
    this.#rootEvents.replaceChildren();
  }

  /** Highlights the states `value` makes active. */
  setState(value) {
    this.#state = value;
    if (!this.#machine) return;
    const active = activeIds(this.#machine, value);
    for (const el of this.#container.querySelectorAll('[data-state-id]')) el.classList.toggle('active', active.has(el.dataset.stateId));
  }

  /** Redraws if state changes seen since (noteChange) add transitions to the chart. */
  async refresh() {
    if (this.#machine) await this.#draw();
  }

  /** An event of the shown actor (from /inspect): lights up the transitions it took and moves the highlight. */
  async event(e) {
    const machine = this.#machine;
    if (!machine) return;
    if (e.state_before === null || e.state_before === undefined) {
      // The actor started: its initial transitions are what it took.
      this.setState(e.state_after);
      this.#flash(this.#container.querySelectorAll('[data-kind="initial"]'));
      return;
    }
    await this.#draw(); // the change may be new to this kind (noteChange ran first)
    const before = activeIds(machine, e.state_before);
    const after = activeIds(machine, e.state_after);
    const taken = takenBy(machine, e.event.type, before, after);
    const from = deepestActive(machine, before);
    const to = deepestActive(machine, after);
    this.setState(e.state_after);
    for (const t of taken) this.#flash(document.querySelectorAll(`[data-transition="${t.index}"]`));
    if (from !== to) this.#flash(this.#container.querySelectorAll(`[data-edge-id="${CSS.escape(`seen:${from}->${to}`)}"]`));
  }

  #flash(elements) {
    for (const el of elements) {
      clearTimeout(this.#timers.get(el));
      el.classList.add('fired');
      this.#timers.set(
        el,
        setTimeout(() => el.classList.remove('fired'), FLASH_MS),
      );
    }
  }

  async #draw() {
    const machine = this.#machine;
    const observed = unexplainedChanges(machine, this.#kind);
    const layoutKey = `${this.#machineKey}|${[...observed.keys()].join(',')}`;
    if (layoutKey === this.#layoutKey) return;
    const generation = ++this.#generation;
    let entry = layouts.get(layoutKey);
    if (!entry) {
      const graph = elkGraph(machine, observed);
      entry = this.#elk.layout(graph).then((laid) => ({ laid, meta: graph.meta }));
      layouts.set(layoutKey, entry);
    }
    const { laid, meta } = await entry;
    // A newer show() or clear() won while elk was busy.
    if (generation !== this.#generation) return;
    this.#layoutKey = layoutKey;
    this.#render(machine, laid, meta);
    this.setState(this.#state);
  }

  #render(machine, laid, meta) {
    const shapes = new Map();
    const collect = (n) => {
      shapes.set(n.id, n);
      for (const c of n.children ?? []) collect(c);
    };
    collect(laid);
    const width = Math.ceil(laid.width);
    const height = Math.ceil(laid.height);
    const root = svg('svg', { viewBox: `0 0 ${width} ${height}`, width, height, role: 'img', 'aria-label': `statechart of machine ${machine.root.key}` });
    root.append(
      svg(
        'defs',
        {},
        svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 8, markerHeight: 8, markerUnits: 'userSpaceOnUse', orient: 'auto-start-reverse' }, svg('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrow' })),
        svg('marker', { id: 'arrow-fired', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 9, markerHeight: 9, markerUnits: 'userSpaceOnUse', orient: 'auto-start-reverse' }, svg('path', { d: 'M0,0 L10,5 L0,10 z', class: 'arrow-fired' })),
      ),
    );
    const states = svg('g', { class: 'states' });
    const edges = svg('g', { class: 'edges' });
    const labels = svg('g', { class: 'labels' });
    // Parents first, so children are drawn on top of their compound state.
    const drawState = (node) => {
      const s = shapes.get(node.id);
      if (!s) return;
      const isRoot = node === machine.root;
      const compound = node.children.length > 0;
      const g = svg('g', { class: `state${compound ? ' compound' : ' leaf'}${isRoot ? ' root' : ''}${node.type === 'final' ? ' final' : ''}`, 'data-state-id': node.id, transform: `translate(${s.x},${s.y})` });
      g.append(svg('rect', { width: s.width, height: s.height, rx: compound ? 10 : 8 }));
      if (node.type === 'final') g.append(svg('rect', { class: 'inner', x: 3, y: 3, width: s.width - 6, height: s.height - 6, rx: 6 }));
      const name = isRoot ? `machine ${node.key}` : node.key;
      g.append(svg('text', compound ? { class: 'name', x: 12, y: 19 } : { class: 'name', x: s.width / 2, y: 21, 'text-anchor': 'middle' }, name));
      innerLines(isRoot ? { invoke: [], targetless: [] } : node).forEach((line, i) => {
        const attrs = compound ? { x: 12, y: 19 + LINE * (i + 1) } : { x: s.width / 2, y: 21 + LINE * (i + 1), 'text-anchor': 'middle' };
        g.append(svg('text', { ...attrs, class: line.transition === undefined ? 'sub' : 'sub handled', 'data-transition': line.transition }, line.text));
      });
      states.append(g);
      const initial = shapes.get(`${node.id}::initial`);
      if (initial) states.append(svg('circle', { class: 'initial-dot', cx: initial.x + 6, cy: initial.y + 6, r: 5 }));
      const any = shapes.get(`${node.id}::any`);
      if (any) states.append(svg('g', { class: 'any', transform: `translate(${any.x},${any.y})` }, svg('rect', { width: any.width, height: any.height, rx: 11 }), svg('text', { x: any.width / 2, y: 15, 'text-anchor': 'middle' }, 'any state')));
      for (const c of node.children) drawState(c);
    };
    drawState(machine.root);

    const edgeMeta = new Map(meta.map((m) => [m.id, m]));
    for (const e of laid.edges ?? []) {
      const m = edgeMeta.get(e.id);
      const points = (e.sections ?? []).flatMap((sec) => [sec.startPoint, ...(sec.bendPoints ?? []), sec.endPoint]);
      if (points.length < 2) continue;
      const d = points.map((p, i) => `${i === 0 ? 'M' : 'L'}${p.x},${p.y}`).join(' ');
      const g = svg('g', { class: `transition ${m.kind}`, 'data-edge-id': e.id, 'data-kind': m.kind, 'data-transition': m.transition ?? undefined, 'data-event': m.label ?? undefined });
      g.append(svg('path', { d, 'marker-end': 'url(#arrow)' }));
      edges.append(g);
      for (const l of e.labels ?? []) {
        labels.append(
          svg(
            'g',
            { class: `edge-label ${m.kind}`, 'data-transition': m.transition ?? undefined, 'data-edge-id': e.id, transform: `translate(${l.x},${l.y})` },
            svg('rect', { width: l.width, height: l.height, rx: 3 }),
            svg('text', { x: l.width / 2, y: 12, 'text-anchor': 'middle' }, l.text),
          ),
        );
      }
    }
    root.append(states, edges, labels);
    this.#container.replaceChildren(root);

    const handled = machine.root.targetless;
    this.#rootEvents.replaceChildren(
      ...(handled.length === 0
        ? []
        : [h('span', { class: 'label' }, 'handled in every state:'), ...handled.map((t) => h('span', { class: 'pill', dataset: { transition: String(t.index) }, title: t.event }, eventLabel(t.event)))]),
    );
  }
}

/** The deepest active state (for parallel states, the first region's). */
function deepestActive(machine, ids) {
  let best = null;
  for (const id of ids) {
    const n = machine.nodes.get(id);
    if (n && (!best || n.depth > best.depth)) best = n;
  }
  return best && best !== machine.root ? best.id : null;
}
