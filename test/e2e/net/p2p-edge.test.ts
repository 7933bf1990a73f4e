/**
 * The edges of the node-to-node endpoint of a real node process (SPEC §5, §8; protocols/wire.ts;
 * runtime/net/ws-transport.ts), driven by a hand-made peer over a raw WebSocket: the signed handshake and its
 * failures (4001 bad handshake, 4002 no common version, 4003 banned), requests after it, the frame limit
 * (1009), schema failures that fail only their request, the misbehaviour budget (1008 and a ban), and the
 * routing table the handshake feeds (`node.peers`).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateIdentity as newIdentity, p2pAuthDigest, type Identity } from '../../../protocols/identity.js';
import { systemRandom } from '../../../protocols/random.js';
import { ed25519 } from '../../helpers/objects.js';

const generateIdentity = (): Identity => newIdentity(systemRandom, ed25519);
import { distanceBucket, nodeLocation } from '../../../protocols/kademlia.js';
import { encodeFrame, parseFindNodeResult, type Frame } from '../../../protocols/wire.js';
import type { RpcClient } from '../../../runtime/client/rpc-client.js';
import { startNodeProcess, type NodeProcess } from '../../helpers/node-process.js';
import { listenP2p, P2pPeer } from '../../helpers/p2p-client.js';

const FRAME_LIMIT = 4096;
/** Points a peer may cost before it is disconnected (runtime/net/ws-transport.ts default). */
const BUDGET = 16;

let node: NodeProcess;
let rpc: RpcClient;
let base: string;
const peers: P2pPeer[] = [];

async function dial(identity: Identity = generateIdentity()): Promise<P2pPeer> {
  const p = await P2pPeer.dial(`${base}/p2p`, identity);
  peers.push(p);
  return p;
}

async function connected(identity: Identity = generateIdentity(), address: string | null = null): Promise<P2pPeer> {
  const p = await dial(identity);
  await p.handshake({ address });
  return p;
}

/** The close code, failing the test if the node keeps the socket open for `ms`. */
async function closeCode(p: P2pPeer, ms = 3000): Promise<number> {
  const c = await Promise.race([p.closed, sleep(ms).then(() => null)]);
  if (!c) throw new Error(`the node did not close the connection within ${ms} ms`);
  return c.code;
}

/** A request frame whose params fail the schema (ping takes no params). */
const badRequest = (id: number) => ({ t: 'req', id, method: 'ping', params: { unexpected: id } });

beforeAll(async () => {
  node = await startNodeProcess({ env: { max_frame_bytes: FRAME_LIMIT } });
  rpc = await node.client();
  base = node.rpcUrl.replace(/\/rpc$/, '');
});

afterAll(async () => {
  for (const p of peers) p.ws.terminate();
  expect(await node.stop()).toBe(0);
});

describe('handshake', () => {
  it('a correct handshake (each side signs the other\'s nonce), then ping and find_node work', async () => {
    const p = await dial();
    const theirs = await p.handshake();
    expect(theirs.peer_id).toBe(node.peerId);
    expect(theirs.versions).toContain(1);
    expect(theirs.address).toBe(base);
    expect(theirs.nonce.length).toBe(32);

    expect(await p.request('ping', {})).toEqual({ t: 'res', id: 1, result: {} });
    const found = await p.request('find_node', { target: new Uint8Array(32).fill(0x42) });
    expect(found.t).toBe('res');
    if (found.t === 'res') {
      const parsed = parseFindNodeResult(found.result);
      expect(parsed.dropped).toBe(0);
      // This peer gave no address, so it is not in the table; the node never lists itself.
      for (const x of parsed.peers) expect([p.identity.peerId, node.peerId]).not.toContain(x.peer_id);
    }
    // Other methods answer with SPEC §7 codes in `err` frames.
    const missing = await p.request('get', { key_id: '11111111111111111111111111111111' });
    expect(missing).toMatchObject({ t: 'err', code: 'key_not_found' });
    expect(p.problems).toEqual([]);
  });

  it('every connection gets a fresh nonce from the node', async () => {
    const [a, b] = await Promise.all([dial(), dial()]);
    const [ha, hb] = await Promise.all([a.receiveHello(), b.receiveHello()]);
    expect(Buffer.from(ha.nonce).equals(Buffer.from(hb.nonce))).toBe(false);
  });

  it('a wrong handshake signature closes with 4001', async () => {
    // Signed by another key than the one of the claimed peer id.
    const a = await dial();
    const ha = await a.receiveHello();
    a.hello();
    a.send(a.authFor(ha, generateIdentity()));
    expect(await closeCode(a)).toBe(4001);

    // The right key over the wrong digest (our own nonce instead of theirs).
    const b = await dial();
    const hb = await b.receiveHello();
    b.hello();
    b.send(b.authFor({ ...hb, nonce: b.nonce }));
    expect(await closeCode(b)).toBe(4001);

    // The right key over a digest with verifier and signer swapped.
    const c = await dial();
    const hc = await c.receiveHello();
    c.hello();
    c.send({ t: 'auth', version: 1, signature: c.identity.sign(p2pAuthDigest(hc.nonce, c.identity.peerId, hc.peer_id)) });
    expect(await closeCode(c)).toBe(4001);

    // A valid signature by someone who claims another peer id in its hello.
    const d = await dial();
    const hd = await d.receiveHello();
    const victim = generateIdentity();
    d.hello({ peerId: victim.peerId });
    d.send(d.authFor(hd));
    expect(await closeCode(d)).toBe(4001);
  });

  it('an auth that states another version than the agreed one closes with 4001', async () => {
    const p = await dial();
    const h = await p.receiveHello();
    p.hello();
    p.send(p.authFor(h, p.identity, 2));
    expect(await closeCode(p)).toBe(4001);
  });

  it('no common version closes with 4002', async () => {
    const p = await dial();
    await p.receiveHello();
    p.hello({ versions: [2, 3] });
    expect(await closeCode(p)).toBe(4002);
  });

  it('a hello that claims the node\'s own peer id closes with 4001', async () => {
    const p = await dial();
    await p.receiveHello();
    p.hello({ peerId: node.peerId });
    expect(await closeCode(p)).toBe(4001);
  });

  it('anything but hello / auth before the handshake completes closes with 4001, and is not served', async () => {
    const cases: Array<(p: P2pPeer) => void> = [
      (p) => p.send({ t: 'req', id: 1, method: 'ping', params: {} }),
      (p) => p.sendRaw('{"t":"hello"}'),
      (p) => p.sendRaw(new Uint8Array([0xc1, 0x00])),
      (p) => p.send({ t: 'auth', version: 1, signature: new Uint8Array(64) }), // auth before hello
      // A hello whose peer id is not a valid Ed25519 peer id (SPEC §1: its key is the identity point).
      (p) => p.send({ t: 'hello', versions: [1], peer_id: '12D3KooW9tGaPdJo5jmCpadQ971nfiq4kLcQjeBPYTfutBTtckPH', nonce: p.nonce, address: null }),
    ];
    for (const send of cases) {
      const p = await dial();
      await p.receiveHello();
      send(p);
      expect(await closeCode(p)).toBe(4001);
      await expect(p.next(50)).rejects.toThrow();
    }
    // After our hello, a request before our auth.
    const q = await dial();
    await q.receiveHello();
    q.hello();
    await q.next(); // the node's auth
    q.send({ t: 'req', id: 1, method: 'ping', params: {} });
    expect(await closeCode(q)).toBe(4001);
  });
});

describe('after the handshake', () => {
  it('a request with bad params gets an err frame with invalid_params, and the connection stays open', async () => {
    const p = await connected();
    const cases: Array<[string, unknown]> = [
      ['ping', { unexpected: 1 }],
      ['find_node', { target: new Uint8Array(31) }],
      ['find_node', {}],
      ['get', { key_id: 'not a resource id' }],
      ['store_key', { key: { id: 'x' } }],
      ['republish', { key: null, records: [], tombstones: [] }],
    ];
    for (const [method, params] of cases) {
      const answer = await p.request(method, params);
      expect(answer, method).toMatchObject({ t: 'err', code: 'invalid_params' });
      if (answer.t === 'err') expect(answer.message.length).toBeGreaterThan(5);
    }
    expect(await p.request('ping', {})).toMatchObject({ t: 'res', result: {} });
    expect(p.ws.readyState).toBe(p.ws.OPEN);
  });

  it('an unknown method gets method_not_found', async () => {
    const p = await connected();
    expect(await p.request('register_key', {})).toMatchObject({ t: 'err', code: 'method_not_found' });
    expect(await p.request('ping', {})).toMatchObject({ t: 'res' });
  });

  it('answers requests by their id, also out of order ids and the largest u32', async () => {
    const p = await connected();
    p.send({ t: 'req', id: 0xffffffff, method: 'ping', params: {} });
    p.send({ t: 'req', id: 0, method: 'ping', params: {} });
    const answers = [await p.next(), await p.next()];
    expect(answers.map((a) => (a.t === 'res' ? a.id : -1)).sort((x, y) => x - y)).toEqual([0, 0xffffffff]);
  });

  it('a frame up to max_frame_bytes is read; a larger one closes the connection with 1009', async () => {
    const p = await connected();
    const frame = (size: number): Uint8Array => {
      // A ping with a padding param (bad params) of the size that makes the whole frame `size` bytes.
      let pad = size - 60;
      for (;;) {
        const f = encodeFrame({ t: 'req', id: 7, method: 'ping', params: { pad: 'x'.repeat(pad) } });
        if (f.length === size) return f;
        pad += size - f.length;
      }
    };
    p.sendRaw(frame(FRAME_LIMIT));
    expect(await p.next()).toMatchObject({ t: 'err', id: 7, code: 'invalid_params' });
    p.sendRaw(frame(FRAME_LIMIT + 1));
    expect(await closeCode(p)).toBe(1009);
  });

  it('an oversized frame counts against the peer', async () => {
    const identity = generateIdentity();
    const p = await connected(identity);
    p.sendRaw(new Uint8Array(FRAME_LIMIT + 100));
    expect(await closeCode(p)).toBe(1009);
    // The node counts the cost when its side of the socket has closed; nothing outside shows that moment,
    // so give it time (a loaded machine needed more than 50 ms).
    await sleep(500);
    // Without that cost, BUDGET bad frames would still be within the budget.
    const q = await connected(identity);
    for (let i = 1; i <= BUDGET; i++) q.send(badRequest(i));
    expect(await closeCode(q)).toBe(1008);
  });

  it(`more than ${BUDGET} points of bad frames close the connection with 1008 and ban the peer id (4003)`, async () => {
    const identity = generateIdentity();
    const p = await connected(identity);
    for (let i = 1; i <= BUDGET; i++) {
      const answer = await p.request('ping', { unexpected: i });
      expect(answer).toMatchObject({ t: 'err', code: 'invalid_params' });
    }
    // Exactly at the budget: still served.
    expect(await p.request('ping', {})).toMatchObject({ t: 'res' });
    p.send(badRequest(999));
    expect(await closeCode(p)).toBe(1008);

    // The same peer id is refused at its next handshake, however correct.
    const again = await dial(identity);
    await again.receiveHello();
    again.hello();
    expect(await closeCode(again)).toBe(4003);

    // Another peer id is not affected.
    const other = await connected();
    expect(await other.request('ping', {})).toMatchObject({ t: 'res' });
  });

  it('a text frame counts as misbehaviour (and is not answered)', async () => {
    const p = await connected();
    p.sendRaw(JSON.stringify({ t: 'req', id: 1, method: 'ping', params: {} }), false);
    await expect(p.next(200)).rejects.toThrow(/no frame/);
    for (let i = 2; i <= BUDGET; i++) p.sendRaw('hello', false);
    expect(await p.request('ping', {})).toMatchObject({ t: 'res' }); // BUDGET points: still open
    p.sendRaw('one more', false);
    expect(await closeCode(p)).toBe(1008);
  });

  it('frames that do not decode count as misbehaviour (and are not answered)', async () => {
    const p = await connected();
    const garbage: Uint8Array[] = [
      new Uint8Array([0xc1]),
      new Uint8Array([]),
      encodeFrame({ t: 'res', id: -1, result: {} } as unknown as Frame),
      encodeFrame({ t: 'nope' } as unknown as Frame),
      encodeFrame([1, 2, 3] as unknown as Frame),
      encodeFrame({ t: 'req', id: 1, method: 'ping' } as unknown as Frame),
      encodeFrame({ t: 'hello', versions: [1], peer_id: p.identity.peerId, nonce: new Uint8Array(32), address: null }),
    ];
    for (let i = 0; i < BUDGET; i++) p.sendRaw(garbage[i % garbage.length]);
    expect(await p.request('ping', {})).toMatchObject({ t: 'res' });
    p.sendRaw(garbage[0]);
    expect(await closeCode(p)).toBe(1008);
    expect(p.problems).toEqual([]);
  });

  it('answers to requests the node never sent are ignored, at no cost', async () => {
    const p = await connected();
    for (let i = 0; i < BUDGET + 5; i++) p.send({ t: 'res', id: 1000 + i, result: {} });
    expect(await p.request('ping', {})).toMatchObject({ t: 'res' });
    expect(p.ws.readyState).toBe(p.ws.OPEN);
  });
});

describe('routing table', () => {
  async function peersOfNode(): Promise<Array<{ peer_id: string; address: string; distance_bucket: number; last_seen: number }>> {
    return rpc.call('node.peers');
  }

  it('an authenticated peer with a reachable address is listed in node.peers', async () => {
    const identity = generateIdentity();
    const listener = await listenP2p(identity);
    try {
      await connected(identity, listener.address);
      let row: Awaited<ReturnType<typeof peersOfNode>>[number] | undefined;
      for (let i = 0; i < 50 && !row; i++) {
        row = (await peersOfNode()).find((x) => x.peer_id === identity.peerId);
        if (!row) await sleep(20);
      }
      expect(row).toBeDefined();
      expect(row!.address).toBe(listener.address);
      expect(row!.distance_bucket).toBe(distanceBucket(nodeLocation(node.peerId)!, nodeLocation(identity.peerId)!));
      expect(Number.isInteger(row!.last_seen)).toBe(true);
      expect((await peersOfNode()).map((x) => x.peer_id)).not.toContain(node.peerId);
    } finally {
      await listener.close();
    }
  });

  it('a banned peer leaves the routing table, so it is not handed out to others', async () => {
    const identity = generateIdentity();
    const listener = await listenP2p(identity);
    try {
      const p = await connected(identity, listener.address);
      await expect.poll(async () => (await peersOfNode()).map((x) => x.peer_id), { timeout: 2000 }).toContain(identity.peerId);
      for (let i = 0; i <= BUDGET; i++) p.send(badRequest(1000 + i));
      expect(await closeCode(p)).toBe(1008);
      expect((await peersOfNode()).map((x) => x.peer_id)).not.toContain(identity.peerId);
    } finally {
      await listener.close();
    }
  });

  it('a peer that gives no address is served but not added', async () => {
    const p = await connected(generateIdentity(), null);
    expect(await p.request('ping', {})).toMatchObject({ t: 'res' });
    await sleep(100);
    expect((await peersOfNode()).map((x) => x.peer_id)).not.toContain(p.identity.peerId);
  });

  it('a peer that fails the handshake is not added', async () => {
    const identity = generateIdentity();
    const listener = await listenP2p(identity);
    try {
      const p = await dial(identity);
      const h = await p.receiveHello();
      p.hello({ address: listener.address });
      p.send(p.authFor(h, generateIdentity()));
      expect(await closeCode(p)).toBe(4001);
      await sleep(100);
      expect((await peersOfNode()).map((x) => x.peer_id)).not.toContain(identity.peerId);
    } finally {
      await listener.close();
    }
  });

  it('find_node answers list the peers the node learnt, closest to the target first', async () => {
    const identities = [generateIdentity(), generateIdentity(), generateIdentity()];
    const listeners = await Promise.all(identities.map((i) => listenP2p(i)));
    try {
      for (const [i, id] of identities.entries()) await connected(id, listeners[i].address);
      const asker = await connected();
      const target = nodeLocation(identities[1].peerId)!;
      let found: { peer_id: string; address: string }[] = [];
      for (let i = 0; i < 50; i++) {
        const answer = await asker.request('find_node', { target });
        found = answer.t === 'res' ? parseFindNodeResult(answer.result).peers : [];
        if (identities.every((id) => found.some((x) => x.peer_id === id.peerId))) break;
        await sleep(20);
      }
      expect(found[0]).toEqual({ peer_id: identities[1].peerId, address: listeners[1].address });
      const byDistance = [...found].sort((a, b) => Buffer.compare(xor(nodeLocation(a.peer_id)!, target), xor(nodeLocation(b.peer_id)!, target)));
      expect(found).toEqual(byDistance);
      for (const [i, id] of identities.entries()) expect(found).toContainEqual({ peer_id: id.peerId, address: listeners[i].address });
    } finally {
      await Promise.all(listeners.map((l) => l.close()));
    }
  });
});

function xor(a: Uint8Array, b: Uint8Array): Buffer {
  return Buffer.from(a.map((x, i) => x ^ b[i]));
}
