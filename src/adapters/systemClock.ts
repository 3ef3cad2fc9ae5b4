/** The real clock and `Math.random`, behind the `Clock` and `Random` ports. */
import type { Clock, Random } from '../ports.js';

/**
 * Wall-clock time and real timers.
 *
 * @example
 * createNode({ ..., clock: systemClock })
 */
/** Node clamps longer delays to 1 ms (with a warning): anything longer waits the maximum instead. */
const TIMER_MAX_MS = 2 ** 31 - 1;

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, Math.min(Math.max(0, ms), TIMER_MAX_MS)),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** `Math.random` as a `Random` port. */
export const systemRandom: Random = { next: () => Math.random() };
