import { describe, expect, it } from 'vitest';
import { identityFromSeed } from '../../../protocols/identity.js';
import { metadataDigest, resourceId } from '../../../protocols/objects.js';
import { hashcashChallenge, keyPolicy, leadingZeroBits, workHash } from '../../../protocols/pow.js';
import { mineMetadata, verifyRecord, makeRecord } from '../../../protocols/signed.js';
import { verify } from '../../helpers/objects.js';

const issuer = identityFromSeed(new Uint8Array(32).fill(7));

describe('proof of work', () => {
  it('mineMetadata finds a solution with at least min_bits and a valid issuer signature', () => {
    const fields = { key_id: resourceId('pow', issuer.peerId), peer_id: issuer.peerId, timestamp_issued: 1_700_000_000, value: 'v' };
    const md = mineMetadata(issuer, fields, 10);
    expect(leadingZeroBits(workHash(metadataDigest(md)))).toBeGreaterThanOrEqual(10);
    expect(md.solution).not.toBe('');
    expect(() => verifyRecord(makeRecord(issuer, md, 1_700_000_000), verify)).not.toThrow();
  });

  it('mineMetadata gives up after maxTries', () => {
    const fields = { key_id: resourceId('pow', issuer.peerId), peer_id: issuer.peerId, timestamp_issued: 1, value: 'v' };
    expect(() => mineMetadata(issuer, fields, 64, 16)).toThrow(/no solution with 64 bits in 16 tries/);
  });

  it('hashcash challenges round-trip through keyPolicy', () => {
    const challenge = Buffer.from(hashcashChallenge(12, 21600)).toString('base64url');
    expect(keyPolicy({ challenge, challenge_type: 'hashcash/v1', owner_peer_id: issuer.peerId })).toEqual({ type: 'hashcash', minBits: 12, halfLife: 21600 });
    const zeroHalfLife = Buffer.from(hashcashChallenge(12, 0)).toString('base64url');
    expect(keyPolicy({ challenge: zeroHalfLife, challenge_type: 'hashcash/v1', owner_peer_id: issuer.peerId })).toBeNull();
  });
});
