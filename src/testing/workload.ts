/**
 * The clients of a simulated run: concurrent writers over many spaces, each
 * write with a seeded ack mode, sent to a node that says it is primary
 * (possibly a stale one). Every write gets a unique memory id so checkers
 * can tell which client wrote what, and its outcome is recorded.
 *
 * @example
 * const workload = new Workload(world, cluster, { writers: 3, spaces: 6 }, listener); workload.start(untilMs)
 */
import type { AckMode } from '../types.js';
import type { SimCluster, World } from './cluster.js';

/** One client write and what became of it. */
export interface WriteRecord {
  readonly key: string;
  readonly space: string;
  readonly value: { id: string; writer: number; n: number };
  readonly ack: AckMode;
  /** The node it was sent to. */
  readonly node: string;
  /** That node's epoch when it took the call. */
  epoch: number;
  calledAtMs: number;
  outcome: 'pending' | 'acked' | 'failed' | 'unknown';
  lsn?: number;
  ackedAtMs?: number;
  error?: string;
}

/** Told when a write is acknowledged. */
export interface WriteListener {
  acknowledged(write: WriteRecord): void;
}

/** Options of the workload. */
export interface WorkloadOptions {
  writers: number;
  spaces: number;
}

const MODES: readonly AckMode[] = ['local', 'local', 'one', 'quorum', 'quorum', 'all'];
/** A client gives up waiting for an answer after this long (the node may have crashed). */
const CLIENT_TIMEOUT_MS = 12_000;

export class Workload {
  /** Every write ever issued, by memory id. */
  readonly writes = new Map<string, WriteRecord>();
  readonly #world: World;
  readonly #cluster: SimCluster;
  readonly #options: WorkloadOptions;
  readonly #listener: WriteListener;
  #untilMs = 0;

  constructor(world: World, cluster: SimCluster, options: WorkloadOptions, listener: WriteListener) {
    this.#world = world;
    this.#cluster = cluster;
    this.#options = options;
    this.#listener = listener;
  }

  /** Starts the writers; they stop issuing writes at `untilMs`. */
  start(untilMs: number): void {
    this.#untilMs = untilMs;
    for (let w = 1; w <= this.#options.writers; w++) void this.#writer(w);
  }

  /** Writes per outcome and ack mode (`acked:quorum` ...). */
  counts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const w of this.writes.values()) {
      const k = `${w.outcome}:${w.ack}`;
      out[k] = (out[k] ?? 0) + 1;
    }
    return out;
  }

  #sleep(ms: number): Promise<void> {
    const s = this.#world.scheduler;
    return new Promise((resolve) => s.at(s.now + ms, resolve));
  }

  async #writer(writer: number): Promise<void> {
    const { scheduler, rng } = this.#world;
    let n = 0;
    while (scheduler.now < this.#untilMs) {
      await this.#sleep(rng.int(5, 80));
      const primaries = this.#cluster.running().filter((r) => r.node.role === 'primary');
      if (primaries.length === 0) continue;
      const target = rng.pick(primaries);
      n++;
      const key = `w${writer}-${n}`;
      const write: WriteRecord = {
        key, space: `space-${rng.int(1, this.#options.spaces)}`, value: { id: key, writer, n }, ack: rng.pick(MODES),
        node: target.id, epoch: 0, calledAtMs: 0, outcome: 'pending',
      };
      this.writes.set(key, write);
      await this.#send(write, target);
    }
  }

  /** Calls `write` as the target node (deferred while it is paused); resolves when it answered or the client gave up. */
  #send(write: WriteRecord, target: ReturnType<SimCluster['running']>[number]): Promise<void> {
    const { scheduler, trace } = this.#world;
    return new Promise((done) => {
      const giveUp = scheduler.at(scheduler.now + CLIENT_TIMEOUT_MS, () => {
        if (write.outcome === 'pending') write.outcome = 'unknown';
        done();
      });
      target.clock.run(() => {
        write.calledAtMs = scheduler.now;
        write.epoch = target.node.status().epoch;
        target.node.write(write.space, write.value, { ack: write.ack }).then((result) => {
          if (target.clock.dead) return;
          write.outcome = 'acked';
          write.lsn = result.lsn;
          write.ackedAtMs = scheduler.now;
          trace.add(target.id, `ack ${write.key} ${write.space} lsn=${result.lsn} epoch=${write.epoch} ${write.ack}`);
          this.#listener.acknowledged(write);
          giveUp.cancelled = true;
          done();
        }, (err: unknown) => {
          if (target.clock.dead) return;
          write.outcome = 'failed';
          write.error = (err as { code?: string }).code ?? String(err);
          trace.add(target.id, `fail ${write.key} ${write.ack} ${write.error}`);
          giveUp.cancelled = true;
          done();
        });
      });
    });
  }
}
