// Small, shared presentation helpers: building DOM, naming states, and showing node-clock times.

/**
 * Creates an element: `h('a', { href, class: 'x', onclick }, 'text', child)`. Text is always set as text
 * (never parsed as HTML), so ids, labels and values from the node cannot inject markup.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c !== undefined && c !== null && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

/**
 * An XState snapshot value as one line: `"holding"`, `{a: "b"}` → `a.b`, parallel regions joined with ", ".
 */
export function stateText(value) {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'string') return value;
  return Object.entries(value)
    .map(([k, v]) => (v && typeof v === 'object' && Object.keys(v).length === 0 ? k : `${k}.${stateText(v)}`))
    .join(', ');
}

/** "1 d 2 h", "3 h 5 min", "42 s": the two largest units of a number of seconds. */
export function formatDuration(seconds) {
  const s = Math.abs(Math.round(seconds));
  const units = [
    ['d', 86400],
    ['h', 3600],
    ['min', 60],
    ['s', 1],
  ];
  const parts = [];
  let rest = s;
  for (const [name, size] of units) {
    const n = Math.floor(rest / size);
    rest -= n * size;
    // Zero units are left out: "1 h", not "1 h 0 min".
    if (n > 0 || (parts.length === 0 && size === 1)) parts.push(`${n} ${name}`);
    if (parts.length === 2) break;
  }
  return parts.join(' ');
}

/** Node-clock instants after 2001 are shown as dates; a manual clock started near 0 shows seconds. */
const DATE_FROM = 1_000_000_000;

/** An instant on the node clock (seconds): a UTC date, or `t = 3600 s` on a manual clock started near 0. */
export function formatInstant(t) {
  if (t === null || t === undefined) return '—';
  if (t >= DATE_FROM) return new Date(t * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  return `t = ${t.toLocaleString('en-US')} s`;
}

/** `in 59 min` / `3 s ago` / `now`, relative to the node's `now`. */
export function formatRelative(t, now) {
  if (t === null || t === undefined || now === null || now === undefined) return '';
  const d = t - now;
  if (d === 0) return 'now';
  return d > 0 ? `in ${formatDuration(d)}` : `${formatDuration(d)} ago`;
}

/** Shortens a long id in the middle: `12D3Koo…KPH5`. The full id stays in the element's title. */
export function shortId(id, keep = 8) {
  return id.length <= keep * 2 + 1 ? id : `${id.slice(0, keep)}…${id.slice(-keep)}`;
}

/**
 * Readable JSON as DOM: indented, with keys, strings, numbers and literals in their own spans for colour.
 * Built from text nodes, never innerHTML.
 */
export function jsonView(value) {
  const root = document.createDocumentFragment();
  const put = (cls, text) => root.append(cls ? h('span', { class: cls }, text) : text);
  const walk = (v, indent) => {
    const pad = '  '.repeat(indent + 1);
    const end = '  '.repeat(indent);
    if (Array.isArray(v)) {
      if (v.length === 0) return put('', '[]');
      put('', '[\n');
      v.forEach((item, i) => {
        put('', pad);
        walk(item, indent + 1);
        put('', i < v.length - 1 ? ',\n' : '\n');
      });
      put('', `${end}]`);
    } else if (v && typeof v === 'object') {
      const entries = Object.entries(v);
      if (entries.length === 0) return put('', '{}');
      put('', '{\n');
      entries.forEach(([k, item], i) => {
        put('', pad);
        put('j-key', JSON.stringify(k));
        put('', ': ');
        walk(item, indent + 1);
        put('', i < entries.length - 1 ? ',\n' : '\n');
      });
      put('', `${end}}`);
    } else if (typeof v === 'string') put('j-str', JSON.stringify(v));
    else if (typeof v === 'number') put('j-num', String(v));
    else put('j-lit', String(v));
  };
  walk(value, 0);
  return root;
}
