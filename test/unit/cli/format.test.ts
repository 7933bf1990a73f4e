/**
 * The CLI's human output (runtime/cli/format.ts): node-clock times as ISO-8601 UTC with a hint relative to
 * the node's now.
 */
import { describe, expect, it } from 'vitest';
import { isoTime, keyText, timeText } from '../../../runtime/cli/format.js';
import { key, peer } from '../../helpers/objects.js';

const T = Date.UTC(2026, 11, 6, 21, 30, 0) / 1000;

describe('times in human output', () => {
  it('prints ISO-8601 UTC and how far from the node clock', () => {
    expect(timeText(T, T - 23 * 3600)).toBe('2026-12-06T21:30:00Z, in 23 h');
    expect(timeText(T, T + 300)).toBe('2026-12-06T21:30:00Z, 5 min ago');
    expect(timeText(T, T)).toBe('2026-12-06T21:30:00Z, now');
    expect(timeText(T, T - 2 * 86400 - 5)).toBe('2026-12-06T21:30:00Z, in 2 d');
    expect(isoTime(0)).toBe('1970-01-01T00:00:00Z');
    expect(isoTime(Number.MAX_SAFE_INTEGER)).toBe(`${Number.MAX_SAFE_INTEGER} s`);
  });

  it('shows a key with its creation time, not raw seconds', () => {
    const text = keyText(key(peer(1), 'weather', T), T + 60);
    expect(text).toContain('created            2026-12-06T21:30:00Z, 1 min ago');
    expect(text).not.toContain(String(T));
  });
});
