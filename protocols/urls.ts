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
