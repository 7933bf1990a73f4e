import { describe, expect, it } from 'vitest';
import { renewHostRecords, stateFromEntries } from '../../../protocols/registry.js';
import { renewDueAt, type RuleContext } from '../../../protocols/rules.js';
import { recordEntry, verifyRecord } from '../../../protocols/signed.js';
import { DEFAULT_RULE_CONFIG, type RecordEntry } from '../../../protocols/types.js';
import { key, peer, record, verify } from '../../helpers/objects.js';

const node = peer(1);
const other = peer(2);
const k = key(peer(3), 'svc', 0);
const ctx = (now: number): RuleContext => ({ now, cfg: DEFAULT_RULE_CONFIG, hostPeerId: node.peerId });
const R = DEFAULT_RULE_CONFIG.renew_interval;

function state() {
  const hostOld = recordEntry(record(k, peer(4), 100, { host: node, created: 100 }));
  const hostNew = recordEntry(record(k, peer(5), 100, { host: node, created: 5000 }));
  const foreign = recordEntry(record(k, other, 100, { created: 100 }));
  return { hostOld, hostNew, foreign, s: stateFromEntries({ key: k, published: null }, [hostOld, hostNew, foreign]) };
}

describe('renew (SPEC §5)', () => {
  it('is due renew_interval after the oldest host record was created; keys without host records never are', () => {
    const { s, foreign } = state();
    expect(renewDueAt(s, ctx(0))).toBe(100 + R);
    expect(renewDueAt(stateFromEntries({ key: k, published: null }, [foreign]), ctx(0))).toBeNull();
  });

  it('re-signs exactly the host records created at least renew_interval ago, by the node, at now', () => {
    const { s, hostOld, hostNew, foreign } = state();
    expect(renewHostRecords(s, ctx(100 + R - 1), node.sign).result).toEqual({ renewed: 0 });

    const now = 100 + R;
    const out = renewHostRecords(s, ctx(now), node.sign);
    expect(out.result).toEqual({ renewed: 1 });
    expect(out.changes.put).toHaveLength(1);
    const renewed = out.changes.put[0] as RecordEntry;
    expect(renewed.record.metadata).toEqual(hostOld.record.metadata);
    expect(renewed.record.timestamp_created).toBe(now);
    expect(() => verifyRecord(renewed.record, verify)).not.toThrow();
    // The renewal replaced the old record in its slot; the others are untouched.
    const values = [...out.state.entries.values()];
    expect(values).toContain(renewed);
    expect(values).not.toContain(hostOld);
    expect(values).toContain(hostNew);
    expect(values).toContain(foreign);
    expect(renewDueAt(out.state, ctx(now))).toBe(5000 + R);
  });
});
