/**
 * Dial-back (runtime/net/dial-back.ts): an announced address is passed on only once dialling it reaches
 * the peer that announced it; the checks are bounded and rate-limited, and their outcomes remembered.
 */
import { describe, expect, it } from 'vitest';
import { DialBack } from '../../../runtime/net/dial-back.js';
import type { Timers } from '../../../runtime/base/clock.js';

/** Timers that move only when told to. */
function manualTimers() {
  let now = 0;
  const due: { at: number; fn: () => void }[] = [];
  const timers: Timers = {
    now: () => now,
    setTimeout: (fn, ms) => {
      const t = { at: now + ms, fn };
      due.push(t);
      return t;
    },
    clearTimeout: (t) => {
      const i = due.indexOf(t as never);
      if (i >= 0) due.splice(i, 1);
    },
  };
  const advance = async (ms: number) => {
    now += ms;
    for (const t of due.filter((x) => x.at <= now)) {
      due.splice(due.indexOf(t), 1);
      t.fn();
    }
    await new Promise((r) => setTimeout(r, 0));
  };
  return { timers, advance };
}

describe('dial-back', () => {
  it('verifies an address where the same peer answers, and refuses one where another does or nobody', async () => {
    const { timers } = manualTimers();
    const at: { [address: string]: string } = { 'ws://a:1': 'A', 'ws://b:1': 'B' };
    const d = new DialBack({ timers, dial: async (address) => at[address] ?? Promise.reject(new Error('refused')) });
    expect(await d.check('A', 'ws://a:1')).toBe(true);
    expect(await d.check('A', 'ws://b:1')).toBe(false);
    expect(await d.check('A', 'ws://nowhere:1')).toBe(false);
  });

  it('remembers outcomes: a verified address is not dialled again, a failed one for ten minutes', async () => {
    const { timers, advance } = manualTimers();
    let dials = 0;
    const d = new DialBack({ timers, dial: async () => (dials++, 'X') });
    await d.check('A', 'ws://a:1');
    await d.check('A', 'ws://a:1');
    d.verified('B', 'ws://b:1');
    expect(await d.check('B', 'ws://b:1')).toBe(true);
    expect(dials).toBe(1);
    expect(d.known('A', 'ws://a:1')).toBe(false);
    await advance(5_001);
    expect(d.known('A', 'ws://a:1')).toBeUndefined();
  });

  it('runs at most `concurrency` checks at once and `perMinute` a minute; the rest wait', async () => {
    const { timers, advance } = manualTimers();
    const open: (() => void)[] = [];
    let started = 0;
    const d = new DialBack({ timers, concurrency: 2, perMinute: 3, dial: (address) => new Promise((resolve) => (started++, open.push(() => resolve(address.slice(5, 6)))) )});
    const checks = ['a', 'b', 'c', 'd'].map((p) => d.check(p, `ws://${p}:1`));
    await advance(0);
    expect(started).toBe(2);
    open.shift()!();
    open.shift()!();
    await advance(0);
    expect(started).toBe(3); // the third of the minute
    open.shift()!();
    await advance(0);
    expect(started).toBe(3); // the fourth waits for the next minute
    await advance(60_000);
    expect(started).toBe(4);
    open.shift()!();
    expect(await Promise.all(checks)).toEqual([true, true, true, true]);
  });

  it('drops checks beyond its queue (they are tried again the next time the peer connects)', async () => {
    const { timers } = manualTimers();
    const d = new DialBack({ timers, concurrency: 1, queue: 1, dial: () => new Promise(() => undefined) });
    void d.check('a', 'ws://a:1');
    void d.check('b', 'ws://b:1');
    expect(await d.check('c', 'ws://c:1')).toBe(false);
  });
});
