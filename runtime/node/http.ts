/**
 * The node's HTTP routes, beside the WebSockets on the same port: `GET /healthz`, `GET /metrics`
 * (Prometheus text), and the visualiser's page and files (inspect/visualiser.ts). Anything else is 404.
 */
import type http from 'node:http';
import { serveVisualiser } from '../inspect/visualiser.js';
import type { SignpostNode } from './compose.js';

export function nodeRoutes(opts: { node: SignpostNode; rpcUrl(): string }): http.RequestListener {
  const { node } = opts;
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, peer_id: node.identity.peerId }));
    } else if (req.method === 'GET' && path === '/metrics') {
      node.metrics.registry.render().then(
        (text) => res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(text),
        (e) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics failed: ${e instanceof Error ? e.message : String(e)}\n`),
      );
    } else if (!serveVisualiser(path, req, res, { peerId: node.identity.peerId, rpcUrl: opts.rpcUrl(), config: node.config })) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  };
}
