/**
 * Random sources. Nothing in protocols/, actors/ or the network layer draws randomness by itself: whoever
 * needs random bytes (a nonce, a new identity, a bucket-refresh target) is given a `Random`, so the
 * simulator can replay a whole network from one seed.
 */

export interface Random {
  /** `n` random bytes. */
  bytes(n: number): Uint8Array;
  /** A number in [0, 1). */
  float(): number;
}

/** The platform's cryptographic generator (Web Crypto, on every runtime and in browsers). */
export const systemRandom: Random = {
  bytes(n) {
    const b = new Uint8Array(n);
    crypto.getRandomValues(b);
    return b;
  },
  float() {
    return systemRandom.bytes(4).reduce((x, byte) => x * 256 + byte, 0) / 2 ** 32;
  },
};

/**
 * A deterministic generator (xoshiro128**, seeded through splitmix32): the same seed gives the same
 * sequence on every runtime. Not for secrets: for tests and the simulator.
 *
 * @example
 * const random = seededRandom(42);
 * random.bytes(32); // the same 32 bytes in every run
 */
export function seededRandom(seed: number): Random {
  let x = seed >>> 0;
  const splitmix = () => {
    x = (x + 0x9e3779b9) >>> 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  const s = [splitmix(), splitmix(), splitmix(), splitmix()];
  const next = (): number => {
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  };
  return {
    bytes(n) {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i += 4) {
        const v = next();
        for (let j = 0; j < 4 && i + j < n; j++) out[i + j] = (v >>> (8 * j)) & 0xff;
      }
      return out;
    },
    float: () => next() / 2 ** 32,
  };
}

function rotl(v: number, k: number): number {
  return ((v << k) | (v >>> (32 - k))) >>> 0;
}
