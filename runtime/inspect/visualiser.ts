/**
 * The actor visualiser's files, served by the node itself at `/` (DESIGN: inspector). Users' closed
 * networks cannot reach Stately's online inspector or any CDN, so everything the page needs comes from this
 * node: the static files of `visualiser/` (plain HTML, CSS and ES modules, no build step) and elkjs's
 * bundled layout engine from the installed package.
 *
 * Only names on a fixed list are served: `/` is the page (with the node's peer id and RPC URL filled in),
 * `/<name>.js|.css|.svg` a file directly in
 * `visualiser/` (the name is checked against the folder's listing, so no path ever reaches the file system
 * from a URL), `/vendor/elk.bundled.js` elkjs, and `/node-config.json` the few config values the page needs:
 * the clock kind (manual: show the clock controls, debug.* exists) and the stale and expiry timeouts (to show
 * when each resource goes stale and each entry expires). Anything else is not ours.
 */
import { existsSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type http from 'node:http';

const CONTENT_TYPES: { [ext: string]: string } = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
};

/**
 * The page may load nothing from elsewhere: scripts, styles and WebSockets come from this node only. A
 * violation shows as a console error, which the browser test fails on.
 */
const CONTENT_SECURITY_POLICY = "default-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** What the page is told of the node that serves it. */
export interface VisualiserNode {
  peerId: string;
  rpcUrl: string;
  /** The config keys the page needs: the clock (SPEC §10) and the time rules (SPEC §4.1). */
  config: { clock: 'system' | 'manual'; stale_timeout: number; expired_timeout: number };
}

/**
 * `visualiser/` next to `runtime/`: dist/runtime/inspect/visualiser.js runs three levels below the package
 * root, the TypeScript source (under vitest) two levels below it.
 */
function findFolder(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, '..', '..', '..', 'visualiser'), join(here, '..', '..', 'visualiser')];
  const found = candidates.find((dir) => existsSync(join(dir, 'index.html')));
  if (!found) throw new Error(`visualiser files not found (looked in ${candidates.join(', ')})`);
  return found;
}

/** URL path → file, built once from the folder's listing. */
let routes: Map<string, string> | null = null;

function routeTable(): Map<string, string> {
  if (routes) return routes;
  const folder = findFolder();
  const table = new Map<string, string>([['/', join(folder, 'index.html')]]);
  for (const name of readdirSync(folder)) {
    // Plain names only: one dot, no slashes, so a URL can never name a file outside the folder.
    if (/^[a-z0-9-]+\.(js|css|svg)$/.test(name)) table.set(`/${name}`, join(folder, name));
  }
  // Resolved like an import, so it is found whether npm hoisted elkjs or nested it under this package.
  table.set('/vendor/elk.bundled.js', createRequire(import.meta.url).resolve('elkjs/lib/elk.bundled.js'));
  routes = table;
  return table;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The page names its node before any script runs (and for clients that run none): peer id and RPC URL. */
function fillPage(html: string, node: VisualiserNode): string {
  return html.replaceAll('{{peer_id}}', escapeHtml(node.peerId)).replaceAll('{{rpc_url}}', escapeHtml(node.rpcUrl));
}

/**
 * Answers `path` if it is one of the visualiser's; returns false (and writes nothing) otherwise, so the
 * node's other routes and its 404 stay where they are.
 */
export function serveVisualiser(path: string, req: http.IncomingMessage, res: http.ServerResponse, node: VisualiserNode): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  const headers = {
    // Files are read on every request, so a node upgraded in place never serves a stale page.
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
    'content-security-policy': CONTENT_SECURITY_POLICY,
  };
  if (path === '/node-config.json') {
    const { clock, stale_timeout, expired_timeout } = node.config;
    const body = JSON.stringify({ clock, stale_timeout, expired_timeout });
    res.writeHead(200, { ...headers, 'content-type': 'application/json' }).end(req.method === 'HEAD' ? undefined : body);
    return true;
  }
  let table: Map<string, string>;
  try {
    table = routeTable();
  } catch (e) {
    // A broken install (no visualiser/ folder, no elkjs) costs the page, never the node.
    if (path !== '/') return false;
    res.writeHead(500, { 'content-type': 'text/plain' }).end(`visualiser unavailable: ${e instanceof Error ? e.message : String(e)}\n`);
    return true;
  }
  const file = table.get(path);
  if (!file) return false;
  const type = CONTENT_TYPES[file.slice(file.lastIndexOf('.') + 1)];
  readFile(file).then(
    (raw) => {
      const body = path === '/' ? fillPage(raw.toString('utf8'), node) : raw;
      res.writeHead(200, { ...headers, 'content-type': type, 'content-length': Buffer.byteLength(body) }).end(req.method === 'HEAD' ? undefined : body);
    },
    (e) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`cannot read ${path}: ${e instanceof Error ? e.message : String(e)}\n`),
  );
  return true;
}
