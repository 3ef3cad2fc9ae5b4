/**
 * Child-process entry of the replication benchmark: one replica node
 * (`createNode`: real disk and TCP) whose projection is the default
 * `MemoryStore` wrapped in a {@link LagProjection}, which records the apply
 * lag of every record (`Date.now() - record.timestampMs`: the primary stamps
 * the record when it is written, same machine clock, ms resolution) into a
 * 1-ms histogram. Also samples `process.memoryUsage()` every `rssSampleMs`
 * (per-field maxima), watches event-loop delay and counts GC
 * pauses. Started by `startReplica` in `cluster.ts`, which documents the
 * IPC requests; the options arrive as JSON in argv[2].
 *
 * The child never outlives its parent: a lost IPC channel, SIGTERM or a
 * `close` request closes the node and exits.
 *
 * @example
 * node --expose-gc --import tsx bench/replicaChild.ts '{"node":{"id":"r1","dataDir":"/tmp/r1","role":"replica","cluster":{...}}}'
 */
import { PerformanceObserver, monitorEventLoopDelay } from 'node:perf_hooks';
import { type AppliedRecord, MemoryStore, type Projection, type ReplicationNode, createNode } from '../src/index.js';
import { type GcPauses, type LagHistogram, type MemorySample, type ReplicaChildMessage, type ReplicaChildOptions, type ReplicaChildRequest, type ReplicaMemory, wallNow } from './cluster.js';

/** Someone waiting for an LSN to be applied. */
interface Waiter {
  lsn: number;
  resolve: (atMs: number) => void;
}

/**
 * The memory store plus per-record apply-lag recording and applied-LSN
 * waiters (resolved in a microtask after the batch that reached them, by
 * which time the node's applier has moved its applied LSN too).
 */
class LagProjection implements Projection {
  readonly store = new MemoryStore();
  readonly #counts: Uint32Array;
  #recorded = 0;
  #lastLsn = 0;
  #nextTarget = Number.POSITIVE_INFINITY;
  #waiters: Waiter[] = [];
  #flushQueued = false;

  constructor(lagMaxMs: number) {
    this.#counts = new Uint32Array(lagMaxMs + 1);
  }

  apply(record: AppliedRecord): void {
    this.store.apply(record);
    const lag = Date.now() - record.timestampMs;
    this.#counts[lag <= 0 ? 0 : Math.min(lag, this.#counts.length - 1)]!++;
    this.#recorded++;
    this.#lastLsn = record.lsn;
    if (record.lsn >= this.#nextTarget && !this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(() => this.#flushWaiters());
    }
  }

  snapshot(): Uint8Array {
    return this.store.snapshot();
  }

  restore(bytes: Uint8Array): void {
    this.store.restore(bytes);
  }

  count(space: string): number {
    return this.store.count(space);
  }

  /** Resolves with the wall time at which `lsn` was applied (now, if it already was). */
  waitApplied(lsn: number): Promise<number> {
    if (this.#lastLsn >= lsn) return Promise.resolve(wallNow());
    return new Promise((resolve) => {
      this.#waiters.push({ lsn, resolve });
      this.#nextTarget = Math.min(this.#nextTarget, lsn);
    });
  }

  /**
   * Moves the applied position forward from outside (the node's own applied
   * LSN: after recovery, and after a snapshot install, which `apply` never
   * sees) and resolves the waiters it satisfies.
   */
  catchUpTo(lsn: number): void {
    if (lsn <= this.#lastLsn) return;
    this.#lastLsn = lsn;
    if (lsn >= this.#nextTarget) this.#flushWaiters();
  }

  resetLag(): void {
    this.#counts.fill(0);
    this.#recorded = 0;
  }

  lagHistogram(): LagHistogram {
    const buckets: [number, number][] = [];
    for (let ms = 0; ms < this.#counts.length; ms++) {
      const n = this.#counts[ms]!;
      if (n > 0) buckets.push([ms, n]);
    }
    return { buckets, count: this.#recorded };
  }

  #flushWaiters(): void {
    this.#flushQueued = false;
    const at = wallNow();
    const still: Waiter[] = [];
    for (const w of this.#waiters) {
      if (w.lsn <= this.#lastLsn) w.resolve(at);
      else still.push(w);
    }
    this.#waiters = still;
    this.#nextTarget = still.reduce((min, w) => Math.min(min, w.lsn), Number.POSITIVE_INFINITY);
  }
}

function memorySample(): MemorySample {
  const { rss, heapTotal, heapUsed, external, arrayBuffers } = process.memoryUsage();
  return { rss, heapTotal, heapUsed, external, arrayBuffers };
}

function send(message: ReplicaChildMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.connected || process.send === undefined) return resolve();
    try {
      process.send(message, undefined, {}, () => resolve());
    } catch {
      resolve(); // the channel closed meanwhile
    }
  });
}

async function main(): Promise<void> {
  const options = JSON.parse(process.argv[2] ?? '{}') as ReplicaChildOptions;
  const projection = new LagProjection(options.lagMaxMs ?? 120_000);
  let node: ReplicationNode;
  try {
    node = await createNode({ ...options.node, projection });
  } catch (err) {
    await send({ type: 'startError', message: err instanceof Error ? err.message : String(err) });
    process.exit(1);
  }
  // Idle figures: the recovered projection, no stream served yet (an inbound
  // connection needs an event-loop turn, and none has passed since listening).
  projection.catchUpTo(node.status().appliedLsn);
  (globalThis as { gc?: () => void }).gc?.();
  const idle = memorySample();
  const idleArena = projection.store.stats().arena.reservedBytes;
  let max = { ...idle };
  let samples = 0;
  const sample = (): MemorySample => {
    const m = memorySample();
    for (const k of Object.keys(max) as (keyof MemorySample)[]) max[k] = Math.max(max[k], m[k]);
    samples++;
    return m;
  };
  const sampler = setInterval(sample, options.rssSampleMs ?? 100);
  // Snapshot installs bypass `apply`: follow the node's applied LSN too (waiters only; 20 ms).
  const follower = setInterval(() => projection.catchUpTo(node.status().appliedLsn), 20);
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();

  const gc: GcPauses = { count: 0, totalMs: 0, maxMs: 0 };
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gc.count++;
      gc.totalMs += e.duration;
      gc.maxMs = Math.max(gc.maxMs, e.duration);
    }
  });
  observer.observe({ entryTypes: ['gc'] });

  let exiting: Promise<never> | undefined;
  const shutdown = (after?: () => Promise<void>): Promise<never> => {
    exiting ??= (async () => {
      clearInterval(sampler);
      clearInterval(follower);
      loopDelay.disable();
      observer.disconnect();
      await node.close().catch(() => undefined);
      await after?.();
      process.exit(0);
    })();
    return exiting;
  };

  const handle = async (op: ReplicaChildRequest['op'], args: unknown[]): Promise<unknown> => {
    switch (op) {
      case 'status':
        return node.status();
      case 'waitApplied': {
        const atMs = await projection.waitApplied(Number(args[0]));
        return { atMs, appliedLsn: node.status().appliedLsn };
      }
      case 'lagReset':
        projection.resetLag();
        Object.assign(gc, { count: 0, totalMs: 0, maxMs: 0 });
        loopDelay.reset();
        return null;
      case 'lagReport':
        return { lag: projection.lagHistogram(), gc: { ...gc }, eventLoopDelayMaxMs: loopDelay.max / 1e6 };
      case 'cpu':
        return process.cpuUsage();
      case 'memoryReset':
        max = memorySample();
        samples = 0;
        return null;
      case 'memory': {
        if (args[0] === true) (globalThis as { gc?: () => void }).gc?.();
        const now = sample();
        const memory: ReplicaMemory = {
          idle, max: { ...max }, now,
          arenaReservedBytes: projection.store.stats().arena.reservedBytes, idleArenaReservedBytes: idleArena, samples,
        };
        return memory;
      }
      default:
        throw new Error(`unknown op ${JSON.stringify(op)}`);
    }
  };

  process.on('message', (raw: unknown) => {
    const req = raw as Partial<ReplicaChildRequest> | null;
    if (typeof req !== 'object' || req === null || typeof req.id !== 'number') return;
    const id = req.id;
    if (req.op === 'close') {
      void shutdown(() => send({ type: 'reply', id, ok: true, result: null }));
      return;
    }
    handle(req.op as ReplicaChildRequest['op'], Array.isArray(req.args) ? req.args : []).then(
      (result) => send({ type: 'reply', id, ok: true, result }),
      (err: unknown) => send({ type: 'reply', id, ok: false, error: err instanceof Error ? err.message : String(err) }),
    );
  });
  process.on('SIGTERM', () => void shutdown());
  process.on('disconnect', () => void shutdown()); // the parent is gone: do not linger

  await send({ type: 'ready', pid: process.pid, address: node.replicationAddress, appliedLsn: node.status().appliedLsn, atMs: wallNow() });
}

process.on('uncaughtException', (err) => {
  process.stderr.write(`replicaChild: uncaught exception: ${err.stack ?? err.message}\n`);
});
process.on('unhandledRejection', (err) => {
  process.stderr.write(`replicaChild: unhandled rejection: ${String(err)}\n`);
});

void main();
