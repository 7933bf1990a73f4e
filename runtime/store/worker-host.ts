/**
 * Worker threads behind one small module, so Node, Bun and Deno run the same shard code (DESIGN "Known
 * traps"). `node:worker_threads` is implemented by all three; its ports are adapted to comlink's
 * `Endpoint` here rather than through comlink's own Node adapter, whose file has no ESM type declarations.
 */
import { Worker, parentPort } from 'node:worker_threads';
import type { Endpoint } from 'comlink';

interface NodePort {
  postMessage(message: unknown, transfer?: readonly Transferable[]): void;
  on(event: 'message', listener: (data: unknown) => void): unknown;
  off(event: 'message', listener: (data: unknown) => void): unknown;
}

/** comlink's Endpoint over a `node:worker_threads` port (EventEmitter style). */
export function endpointOf(port: NodePort): Endpoint {
  const listeners = new WeakMap<object, (data: unknown) => void>();
  return {
    postMessage: (message: unknown, transfer?: Transferable[]) => port.postMessage(message, transfer),
    addEventListener: (_type: string, handler: EventListenerOrEventListenerObject) => {
      const l = (data: unknown) => {
        const event = { data } as MessageEvent;
        if ('handleEvent' in handler) handler.handleEvent(event);
        else handler(event);
      };
      port.on('message', l);
      listeners.set(handler, l);
    },
    removeEventListener: (_type: string, handler: EventListenerOrEventListenerObject) => {
      const l = listeners.get(handler);
      if (l) port.off('message', l);
      listeners.delete(handler);
    },
  };
}

export interface WorkerHandle {
  /** The control channel (comlink). */
  endpoint: Endpoint;
  /** Called once when the worker thread ends, whatever the reason (`error` is set when it threw). */
  onExit(listener: (code: number, error?: Error) => void): void;
  terminate(): Promise<void>;
}

/** Starts the worker module at `url` (a built .js file: Node 20 cannot load .ts workers). */
export function startWorker(url: URL, name: string): WorkerHandle {
  const worker = new Worker(url, { name });
  let error: Error | undefined;
  worker.on('error', (e) => (error = e));
  return {
    endpoint: endpointOf(worker),
    onExit(listener) {
      worker.once('exit', (code) => listener(code, error));
    },
    async terminate() {
      await worker.terminate();
    },
  };
}

/** Inside a worker: the control channel to the thread that started it. */
export function parentEndpoint(): Endpoint {
  if (!parentPort) throw new Error('not running in a worker thread');
  return endpointOf(parentPort);
}
