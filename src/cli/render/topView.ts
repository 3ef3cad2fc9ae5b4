/**
 * The state behind `engram-repl top`: samples of a node's status over time,
 * from which it derives the write rate and each replica's recent lag, and
 * the screen it draws from them.
 *
 * @example
 * const view = new TopView(30); view.add(status, performance.now()); console.log(view.render())
 */
import type { NodeStatus } from '../../actors/replicationNode.js';
import { sparkline } from './sparkline.js';
import { type Cell, formatTable } from './table.js';
import { statusLine } from './statusView.js';

interface Sample {
  status: NodeStatus;
  atMs: number;
}

/** Rolling samples of one node's status. */
export class TopView {
  readonly #width: number;
  #last: Sample | undefined;
  #rate = 0;
  readonly #lag = new Map<string, number[]>();
  #error: string | undefined;

  /** Keeps `width` lag samples per replica for its sparkline. */
  constructor(width: number) {
    this.#width = width;
  }

  /** Adds a status read at `atMs` (monotonic ms). */
  add(status: NodeStatus, atMs: number): void {
    if (this.#last !== undefined && atMs > this.#last.atMs && status.epoch === this.#last.status.epoch) {
      this.#rate = Math.max(0, status.lsn - this.#last.status.lsn) / ((atMs - this.#last.atMs) / 1000);
    } else {
      this.#rate = 0;
    }
    this.#last = { status, atMs };
    this.#error = undefined;
    for (const r of status.replicas) {
      const history = this.#lag.get(r.id) ?? [];
      history.push(r.lagMs);
      if (history.length > this.#width) history.shift();
      this.#lag.set(r.id, history);
    }
  }

  /** Notes that the last read failed (shown until the next success). */
  failed(message: string): void {
    this.#error = message;
  }

  /** The screen as text lines. */
  render(url: string): string {
    const lines = [`engram-repl top  ${url}  (q or Ctrl-C to quit)`];
    if (this.#error !== undefined) lines.push(`unreachable: ${this.#error}`);
    const s = this.#last?.status;
    if (s === undefined) return lines.join('\n');
    lines.push(statusLine(s), `write rate ${Math.round(this.#rate)} entries/s`, '');
    if (s.replicas.length === 0) {
      lines.push(s.role === 'primary' ? '(no replicas)' : '(a replica: replica rows are on the primary)');
    } else {
      const rows: Cell[][] = s.replicas.map((r) => [r.id, r.status, r.appliedLsn, r.lagEntries, r.lagMs, sparkline(this.#lag.get(r.id) ?? [])]);
      lines.push(formatTable(['replica', 'status', 'applied_lsn', 'lag_entries', 'lag_ms', `lag (last ${this.#width}s)`], rows));
    }
    return lines.join('\n');
  }
}
