/** Pure protocol code of SPEC §1–4 and §6: no I/O, runs on every runtime. */
export * from './errors.js';
export * from './types.js';
export * from './encoding.js';
export * from './crypto.js';
export * from './identity.js';
export * from './objects.js';
export * from './pow.js';
export * from './signed.js';
export * from './validate.js';
export * as rules from './rules.js';
export * as registry from './registry.js';
export * from './random.js';
