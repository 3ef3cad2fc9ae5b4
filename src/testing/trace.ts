/**
 * The readable trace of a run: one line per event, stamped with simulated
 * time since the start and the node it happened on. The same seed gives the
 * same trace byte for byte.
 *
 * @example
 * trace.add('n1', 'promoted epoch=2 via=election'); trace.text()
 */
export class Trace {
  readonly #startMs: number;
  readonly #now: () => number;
  readonly #lines: string[] = [];

  constructor(startMs: number, now: () => number) {
    this.#startMs = startMs;
    this.#now = now;
  }

  /** Adds a line for `who` (a node id, `sim`, or a writer). */
  add(who: string, text: string): void {
    const t = (this.#now() - this.#startMs).toString().padStart(7, ' ');
    this.#lines.push(`${t}ms ${who.padEnd(4)} ${text}`);
  }

  /** Number of lines so far. */
  get length(): number {
    return this.#lines.length;
  }

  /** The whole trace. */
  text(): string {
    return this.#lines.join('\n');
  }

  /** The last `n` lines. */
  tail(n: number): string {
    return this.#lines.slice(-n).join('\n');
  }
}
