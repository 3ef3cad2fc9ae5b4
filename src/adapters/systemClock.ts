/** The real clock and `Math.random`, behind the `Clock` and `Random` ports. */
import type { Clock, Random } from '../ports.js';

/**
 * Wall-clock time and real timers.
 *
 * @example
 * createNode({ ..., clock: systemClock })
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** `Math.random` as a `Random` port. */
export const systemRandom: Random = { next: () => Math.random() };
