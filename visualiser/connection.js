// The page's two WebSockets to the node that served it: JSON-RPC at /rpc (SPEC §9) and the inspection
// stream at /inspect (runtime/inspect/inspector.ts). Both reconnect by themselves, so restarting the node does not
// need a reload.

const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 5000;

/** ws(s)://<this page's host>/<path>: the page is always served by the node it shows. */
export function nodeSocketUrl(path) {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}${path}`;
}

/** A call the node answered with an error; `code` is the SPEC §7 string code. */
export class RpcError extends Error {
  constructor(error) {
    super(error.message);
    this.name = 'RpcError';
    this.code = error.data?.code ?? 'internal_error';
    this.data = error.data ?? {};
  }
}

/** JSON-RPC 2.0 over one WebSocket, opened on first use and again after it closes. */
export class Rpc {
  #url;
  #socket = null;
  #opening = null;
  #nextId = 1;
  #pending = new Map();

  constructor(url) {
    this.#url = url;
  }

  /** Calls `method` with named params; rejects with RpcError on an error answer, Error when the socket fails. */
  async call(method, params) {
    const socket = await this.#open();
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      socket.send(JSON.stringify(params === undefined ? { jsonrpc: '2.0', id, method } : { jsonrpc: '2.0', id, method, params }));
    });
  }

  #open() {
    if (this.#socket?.readyState === WebSocket.OPEN) return Promise.resolve(this.#socket);
    this.#opening ??= new Promise((resolve, reject) => {
      const socket = new WebSocket(this.#url);
      socket.onopen = () => {
        this.#socket = socket;
        this.#opening = null;
        resolve(socket);
      };
      socket.onmessage = (m) => this.#receive(m.data);
      socket.onclose = () => {
        this.#opening = null;
        if (this.#socket === socket) this.#socket = null;
        for (const p of this.#pending.values()) p.reject(new Error('connection to the node closed'));
        this.#pending.clear();
        reject(new Error(`cannot connect to ${this.#url}`));
      };
    });
    return this.#opening;
  }

  #receive(text) {
    let answers;
    try {
      answers = JSON.parse(text);
    } catch {
      return;
    }
    for (const a of Array.isArray(answers) ? answers : [answers]) {
      const p = this.#pending.get(a.id);
      if (!p) continue;
      this.#pending.delete(a.id);
      if (a.error) p.reject(new RpcError(a.error));
      else p.resolve(a.result);
    }
  }
}

/**
 * Follows `/inspect`: calls `onMessage` with every parsed message (`snapshot`, `events`, `dropped`) and
 * `onStatus` with 'connecting' | 'open' | 'closed'; reconnects with backoff, and the node's fresh snapshot
 * then replaces what the page knew.
 */
export function followInspect(url, { onMessage, onStatus }) {
  let delay = RECONNECT_MIN_MS;
  const connect = () => {
    onStatus('connecting');
    const socket = new WebSocket(url);
    socket.onopen = () => {
      delay = RECONNECT_MIN_MS;
      onStatus('open');
    };
    socket.onmessage = (m) => onMessage(JSON.parse(m.data));
    socket.onclose = () => {
      onStatus('closed');
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, RECONNECT_MAX_MS);
    };
  };
  connect();
}
