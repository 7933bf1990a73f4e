/**
 * The DHT's routing-table upkeep: a peer that fails to answer leaves the table, unless it was heard from
 * after the failed request was sent (a late timeout must not undo the evidence that it is alive).
 */
import { describe, expect, it } from 'vitest';
import { identityFromSeed } from '../../../protocols/identity.js';
import { seededRandom } from '../../../protocols/random.js';
import type { Timers } from '../../../runtime/base/clock.js';
import { logger } from '../../../runtime/base/log.js';
import { Dht } from '../../../runtime/net/dht.js';
import type { Transport } from '../../../runtime/net/transport.js';
import { ed25519 } from '../../helpers/objects.js';

function setup() {
  let now = 1000;
  const timers: Timers = { now: () => now, setTimeout: () => null, clearTimeout: () => undefined };
  const self = identityFromSeed(new Uint8Array(32).fill(1), ed25519);
  const dht = new Dht({
    self,
    transport: {} as Transport,
    timers,
    random: seededRandom(1),
    k: 20,
    alpha: 3,
    requestTimeoutMs: 1000,
    now: () => Math.floor(now / 1000),
    onInspect: () => undefined,
    log: logger('error', () => undefined),
  });
  const peer = identityFromSeed(new Uint8Array(32).fill(2), ed25519).peerId;
  const known = () => dht.peers().map((p) => p.peer_id);
  return { dht, peer, known, tick: (ms: number) => (now += ms), at: () => now };
}

describe('Dht.failed', () => {
  it('removes a peer not heard from since the failed request was sent', () => {
    const { dht, peer, known, tick, at } = setup();
    dht.seen({ peerId: peer, address: 'ws://10.0.0.2:7070' });
    tick(10);
    const askedAt = at();
    tick(2000);
    dht.failed(peer, askedAt);
    expect(known()).not.toContain(peer);
  });

  it('keeps a peer heard from after the request was sent: its late timeout does not undo that', () => {
    const { dht, peer, known, tick, at } = setup();
    dht.seen({ peerId: peer, address: 'ws://10.0.0.2:7070' });
    const askedAt = at();
    tick(1500);
    dht.seen({ peerId: peer, address: 'ws://10.0.0.2:7070' });
    tick(500);
    dht.failed(peer, askedAt);
    expect(known()).toContain(peer);
    // Without a send time, a failure always removes it.
    dht.failed(peer);
    expect(known()).not.toContain(peer);
  });
});
