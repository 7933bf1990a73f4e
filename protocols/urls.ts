/**
 * A node's URLs, the one place they are normalised: a node is named by its base URL `ws://HOST:PORT`
 * (or `wss://`, with an optional path prefix behind a proxy); `/rpc`, `/p2p` and `/inspect` hang off it.
 * Users may write any of those, with or without a trailing slash, and `http(s)://` for `ws(s)://`.
 */

/**
 * The base URL of a node from any URL that names it: `ws://h:p/rpc/`, `http://h:p`, `ws://h:p/p2p` → `ws://h:p`;
 * null unless ws, wss, http or https, without credentials, query or fragment.
 */
export function baseUrlOf(text: string): string | null {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return null;
  }
  const scheme = { 'ws:': 'ws:', 'wss:': 'wss:', 'http:': 'ws:', 'https:': 'wss:' }[url.protocol];
  if (!scheme || url.hostname === '' || url.username || url.password || url.search || url.hash) return null;
  const path = url.pathname.replace(/\/+$/, '').replace(/\/(rpc|p2p|inspect)$/, '');
  return `${scheme}//${url.host}${path}`;
}

/** The JSON-RPC URL (`…/rpc`) of the node `text` names; `text` itself when it is not a node URL. */
export function rpcUrlOf(text: string): string {
  const base = baseUrlOf(text);
  return base === null ? text : `${base}/rpc`;
}

/** Hosts that mean "every interface" to a listener and "this machine" to a dialer: never an address to give out. */
export function isWildcardHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === '0.0.0.0' || h === '::' || h === '' || /^0+(:0+){0,7}$/.test(h) || h === '0:0:0:0:0:0:0:0';
}

/** The host of a base URL (`ws://h:p` → `h`, `ws://[::1]:p` → `::1`), or null. */
export function hostOf(url: string): string | null {
  try {
    return new URL(url).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return null;
  }
}

/**
 * The IP group of a node's address for the routing table's peer-diversity limit (as go-libp2p-kbucket's
 * filter groups peers): the /16 of an IPv4 host, the /32 of an IPv6 host. Null for a host name (its address
 * is not known) and, with `exemptPrivate`, for loopback, private, link-local and shared ranges.
 */
export function ipGroupOf(address: string, exemptPrivate: boolean): string | null {
  const host = hostOf(address);
  if (host === null) return null;
  const v4 = host.match(/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/);
  if (v4) {
    const [a, b] = [Number(v4[1]), Number(v4[2])];
    const local = a === 127 || a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 169 && b === 254) || (a === 100 && b >= 64 && b <= 127);
    return exemptPrivate && local ? null : `${a}.${b}`;
  }
  if (!host.includes(':')) return null;
  const groups = expandIpv6(host);
  if (!groups) return null;
  const first = parseInt(groups[0], 16);
  const local = groups.every((g, i) => (i < 7 ? parseInt(g, 16) === 0 : parseInt(g, 16) === 1)) || (first & 0xfe00) === 0xfc00 || (first & 0xffc0) === 0xfe80;
  return exemptPrivate && local ? null : `${groups[0]}:${groups[1]}`;
}

/** The eight groups of an IPv6 address, zero-filled, or null. */
function expandIpv6(host: string): string[] | null {
  const [head, tail, more] = host.toLowerCase().split('::');
  if (more !== undefined) return null;
  const a = head ? head.split(':') : [];
  const b = tail === undefined ? [] : tail ? tail.split(':') : [];
  const missing = 8 - a.length - b.length;
  if ((tail === undefined && missing !== 0) || missing < 0) return null;
  const all = [...a, ...Array(missing).fill('0'), ...b];
  return all.every((g) => /^[0-9a-f]{1,4}$/.test(g)) ? all.map((g) => g.padStart(4, '0')) : null;
}
