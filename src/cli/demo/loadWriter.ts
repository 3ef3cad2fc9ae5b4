/**
 * The demo's client load: batches of memories over 10 spaces written over
 * HTTP with one ack mode, the way a client of a replicated store would:
 * a 421 names the primary to follow; a node that refuses connections is
 * replaced by the next node of the cluster (whose 421 then points the way);
 * a 421 without a primary (an election under way) is retried shortly. It
 * records every acknowledged id per space (the set the demo verifies) and
 * counts the entries whose outcome it never learned.
 *
 * @example
 * const writer = new LoadWriter(cluster, 'n1', { ack: 'quorum' })
 * await writer.write('a', 10_000, (done) => bar.update(done))
 */
import type { AckMode } from '../../types.js';
import { ApiError } from '../apiClient.js';
import type { ProcessCluster } from '../processCluster.js';

/** Options of a {@link LoadWriter}. */
export interface LoadWriterOptions {
  ack: AckMode;
  spaces?: number;
  batch?: number;
  /** Called when writes start being acknowledged by another node, and how the writer got there. */
  onSwitch?: (from: string, to: string, how: string) => void;
}

/** A write that finds no node accepting it for this long fails the writer. */
const GIVE_UP_MS = 30_000;
const BACKOFF_MS = 50;
const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A writer that follows the primary and remembers what was acknowledged. */
export class LoadWriter {
  /** Acknowledged ids per space. */
  readonly acked = new Map<string, string[]>();
  ackedCount = 0;
  /** Entries sent without learning the outcome (timeout, connection lost, AckTimeout). */
  unacknowledged = 0;
  /** `performance.now()` of the last acknowledged write. */
  lastAckAt = 0;
  /** The node that acknowledged the last write. */
  ackedBy: string;
  #target: string;
  #how: string[] = [];
  #next = 0;
  #background: Promise<void> | undefined;
  #stop = false;
  readonly #cluster: ProcessCluster;
  readonly #ack: AckMode;
  readonly #spaces: number;
  readonly #batch: number;
  readonly #onSwitch: (from: string, to: string, how: string) => void;

  constructor(cluster: ProcessCluster, primary: string, options: LoadWriterOptions) {
    this.#cluster = cluster;
    this.#target = primary;
    this.ackedBy = primary;
    this.#ack = options.ack;
    this.#spaces = options.spaces ?? 10;
    this.#batch = options.batch ?? 200;
    this.#onSwitch = options.onSwitch ?? (() => undefined);
  }

  /** Names of the spaces written. */
  get spaces(): string[] {
    return Array.from({ length: this.#spaces }, (_, i) => `space-${i}`);
  }

  /** Writes batches until `count` more entries are acknowledged. */
  async write(prefix: string, count: number, onProgress: (acked: number) => void = () => undefined): Promise<void> {
    const goal = this.ackedCount + count;
    const start = this.ackedCount;
    while (this.ackedCount < goal) {
      await this.#writeBatch(prefix, Math.min(this.#batch, goal - this.ackedCount));
      onProgress(this.ackedCount - start);
    }
  }

  /** Keeps writing batches of `batch` in the background, `pauseMs` apart, until `stop()`. */
  start(prefix: string, batch: number, pauseMs: number): void {
    this.#stop = false;
    this.#background = (async () => {
      while (!this.#stop) {
        await this.#writeBatch(prefix, batch);
        await wait(pauseMs);
      }
    })();
  }

  /** Stops the background writes; resolves when the last one finished (rejects if it failed). */
  async stop(): Promise<void> {
    this.#stop = true;
    await this.#background;
    this.#background = undefined;
  }

  async #writeBatch(prefix: string, size: number): Promise<void> {
    const n = this.#next++;
    const space = `space-${n % this.#spaces}`;
    const entries = Array.from({ length: size }, (_, i) => ({ id: `${prefix}-${n}-${i}`, text: `memory ${n}/${i}`, batch: n }));
    const giveUp = performance.now() + GIVE_UP_MS;
    while (performance.now() < giveUp) {
      try {
        await this.#cluster.api(this.#target).write(space, entries, this.#ack);
        this.#acknowledged(space, entries.map((e) => e.id));
        return;
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        if (err.status === 421 && err.primary !== null && err.primary.id !== this.#target) {
          this.#how.push(`421 from ${this.#target}`);
          this.#target = err.primary.id;
          continue; // refused, not written: the same batch at the named primary
        }
        if (err.code === 'Unreachable') {
          this.#how.push(`${this.#target} refused the connection`);
          this.#target = this.#nextNode(this.#target);
        } else if (err.code === 'NoAnswer' || err.code === 'AckTimeout' || err.code === 'Closed') {
          this.unacknowledged += entries.length; // may or may not be durable: counted neither way
          return;
        } else if (err.status !== 421 && err.code !== 'Overloaded') {
          throw err;
        }
        await wait(BACKOFF_MS); // refused (no primary known yet, or back-pressure): retry the same batch
      }
    }
    throw new Error(`no node accepted a write for ${GIVE_UP_MS / 1000} s`);
  }

  #acknowledged(space: string, ids: string[]): void {
    const list = this.acked.get(space) ?? [];
    list.push(...ids);
    this.acked.set(space, list);
    this.ackedCount += ids.length;
    this.lastAckAt = performance.now();
    if (this.#target !== this.ackedBy) {
      const how = [...new Set(this.#how)].join(', then ');
      this.#onSwitch(this.ackedBy, this.#target, how);
      this.ackedBy = this.#target;
    }
    this.#how = [];
  }

  /** The node after `id` in the config that is still running. */
  #nextNode(id: string): string {
    const ids = this.#cluster.config.nodes.map((n) => n.id);
    for (let i = 1; i <= ids.length; i++) {
      const candidate = ids[(ids.indexOf(id) + i) % ids.length]!;
      if (this.#cluster.nodes.get(candidate)?.alive === true) return candidate;
    }
    return id;
  }
}
