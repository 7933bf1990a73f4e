/** What a synchronous check does with an input, as a comparable string. */
import { SignpostError } from '../../protocols/errors.js';

/** The code a call throws, or 'ok'. Anything but a SignpostError is a bug and fails the test. */
export function outcome(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (e) {
    if (!(e instanceof SignpostError)) throw e;
    return e.code;
  }
}
