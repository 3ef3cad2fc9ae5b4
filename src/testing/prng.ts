/**
 * A seeded pseudo-random generator (mulberry32): the one source of
 * randomness in a simulation, so a seed replays the same run.
 *
 * @example
 * const rng = new Prng(42); rng.int(1, 6); rng.chance(0.1); rng.pick(['a', 'b'])
 */
import type { Random } from '../ports.js';

/** mulberry32: numbers in [0, 1) from a 32-bit seed; tests print the seed so a failure can be replayed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A seeded generator with the helpers a simulation needs; usable as the `Random` port. */
export class Prng implements Random {
  readonly #next: () => number;

  constructor(seed: number) {
    this.#next = seededRandom(seed);
  }

  /** A number in [0, 1). */
  next(): number {
    return this.#next();
  }

  /** An integer in [lo, hi] (both included). */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.#next() * (hi - lo + 1));
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.#next() < p;
  }

  /** One element of a non-empty list. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick() needs a non-empty list');
    return items[Math.floor(this.#next() * items.length)]!;
  }

  /** A new generator seeded from this one (an independent stream per component). */
  fork(): Prng {
    return new Prng(Math.floor(this.#next() * 4294967296));
  }
}
