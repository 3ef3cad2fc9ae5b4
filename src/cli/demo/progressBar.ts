/**
 * A progress bar for a known amount of work: redrawn in place on a terminal,
 * and on a pipe one plain line at each quarter (no cursor control codes).
 *
 * @example
 * const bar = new ProgressBar('writing', 10_000, process.stdout); bar.update(2500); bar.done()
 */
import type { WriteStream } from 'node:tty';

const WIDTH = 30;

/** One progress bar on `out`. */
export class ProgressBar {
  readonly #label: string;
  readonly #total: number;
  readonly #out: NodeJS.WritableStream & Partial<Pick<WriteStream, 'isTTY'>>;
  readonly #started = performance.now();
  #quarter = 0;
  #drawnAt = 0;

  constructor(label: string, total: number, out: NodeJS.WritableStream & Partial<Pick<WriteStream, 'isTTY'>>) {
    this.#label = label;
    this.#total = total;
    this.#out = out;
  }

  /** Shows `done` of the total. */
  update(done: number): void {
    const now = performance.now();
    if (this.#out.isTTY === true) {
      if (now - this.#drawnAt < 50 && done < this.#total) return;
      this.#drawnAt = now;
      this.#out.write(`\r${this.#line(done, now)}`);
      return;
    }
    const quarter = Math.floor((4 * done) / this.#total);
    if (quarter > this.#quarter) {
      this.#quarter = quarter;
      this.#out.write(`${this.#line(done, now)}\n`);
    }
  }

  /** Ends the bar (a newline on a terminal). */
  done(): void {
    if (this.#out.isTTY === true) this.#out.write('\n');
  }

  #line(done: number, now: number): string {
    const filled = Math.round((WIDTH * Math.min(done, this.#total)) / this.#total);
    const rate = done / Math.max(0.001, (now - this.#started) / 1000);
    const pct = Math.floor((100 * done) / this.#total);
    return `  ${this.#label} [${'█'.repeat(filled)}${'░'.repeat(WIDTH - filled)}] ${String(pct).padStart(3)}%  ${done.toLocaleString('en-US')}/${this.#total.toLocaleString('en-US')} entries  ${Math.round(rate).toLocaleString('en-US')}/s`;
  }
}
