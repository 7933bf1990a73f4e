/**
 * WebSockets on the node's one HTTP server: the `ws` server every runtime uses, and the routing of
 * upgrades by path (`/rpc`, `/p2p`, `/inspect` share one port).
 */
import type http from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Duplex } from 'node:stream';
import * as wsPackage from 'ws';

/**
 * The `ws` package's server on every runtime. Bun answers `import 'ws'` with a built-in imitation whose
 * frames are parsed natively: it closes an oversized frame itself, with 1009 and no reason, without going
 * through `ws.close`, so the limit named below is never said. Loading the package's own entry file by path
 * gets Bun the real one, and the three runtimes share one WebSocket implementation and its limits.
 */
export const { WebSocketServer } = process.versions.bun ? realWsPackage() : wsPackage;

function realWsPackage(): typeof wsPackage {
  const require = createRequire(import.meta.url);
  return require(join(dirname(require.resolve('ws/package.json')), 'index.js'));
}




export type UpgradeHandler = (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void;

const upgradeRouters = new WeakMap<http.Server, { routes: Map<string, UpgradeHandler>; unhook(): void }>();

/**
 * Sends WebSocket upgrades of `server` whose pathname is exactly `path` to `handler`; returns the function
 * that removes the route. An upgrade no route claims is refused with 404, unless another module listens to
 * 'upgrade' on the server directly (then it is that module's to answer).
 *
 * @example
 * const release = routeUpgrade(server, '/p2p', (req, socket, head) => p2pWss.handleUpgrade(req, socket, head, onPeer));
 */
export function routeUpgrade(server: http.Server, path: string, handler: UpgradeHandler): () => void {
  let router = upgradeRouters.get(server);
  if (!router) {
    const routes = new Map<string, UpgradeHandler>();
    const listener = (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      const route = routes.get(pathnameOf(req.url));
      if (route) return route(req, socket, head);
      if (server.listenerCount('upgrade') > 1) return;
      socket.once('finish', () => socket.destroy());
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    };
    server.on('upgrade', listener);
    router = { routes, unhook: () => server.off('upgrade', listener) };
    upgradeRouters.set(server, router);
  }
  const { routes, unhook } = router;
  if (routes.has(path)) throw new Error(`an upgrade handler for ${path} is already attached`);
  routes.set(path, handler);
  return () => {
    if (routes.get(path) !== handler) return;
    routes.delete(path);
    if (routes.size === 0) {
      unhook();
      upgradeRouters.delete(server);
    }
  };
}

function pathnameOf(url: string | undefined): string {
  try {
    return new URL(url ?? '/', 'http://localhost').pathname;
  } catch {
    return '/';
  }
}
