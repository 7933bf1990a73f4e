/**
 * The memory store (runtime/store/memory-store.ts), what unit tests and the simulator run on: the same
 * Store contract as LMDB (test/helpers/store-contract.ts), so a test that passes on it means the same on a
 * real node. Nothing of it is durable, so the contract is all there is to test.
 */
import { MemoryStore } from '../../../runtime/store/memory-store.js';
import { storeContract } from '../../helpers/store-contract.js';

storeContract('memory', {
  open: async () => new MemoryStore(),
});
