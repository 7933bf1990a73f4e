// Builds the browser SDK the node serves at /sdk/ (runtime/node/http.ts): dist/sdk/signpost.js, the
// `signpost/client` entry as one ES module, and dist/sdk/mine-worker.js, its mining Web Worker. Run by
// `npm run build` after tsc, from tsc's output. The platform is the browser: any import of a Node module
// fails the build, except the two the SDK loads lazily on Node only (`ws` on Node 20, which has no
// WebSocket; `node:worker_threads` for mining, where there is no Web Worker).
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const common = {
  absWorkingDir: root,
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  external: ['ws', 'node:worker_threads'],
  legalComments: 'none',
  logLevel: 'warning',
};
await build({ ...common, entryPoints: { signpost: 'dist/runtime/client/index.js', 'mine-worker': 'dist/runtime/client/mine-worker.js' }, outdir: 'dist/sdk' });
