/**
 * Ports: the few interfaces through which time and randomness reach the
 * library, so the same code runs on the real clock or a simulated one.
 * Real implementations live in `src/adapters`; simulated ones in `src/testing`.
 */

/**
 * Time and timers. Compatible with xstate's `clock` option, so the actor
 * system's delayed transitions use the same clock as everything else.
 *
 * @example
 * const clock: Clock = systemClock
 * const id = clock.setTimeout(() => tick(), 100); clock.clearTimeout(id)
 */
export interface Clock {
  /** Milliseconds since the Unix epoch (wall clock, as written into records). */
  now(): number;
  /** Calls `fn` once after `ms` milliseconds; returns a handle for `clearTimeout`. */
  setTimeout(fn: () => void, ms: number): unknown;
  /** Cancels a timer from `setTimeout`; unknown handles are ignored. */
  clearTimeout(handle: unknown): void;
}

/**
 * Randomness (election timeouts, backoff jitter), seeded in simulation.
 *
 * @example
 * const jitterMs = random.next() * 100
 */
export interface Random {
  /** A number in [0, 1). */
  next(): number;
}
