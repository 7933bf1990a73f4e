/**
 * The node's HTTP routes, beside the WebSockets on the same port: `GET /healthz` (ready: 200 once the
 * node has joined the network, 503 before), `GET /livez` (alive: always 200), `GET /metrics`
 * (Prometheus text), the browser SDK at `/sdk/signpost.js` (and its mining worker), and the visualiser's
 * page and files (inspect/visualiser.ts). Anything else is 404.
 *
 * The SDK is served to any origin (`access-control-allow-origin: *`): a web page anywhere imports it from
 * its node with no build step, `import { SignpostClient } from 'http://HOST:7070/sdk/signpost.js'`.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type http from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serveVisualiser } from '../inspect/visualiser.js';
import type { SignpostNode } from './compose.js';

/** The files of the browser SDK, built by scripts/build-sdk.mjs into dist/sdk/. */
const SDK_FILES = new Set(['signpost.js', 'mine-worker.js']);

/** dist/sdk/: two levels up from dist/runtime/node/http.js, or under dist/ from the TypeScript sources. */
function sdkFolder(): string | null {
  const here = dirname(fileURLToPath(import.meta.url));
  return [join(here, '..', '..', 'sdk'), join(here, '..', '..', 'dist', 'sdk')].find((d) => existsSync(join(d, 'signpost.js'))) ?? null;
}

function serveSdk(name: string, req: http.IncomingMessage, res: http.ServerResponse): void {
  const folder = sdkFolder();
  if (!folder) {
    res.writeHead(500, { 'content-type': 'text/plain' }).end('the browser SDK is not built (npm run build)\n');
    return;
  }
  readFile(join(folder, name)).then(
    (body) =>
      res
        .writeHead(200, { 'content-type': 'text/javascript; charset=utf-8', 'access-control-allow-origin': '*', 'cache-control': 'no-cache', 'content-length': body.length })
        .end(req.method === 'HEAD' ? undefined : body),
    (e) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`cannot read ${name}: ${e instanceof Error ? e.message : String(e)}\n`),
  );
}

export function nodeRoutes(opts: { node: SignpostNode; rpcUrl(): string }): http.RequestListener {
  const { node } = opts;
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && (path === '/healthz' || path === '/livez')) {
      // Ready once bootstrapped: a routing table with someone in it, or no bootstrap node to join.
      const peers = node.dht.table.size;
      const ready = !node.bootstrap.hasBootstrapNodes || peers > 0;
      const body = { ok: path === '/livez' || ready, live: true, ready, peer_id: node.identity.peerId, peers };
      res.writeHead(path === '/livez' || ready ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    } else if (req.method === 'GET' && path === '/metrics') {
      node.metrics.registry.render().then(
        (text) => res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(text),
        (e) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${e instanceof Error ? e.message : String(e)}\n`),
      );
    } else if ((req.method === 'GET' || req.method === 'HEAD') && path.startsWith('/sdk/') && SDK_FILES.has(path.slice(5))) {
      serveSdk(path.slice(5), req, res);
    } else if (!serveVisualiser(path, req, res, { peerId: node.identity.peerId, rpcUrl: opts.rpcUrl(), config: node.config })) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  };
}
