import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { base64urlDecode, base64urlEncode, fromHex, toHex } from '../../../protocols/encoding.js';
import { identityFromSeed, p2pAuthDigest, publicKeyOf, sessionDigest, isValidPeerId, peerIdBytes } from '../../../protocols/identity.js';
import { keyDigest, metadataDigest, recordDigest, resourceId, tombstoneDigest } from '../../../protocols/objects.js';
import { keyPolicy, leadingZeroBits, powScore, workHash } from '../../../protocols/pow.js';
import { makeKey, makeMetadata, makeRecord, makeTombstone, signatureVerifier, verifyKey, verifyRecord, verifyTombstone } from '../../../protocols/signed.js';
import { nobleEd25519, sha256, verifyStrict } from '../../../protocols/crypto.js';
import { nodeEd25519 } from '../../../runtime/base/node-crypto.js';
import type { Key, Record as ProviderRecord, Tombstone } from '../../../protocols/types.js';

const v = JSON.parse(readFileSync(new URL('../../vectors/v1.json', import.meta.url), 'utf8'));

for (const backend of [nobleEd25519, nodeEd25519()]) {
  describe(`SPEC vectors with the ${backend.name} backend`, () => {
    const ids = Object.fromEntries(
      Object.entries(v.identities as Record<string, { seed_hex: string }>).map(([name, i]) => [name, identityFromSeed(fromHex(i.seed_hex), backend)]),
    ) as Record<'A' | 'B' | 'C', ReturnType<typeof identityFromSeed>>;
    const byPeer = (p: string) => Object.values(ids).find((i) => i.peerId === p)!;
    const verify = signatureVerifier(backend);

    it('derives public keys and peer ids from the seeds', () => {
      for (const [name, want] of Object.entries(v.identities) as [string, { public_key_hex: string; peer_id: string }][]) {
        const id = ids[name as 'A'];
        expect(toHex(id.publicKey)).toBe(want.public_key_hex);
        expect(id.peerId).toBe(want.peer_id);
        expect(toHex(publicKeyOf(want.peer_id)!)).toBe(want.public_key_hex);
      }
    });

    it('computes resource ids', () => {
      for (const r of v.resource_ids) expect(resourceId(r.label, ids[r.owner as 'A'].peerId)).toBe(r.resource_id);
    });

    it('computes key digests, verifies key signatures and signs the same bytes', () => {
      for (const { key, digest_hex } of v.keys as { key: Key; digest_hex: string }[]) {
        expect(toHex(keyDigest(key))).toBe(digest_hex);
        expect(() => verifyKey(key, verify)).not.toThrow();
        const again = makeKey(byPeer(key.owner_peer_id), {
          label: key.label, timestamp_created: key.timestamp_created, challenge: base64urlDecode(key.challenge)!, challenge_type: key.challenge_type,
        });
        expect(again).toEqual(key);
      }
    });

    it('computes record digests, pow values, verifies and re-signs records', () => {
      for (const r of v.records as { record: ProviderRecord; metadata_digest_hex: string; record_digest_hex: string; pow_bits?: number; pow_hash_hex?: string; score_S?: number }[]) {
        const md = metadataDigest(r.record.metadata);
        expect(toHex(md)).toBe(r.metadata_digest_hex);
        expect(toHex(recordDigest(r.record))).toBe(r.record_digest_hex);
        expect(() => verifyRecord(r.record, verify)).not.toThrow();
        const m = r.record.metadata;
        const meta = makeMetadata(byPeer(m.issued_by), { key_id: m.key_id, peer_id: m.peer_id, timestamp_issued: m.timestamp_issued, solution: m.solution, value: m.value, relay_id: m.relay_id, service_id: m.service_id });
        expect(meta).toEqual(m);
        expect(makeRecord(byPeer(m.peer_id), meta, r.record.timestamp_created)).toEqual(r.record);
        if (r.pow_hash_hex) {
          expect(toHex(workHash(md))).toBe(r.pow_hash_hex);
          expect(leadingZeroBits(workHash(md))).toBe(r.pow_bits);
          const policy = keyPolicy(v.keys[1].key);
          expect(policy).toMatchObject({ type: 'hashcash', minBits: 12, halfLife: 21600 });
          if (policy?.type === 'hashcash') expect(powScore(r.pow_bits!, m.timestamp_issued, policy.halfLife)).toBeCloseTo(r.score_S!, 9);
        }
      }
    });

    it('computes tombstone digests, verifies and re-signs tombstones', () => {
      for (const { tombstone, digest_hex } of v.tombstones as { tombstone: Tombstone; digest_hex: string }[]) {
        expect(toHex(tombstoneDigest(tombstone))).toBe(digest_hex);
        expect(() => verifyTombstone(tombstone, verify)).not.toThrow();
        expect(makeTombstone(byPeer(tombstone.issued_by), tombstone)).toEqual(tombstone);
      }
    });

    it('computes the session and p2p-auth digests and signatures', () => {
      const s = v.session;
      const d = sessionDigest(base64urlDecode(s.nonce_b64url)!, s.node_peer_id);
      expect(toHex(d)).toBe(s.digest_hex);
      expect(base64urlEncode(backend.sign(ids[s.client as 'B'].seed, d))).toBe(s.signature_b64url);
      const p = v.p2p_auth;
      const pd = p2pAuthDigest(base64urlDecode(p.nonce_b64url)!, ids[p.verifier as 'A'].peerId, ids[p.signer as 'B'].peerId);
      expect(toHex(pd)).toBe(p.digest_hex);
      expect(base64urlEncode(backend.sign(ids[p.signer as 'B'].seed, pd))).toBe(p.signature_b64url);
      expect(verifyStrict(backend, ids.B.publicKey, pd, base64urlDecode(p.signature_b64url)!)).toBe(true);
    });

    it('computes Kademlia locations', () => {
      for (const [name, hex] of Object.entries(v.kademlia.location_hex) as [string, string][]) {
        expect(toHex(sha256(peerIdBytes(ids[name as 'A'].peerId)!))).toBe(hex);
      }
    });

    it('rejects every invalid peer id of the vectors', () => {
      for (const bad of v.invalid_peer_ids) expect(isValidPeerId(bad.peer_id), bad.why).toBe(false);
    });

    it('refuses every signature with one bit flipped', () => {
      const key = v.keys[0].key as Key;
      const sig = base64urlDecode(key.signature)!;
      const digest = keyDigest(key);
      for (let bit = 0; bit < 512; bit++) {
        const bad = sig.slice();
        bad[bit >> 3] ^= 1 << (bit & 7);
        expect(verifyStrict(backend, ids.A.publicKey, digest, bad)).toBe(false);
      }
    });
  });
}
