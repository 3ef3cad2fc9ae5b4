/**
 * Replication benchmark: `npm run bench -- replication` (full: 3 runs,
 * about 4-5 minutes); quick: `BENCH_QUICK=1 npm run bench -- replication`
 * or `node --expose-gc --import tsx bench/replication.bench.ts --quick`
 * (bench/run.ts does not forward flags to the bench process).
 *
 * Topology: the primary runs in this process (embedded, as a host app runs
 * it; the load generator shares its event loop); two replicas run as child
 * processes (`bench/replicaChild.ts`), all on 127.0.0.1 with free ports and
 * fresh temp data dirs (removed at the end; every child is SIGKILLed by PID
 * at exit, even on failure). Each run starts fresh clusters; every figure is
 * the median of RUNS runs (3, quick: 1 with shorter phases).
 *
 * 1. Throughput to 2 replicas: 260-byte memory records over 50 spaces,
 *    `writeMany` batches of 500, 8 calls in flight, as fast as possible;
 *    then, in a fresh cluster, memories carrying a 768-float embedding
 *    (~7 KB records, batches of 100). Time from the first write until BOTH
 *    replicas have applied the last LSN (the children report the moment
 *    their projection applied it) -> entries/s, and MB/s of record bytes
 *    shipped per replica stream. Also CPU time per entry of each process
 *    (`process.cpuUsage`), which bounds the rate two cores can reach
 *    whatever the noise.
 * 2. Lag at 10K and 50K entries/s offered: open-loop single-entry
 *    `node.write` calls; write latency p50/p99 (from each write's due time)
 *    next to a bare write+fdatasync group-commit loop (bench/fsyncBaseline)
 *    at the same rate in the same run, preallocated and appending file; and
 *    the apply lag of every entry on both replicas (`Date.now() -
 *    record.timestampMs` when the replica applies it, 1-ms histogram).
 *    Longest event-loop stalls and replica GC pauses are printed to explain
 *    the tails. Each rate's window follows a 2 s warm-up at 2K/s on the same
 *    cluster (`BENCH_LAG_WARMUP_MS`, 0 for none; since 2026-12-08): JIT
 *    compilation and the fresh nodes' first spare-segment fills are start-up
 *    costs, as the bare loop fills its file before it is timed.
 * 3. Catch-up: close one replica, write 100,000 entries, restart it while
 *    writes go on at 10K/s; time until it has applied the primary's LSN as
 *    of its restart -> entries/s (from its first applied record; the
 *    reconnect wait before that is printed on its own).
 * 4. RSS of that replica during catch-up: max RSS (sampled every 100 ms)
 *    minus its idle RSS after recovery (forced GC), with the growth of its
 *    memory-store arenas (the data itself), V8 heap and ArrayBuffers.
 * 5. CPU of lag monitoring: the per-ACK / per-heartbeat-tick work of the
 *    primary (`ShipperSession.#sampleLag`: lag arithmetic, two gauge sets and
 *    a `lag.sample` event into a replica-health actor) timed in isolation
 *    (CPU time of 200,000 calls), times the ACK + tick rates observed in
 *    phases 1 and 2, as % of one core.
 *
 * Profiling: with `PERF_CTL_FIFO` set to the control FIFO of a
 * `perf record -D -1 --control fifo:...` session, the bench writes `enable`
 * when a throughput phase starts and `disable` when it ends, so a
 * system-wide `perf` sample (kernel and every thread included) covers the
 * timed window only (docs/benchmarks.md, "Where the CPU goes").
 *
 * Any phase during which retention took a whole-store snapshot on some node
 * is flagged (the snapshot file's mtime changed): those snapshots run
 * synchronously on the event loop and dominate the tails.
 *
 * Bench settings (everything else default): failover timers out of reach
 * (see NO_FAILOVER_TUNING); the primary's reconnect backoff
 * is [100, 250, 500, 1000] ms (default [100, 1000, 10000, 60000]) so a
 * replica restarted a few seconds after it went away is dialled again within
 * ~1 s; and `failuresToFail` is 1000, so the closed replica does not turn
 * Failed during its few seconds away: retention ignores Failed replicas, and
 * a primary whose log has rolled a segment would then catch it up by
 * snapshot instead of from the log (the bench flags it if that happens).
 */
import { promises as fsp, writeFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isNativeAccelerationEnabled } from 'msgpackr';
import { Registry } from 'prom-client';
import { createActor } from 'xstate';
import { NodeMetrics } from '../src/actors/metrics.js';
import { type ClusterConfig, type ReplicationNode, type Tuning, createNode, replicaHealthMachine } from '../src/index.js';
import { RecordKind } from '../src/types.js';
import { encodePayload, encodeRecord } from '../src/wire/index.js';
import {
  type LagReport, type ReplicaMemory, type ReplicaProcess,
  freePorts, histogramQuantile, killAllReplicas, makeTempDir, mergeHistograms, removeTempDir, startReplica, wallNow,
} from './cluster.js';
import { envTuning } from './envTuning.js';
import { FsyncBaseline } from './fsyncBaseline.js';
import { PACER_TICK_MS, openLoop, refusedCount } from './openLoop.js';
import { fmt, median, quantile } from './stats.js';

// `npm run bench -- replication` does not forward flags to the bench process: BENCH_QUICK=1 works there.
const quick = process.argv.includes('--quick') || process.env['BENCH_QUICK'] === '1';
/** `BENCH_PART=throughput`: only the small-entry throughput phase (RUNS runs), for profiling. */
const onlyThroughput = process.env['BENCH_PART'] === 'throughput';
/** `BENCH_PART=lag`: only the lag phase (10K and 50K/s, RUNS runs each). */
const onlyLag = process.env['BENCH_PART'] === 'lag';
const LAG_WARMUP_MS = Number(process.env['BENCH_LAG_WARMUP_MS'] ?? 2000);
const LAG_WARMUP_RATE = 2000;
const RUNS = quick ? 1 : 3;
const SPACES = 50;
const SMALL_ENTRIES = quick ? 200_000 : 600_000;
const SMALL_BATCH = 500;
const EMBED_ENTRIES = quick ? 5_000 : 20_000;
const EMBED_BATCH = 100;
const IN_FLIGHT = 8;
const LAG_RATES = [10_000, 50_000] as const;
const LAG_MS = quick ? 3_000 : 10_000;
const BASELINE_MS = quick ? 1_500 : 3_000;
const BASELINE_PREALLOC_BYTES = 128 << 20;
const CATCHUP_BACKLOG = 100_000;
const CATCHUP_RATE = 10_000;
const HEARTBEATS_PER_SEC_PER_REPLICA = 4; // default heartbeatIntervalMs 250
const LAG_SAMPLE_ITERATIONS = 200_000;
const BASE_TUNING: Partial<Tuning> = { backoffScheduleMs: [100, 250, 500, 1000], failuresToFail: 1000 };
/**
 * Failover timers pushed out of reach (10 min; the primary's lease 5 min) on
 * every node: this bench measures replication, and an overloaded primary
 * (50K/s offered, or a whole-store retention snapshot) can stall its event
 * loop past the 1.5 s failover timeout and be deposed mid-phase. Spread
 * untyped so the bench also builds against a tree without these knobs
 * (unknown tuning keys are ignored). Not `autoFailover: false`: see the
 * benchmark notes (its timer overflows).
 */
const NO_FAILOVER_TUNING = { failoverTimeoutMs: 600_000, leaseMs: 300_000 } as object;
/** With `envTuning()`: `BENCH_RECEIPT_ACK_DELAY_MS` sets every node's `receiptAckDelayMs`, for an A/B. */
const BENCH_TUNING: Partial<Tuning> = { ...BASE_TUNING, ...NO_FAILOVER_TUNING, ...envTuning() };

// ---- entries ----

const TEXT = 'The quick brown fox remembers where it buried the acorns last autumn, and the owl remembers the fox, the oak and the rain.';
function memory(i: number) {
  return { id: `mem-${i}`, text: TEXT, tags: ['autumn', 'fox'], confidence: 0.87, createdAt: 1732250000000 + i };
}
const EMBEDDINGS = Array.from({ length: 16 }, (_, k) => Array.from({ length: 768 }, (_, d) => Math.sin(k * 1000 + d) * 0.5));
function embedded(i: number) {
  return { id: `emb-${i}`, text: TEXT, tags: ['autumn'], confidence: 0.5, createdAt: 1732250000000 + i, embedding: EMBEDDINGS[i % EMBEDDINGS.length]! };
}
const recordBytesOf = (value: { id: string }) =>
  encodeRecord({ lsn: 1, seq: 1, epoch: 1, timestampMs: Date.now(), kind: RecordKind.Put, space: 'space-12', key: value.id }, encodePayload(value)).length;
const SMALL_RECORD_BYTES = recordBytesOf(memory(123_456));
const EMBED_RECORD_BYTES = recordBytesOf(embedded(123_456));

// ---- a cluster: primary here, two replica children ----

interface Cluster {
  primary: ReplicationNode;
  replicas: ReplicaProcess[];
  config: ClusterConfig;
  root: string;
  /** Closes one replica gracefully. */
  stopReplica(i: number): Promise<void>;
  /** Starts replica `i` again on its data dir and port. */
  restartReplica(i: number): Promise<ReplicaProcess>;
  close(): Promise<void>;
}

async function startCluster(label: string): Promise<Cluster> {
  const root = makeTempDir(label);
  const [pp, p1, p2] = await freePorts(3);
  const config: ClusterConfig = {
    clusterId: `bench-${label}`,
    nodes: [{ id: 'p', replication: `127.0.0.1:${pp}` }, { id: 'r1', replication: `127.0.0.1:${p1}` }, { id: 'r2', replication: `127.0.0.1:${p2}` }],
  };
  const replicaOptions = (id: string) => ({
    node: { id, dataDir: join(root, id), role: 'replica' as const, cluster: config, tuning: BENCH_TUNING },
  });
  const replicas = await Promise.all(['r1', 'r2'].map((id) => startReplica(replicaOptions(id))));
  let primary: ReplicationNode;
  try {
    primary = await createNode({ id: 'p', dataDir: join(root, 'p'), role: 'primary', cluster: config, tuning: BENCH_TUNING });
  } catch (err) {
    await Promise.all(replicas.map((r) => r.kill()));
    throw err;
  }
  const cluster: Cluster = {
    primary, replicas, config, root,
    async stopReplica(i) {
      await replicas[i]!.close();
    },
    async restartReplica(i) {
      const r = await startReplica(replicaOptions(`r${i + 1}`));
      replicas[i] = r;
      return r;
    },
    async close() {
      await primary.close().catch(() => undefined);
      await Promise.all(replicas.map((r) => r.close()));
      removeTempDir(root);
    },
  };
  // Warm up: both streams connected and applying.
  try {
    const start = primary.status().lsn;
    const waits = replicas.map((r) => r.waitApplied(start + 2000, 30_000));
    for (let k = 0; k < 4; k++) await primary.writeMany(`space-${k}`, Array.from({ length: 500 }, (_, j) => memory(-1 - k * 500 - j)));
    await Promise.all(waits);
  } catch (err) {
    await cluster.close().catch(() => killAllReplicas());
    throw err;
  }
  return cluster;
}

async function withCluster<T>(label: string, fn: (c: Cluster) => Promise<T>): Promise<T> {
  const c = await startCluster(label);
  try {
    return await fn(c);
  } finally {
    await c.close().catch(async (err: unknown) => {
      console.error(`closing cluster ${label}:`, err);
      await killAllReplicas();
    });
  }
}

/**
 * Modification time (ms) of a node's local snapshot file, 0 when none: a
 * change across a phase means retention took a whole-store snapshot then
 * (synchronous on the event loop; see the report).
 */
async function snapshotMtime(dataDir: string): Promise<number> {
  return fsp.stat(join(dataDir, 'snapshot.bin')).then((s) => s.mtimeMs, () => 0);
}

const NODE_IDS = ['p', 'r1', 'r2'] as const;
const snapshotMtimes = (c: Cluster) => Promise.all(NODE_IDS.map((id) => snapshotMtime(join(c.root, id))));

// ---- metrics of the primary ----

async function counterSum(metric: { get(): Promise<{ values: { value: number; labels: Record<string, unknown> }[] }> }, replica?: string): Promise<number> {
  const { values } = await metric.get();
  return values.filter((v) => replica === undefined || v.labels['replica'] === replica).reduce((sum, v) => sum + v.value, 0);
}

const acksOf = (node: ReplicationNode) => counterSum(node.metrics.acks);

/** `{ count, sumSeconds }` of the primary's group-commit durable-write histogram. */
async function fsyncTotals(node: ReplicationNode): Promise<{ count: number; sumSeconds: number }> {
  const { values } = await node.metrics.walFsyncSeconds.get();
  const of = (suffix: string) => values.find((v) => v.metricName?.endsWith(suffix))?.value ?? 0;
  return { count: of('_count'), sumSeconds: of('_sum') };
}
const bytesSentTo = (node: ReplicationNode, replica: string) => counterSum(node.metrics.bytesSent, replica);
const batchesTo = (node: ReplicationNode, replica: string) => counterSum(node.metrics.batchesSent, replica);

// ---- 1. throughput ----

interface Throughput {
  entriesPerSec: number;
  mbPerSec: number;
  primaryPerSec: number;
  bytesPerEntry: number;
  entriesPerBatch: number;
  acksPerSec: number;
  /** Primary group commits: mean durable-write time (ms) and entries per group. */
  groupWriteMs: number;
  entriesPerGroup: number;
  /** CPU time (user + system) per entry: the primary's process, and each replica's (mean of the two). */
  primaryCpuMicros: number;
  replicaCpuMicros: number;
  /** Nodes whose retention took a whole-store snapshot during the phase. */
  snapshotted: string[];
}

/** Turns a waiting `perf record --control` session on or off (see the header); a no-op without PERF_CTL_FIFO. */
function perfControl(command: 'enable' | 'disable'): void {
  const fifo = process.env['PERF_CTL_FIFO'];
  if (fifo !== undefined && fifo !== '') writeFileSync(fifo, `${command}\n`);
}

/** Writes `total` entries in `batch`-sized writeMany calls, IN_FLIGHT at a time; until both replicas applied them. */
async function throughput(c: Cluster, total: number, batch: number, make: (i: number) => unknown): Promise<Throughput> {
  const { primary, replicas } = c;
  const target = primary.status().lsn + total;
  const bytes0 = await bytesSentTo(primary, 'r1');
  const batches0 = await batchesTo(primary, 'r1');
  const acks0 = await acksOf(primary);
  const fsync0 = await fsyncTotals(primary);
  const cpu0 = await Promise.all(replicas.map((r) => r.cpuMicros()));
  const mtimes0 = await snapshotMtimes(c);
  const primaryCpu0 = process.cpuUsage();
  const applied = replicas.map((r) => r.waitApplied(target));
  for (const p of applied) p.catch(() => undefined); // awaited below; no unhandled rejection if a write fails first
  perfControl('enable');
  const t0 = wallNow();
  let next = 0;
  let calls = 0;
  const writer = async () => {
    while (next < total) {
      const from = next;
      const n = Math.min(batch, total - from);
      next += n;
      const entries = new Array<unknown>(n);
      for (let k = 0; k < n; k++) entries[k] = make(from + k);
      await primary.writeMany(`space-${calls++ % SPACES}`, entries);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, writer));
  const tWritten = wallNow();
  if (primary.status().lsn !== target) throw new Error(`primary LSN ${primary.status().lsn}, expected ${target}`);
  const tDone = Math.max(...(await Promise.all(applied)));
  perfControl('disable');
  const primaryCpu = process.cpuUsage(primaryCpu0);
  const cpu1 = await Promise.all(replicas.map((r) => r.cpuMicros()));
  const mtimes1 = await snapshotMtimes(c);
  const seconds = (tDone - t0) / 1000;
  const bytes = (await bytesSentTo(primary, 'r1')) - bytes0;
  const batches = (await batchesTo(primary, 'r1')) - batches0;
  const fsync1 = await fsyncTotals(primary);
  const groups = Math.max(1, fsync1.count - fsync0.count);
  return {
    snapshotted: NODE_IDS.filter((_, k) => mtimes1[k] !== mtimes0[k]),
    primaryCpuMicros: (primaryCpu.user + primaryCpu.system) / total,
    replicaCpuMicros: cpu1.reduce((sum, c, k) => sum + c - cpu0[k]!, 0) / cpu1.length / total,
    groupWriteMs: ((fsync1.sumSeconds - fsync0.sumSeconds) * 1000) / groups,
    entriesPerGroup: total / groups,
    entriesPerSec: total / seconds,
    mbPerSec: bytes / 1e6 / seconds,
    primaryPerSec: total / ((tWritten - t0) / 1000),
    bytesPerEntry: bytes / total,
    entriesPerBatch: total / Math.max(1, batches),
    acksPerSec: ((await acksOf(primary)) - acks0) / seconds,
  };
}

// ---- 2. lag ----

interface Latency { p50: number; p99: number }
const summarize = (sorted: ArrayLike<number>): Latency => ({ p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99) });

interface LagRun {
  write: Latency;
  /** Writes refused (Overloaded: the primary fell behind the offered rate); counted as infinite latency. */
  refused: number;
  bareAppend: Latency;
  barePrealloc: Latency;
  apply: Latency;
  applyMax: number;
  gcMaxMs: number;
  /** Longest event-loop stall (ms) on the primary, and on either replica. */
  primaryLoopMaxMs: number;
  replicaLoopMaxMs: number;
  /** Did retention take a local snapshot during the phase: on the primary, on either replica. */
  primarySnapshotted: boolean;
  replicaSnapshotted: boolean;
  acksPerSec: number;
  entriesPerBatch: number;
}

async function bareLatency(dir: string, rate: number, preallocate: boolean): Promise<Latency> {
  const path = join(dir, `bare-${rate}-${preallocate ? 'prealloc' : 'append'}.bin`);
  const base = await FsyncBaseline.open(path, preallocate ? BASELINE_PREALLOC_BYTES : 0);
  try {
    return summarize(await openLoop(rate, BASELINE_MS, () => base.append(new Uint8Array(SMALL_RECORD_BYTES).fill(7))));
  } finally {
    await base.close();
    await fsp.rm(path, { force: true });
  }
}

async function lagAt(c: Cluster, rate: number): Promise<LagRun> {
  const { primary, replicas } = c;
  let w = 0;
  if (LAG_WARMUP_MS > 0) await openLoop(LAG_WARMUP_RATE, LAG_WARMUP_MS, () => primary.write('warm-up', memory(w++)));
  await Promise.all(replicas.map((r) => r.request('lagReset')));
  const acks0 = await acksOf(primary);
  const batches0 = await batchesTo(primary, 'r1');
  const first = primary.status().lsn + 1;
  const mtimes0 = await snapshotMtimes(c);
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const t0 = wallNow();
  let i = 0;
  const writes = await openLoop(rate, LAG_MS, () => {
    const n = i++;
    return primary.write(`space-${n % SPACES}`, memory(n));
  });
  const target = primary.status().lsn;
  await Promise.all(replicas.map((r) => r.waitApplied(target)));
  const seconds = (wallNow() - t0) / 1000;
  loopDelay.disable();
  const mtimes1 = await snapshotMtimes(c);
  const reports = (await Promise.all(replicas.map((r) => r.request('lagReport')))) as LagReport[];
  const lag = mergeHistograms(reports.map((r) => r.lag));
  const expected = 2 * (target - first + 1);
  if (lag.count !== expected) console.warn(`  (apply-lag samples: ${lag.count}, expected ${expected})`);
  const acksPerSec = ((await acksOf(primary)) - acks0) / seconds;
  const entriesPerBatch = (target - first + 1) / Math.max(1, (await batchesTo(primary, 'r1')) - batches0);
  const bareAppend = await bareLatency(c.root, rate, false);
  const barePrealloc = await bareLatency(c.root, rate, true);
  return {
    write: summarize(writes), refused: refusedCount(writes), bareAppend, barePrealloc,
    apply: { p50: histogramQuantile(lag, 0.5), p99: histogramQuantile(lag, 0.99) },
    applyMax: histogramQuantile(lag, 1),
    gcMaxMs: Math.max(...reports.map((r) => r.gc.maxMs)),
    primaryLoopMaxMs: loopDelay.max / 1e6,
    replicaLoopMaxMs: Math.max(...reports.map((r) => r.eventLoopDelayMaxMs)),
    primarySnapshotted: mtimes1[0] !== mtimes0[0],
    replicaSnapshotted: mtimes1[1] !== mtimes0[1] || mtimes1[2] !== mtimes0[2],
    acksPerSec, entriesPerBatch,
  };
}

// ---- 3 + 4. catch-up ----

/** An open-loop writer at a fixed rate that runs until stopped; latencies from each op's due time. */
function pacedWriter(rate: number, op: () => Promise<unknown>): { stop(): Promise<Float64Array> } {
  const latencies: number[] = [];
  const start = performance.now();
  let running = true;
  let issued = 0;
  let pending = 0;
  let drained: (() => void) | undefined;
  const loop = (async () => {
    while (running) {
      const due = Math.floor(((performance.now() - start) * rate) / 1000) + 1;
      while (issued < due) {
        const dueAt = start + (issued * 1000) / rate;
        issued++;
        pending++;
        void op().then(() => {
          latencies.push(performance.now() - dueAt);
          if (--pending === 0) drained?.();
        });
      }
      await sleep(PACER_TICK_MS);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      if (pending > 0) await new Promise<void>((resolve) => (drained = resolve));
      return Float64Array.from(latencies).sort();
    },
  };
}

interface CatchUp {
  backlog: number;
  reconnectMs: number;
  catchUpMs: number;
  entriesPerSec: number;
  endToEndPerSec: number;
  rssGrowthMiB: number;
  arenaGrowthMiB: number;
  idleRssMiB: number;
  /** Growth of the largest sample over idle: V8 heap (total = reserved, used) and ArrayBuffers (Buffers, arenas). */
  heapTotalGrowthMiB: number;
  heapUsedGrowthMiB: number;
  arrayBuffersGrowthMiB: number;
  writeP99: number;
  /** Snapshots the primary sent to the restarted replica (0: caught up from the log). */
  snapshots: number;
  /** Whether the restarted replica's retention took a local whole-store snapshot while catching up. */
  replicaSnapshotted: boolean;
}

async function catchUp(c: Cluster): Promise<CatchUp> {
  const { primary } = c;
  let snapshots = 0;
  const off = primary.on('snapshot', (e) => {
    if (e.direction === 'sent') snapshots++;
  });
  await c.stopReplica(1);
  let next = 0;
  let calls = 0;
  const writer = async () => {
    while (next < CATCHUP_BACKLOG) {
      const from = next;
      const n = Math.min(SMALL_BATCH, CATCHUP_BACKLOG - from);
      next += n;
      await primary.writeMany(`space-${calls++ % SPACES}`, Array.from({ length: n }, (_, k) => memory(10_000_000 + from + k)));
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, writer));
  let i = 0;
  const load = pacedWriter(CATCHUP_RATE, () => {
    const n = i++;
    return primary.write(`space-${n % SPACES}`, memory(20_000_000 + n));
  });
  try {
    const replicaDir = join(c.root, 'r2');
    const replica = await c.restartReplica(1);
    const target = primary.status().lsn; // the primary's LSN as of the restart
    const mtime0 = await snapshotMtime(replicaDir);
    const ready = replica.ready!;
    const backlog = target - ready.appliedLsn;
    const firstAt = replica.waitApplied(ready.appliedLsn + 1);
    firstAt.catch(() => undefined); // awaited below
    const doneAt = await replica.waitApplied(target);
    const startedAt = await firstAt;
    const mem = (await replica.request('memory')) as ReplicaMemory;
    const writes = await load.stop();
    return {
      backlog,
      reconnectMs: startedAt - ready.atMs,
      catchUpMs: doneAt - startedAt,
      entriesPerSec: backlog / ((doneAt - startedAt) / 1000),
      endToEndPerSec: backlog / ((doneAt - ready.atMs) / 1000),
      rssGrowthMiB: (mem.max.rss - mem.idle.rss) / 2 ** 20,
      arenaGrowthMiB: (mem.arenaReservedBytes - mem.idleArenaReservedBytes) / 2 ** 20,
      idleRssMiB: mem.idle.rss / 2 ** 20,
      heapTotalGrowthMiB: (mem.max.heapTotal - mem.idle.heapTotal) / 2 ** 20,
      heapUsedGrowthMiB: (mem.max.heapUsed - mem.idle.heapUsed) / 2 ** 20,
      arrayBuffersGrowthMiB: (mem.max.arrayBuffers - mem.idle.arrayBuffers) / 2 ** 20,
      writeP99: quantile(writes, 0.99),
      snapshots,
      replicaSnapshotted: (await snapshotMtime(replicaDir)) !== mtime0,
    };
  } finally {
    off();
    await load.stop().catch(() => undefined);
  }
}

// ---- 5. lag-monitoring CPU ----

/**
 * Times the primary's per-ACK / per-tick lag work in isolation: the
 * arithmetic of `#sampleLag` (lag entries, the in-flight `find`), the two
 * gauge sets on a real `NodeMetrics`, and a `lag.sample` event into a
 * started replica-health actor (lags of 0-9 ms: Healthy, the common path).
 * Returns microseconds of CPU (user + system) per sample.
 */
function lagSampleMicros(): number {
  const metrics = new NodeMetrics(new Registry());
  const actor = createActor(replicaHealthMachine, { input: { nowMs: 0 } });
  actor.subscribe({ error: (err) => console.error('health actor:', err) });
  actor.start();
  const inflight = Array.from({ length: 8 }, (_, k) => ({ lastLsn: 1000 * (k + 1), bytes: 250_000, firstTimestampMs: k }));
  const labels = { replica: 'r1' };
  const sample = (n: number) => {
    const applied = (n % 8) * 1000;
    const lagEntries = Math.max(0, 8000 - applied);
    const ts = inflight.find((b) => b.lastLsn > applied)?.firstTimestampMs;
    const lagMs = lagEntries === 0 || ts === undefined ? 0 : n % 10;
    metrics.lagMilliseconds.set(labels, lagMs);
    metrics.lagEntries.set(labels, lagEntries);
    actor.send({ type: 'lag.sample', lagMs, lagEntries, nowMs: n });
  };
  for (let n = 0; n < 20_000; n++) sample(n);
  const cpu0 = process.cpuUsage();
  for (let n = 20_000; n < 20_000 + LAG_SAMPLE_ITERATIONS; n++) sample(n);
  const cpu = process.cpuUsage(cpu0);
  actor.stop();
  return (cpu.user + cpu.system) / LAG_SAMPLE_ITERATIONS;
}

// ---- main ----

const results = {
  small: [] as Throughput[],
  embed: [] as Throughput[],
  lag: new Map<number, LagRun[]>(LAG_RATES.map((r) => [r, []])),
  catchUp: [] as CatchUp[],
};

const mib = (n: number) => fmt(n, 1);
const runsOf = (xs: number[], digits = 0) => xs.map((x) => fmt(x, digits)).join(', ');
const bar = (ok: boolean) => (ok ? 'meets bar' : 'BELOW BAR');

console.log(`replication bench${quick ? ' (--quick)' : ''}: primary in this process (pid ${process.pid}), 2 replica child processes, 127.0.0.1; ${RUNS} run(s) per figure, median shown`);
console.log(`msgpackr native accelerator: ${isNativeAccelerationEnabled ? 'loaded' : 'NOT loaded'} (in this process; the children load the same install)`);
console.log(`record bytes: memory ${SMALL_RECORD_BYTES}, memory + 768-float embedding ${EMBED_RECORD_BYTES}; load average at start: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);

try {
  for (let run = 1; run <= RUNS; run++) {
    console.log(`\nrun ${run}/${RUNS} ...`);
    if (!onlyLag) await withCluster(`tput${run}`, async (c) => {
      const s = await throughput(c, SMALL_ENTRIES, SMALL_BATCH, memory);
      results.small.push(s);
      console.log(`  throughput, ${fmt(SMALL_ENTRIES)} memories: ${fmt(s.entriesPerSec)} entries/s applied on both, ${fmt(s.mbPerSec, 1)} MB/s per stream (primary durable ${fmt(s.primaryPerSec)}/s; ${fmt(s.entriesPerGroup)} entries per group commit, ${fmt(s.groupWriteMs, 1)} ms per durable write)${s.snapshotted.length > 0 ? `; retention snapshots on ${s.snapshotted.join(', ')}` : ''}`);
      console.log(`    CPU per entry: primary ${fmt(s.primaryCpuMicros, 2)} us, each replica ${fmt(s.replicaCpuMicros, 2)} us`);
    });
    if (onlyThroughput) continue;
    if (!onlyLag) await withCluster(`embed${run}`, async (c) => {
      const e = await throughput(c, EMBED_ENTRIES, EMBED_BATCH, embedded);
      results.embed.push(e);
      console.log(`  throughput, ${fmt(EMBED_ENTRIES)} embeddings: ${fmt(e.entriesPerSec)} entries/s, ${fmt(e.mbPerSec, 1)} MB/s per stream${e.snapshotted.length > 0 ? `; retention snapshots on ${e.snapshotted.join(', ')}` : ''}`);
    });
    await withCluster(`lag${run}`, async (c) => {
      for (const rate of LAG_RATES) {
        const l = await lagAt(c, rate);
        results.lag.get(rate)!.push(l);
        console.log(`  ${fmt(rate)}/s: write p99 ${fmt(l.write.p99, 2)} ms (bare prealloc ${fmt(l.barePrealloc.p99, 2)}, append ${fmt(l.bareAppend.p99, 2)}), apply lag p99 ${l.apply.p99} ms; stalls: primary ${fmt(l.primaryLoopMaxMs)} ms, replicas ${fmt(l.replicaLoopMaxMs)} ms` +
          `${l.refused > 0 ? `; ${fmt(l.refused)} writes REFUSED (Overloaded)` : ''}` +
          `${l.primarySnapshotted ? '; primary took a retention snapshot' : ''}${l.replicaSnapshotted ? '; a replica took a retention snapshot' : ''}`);
      }
      if (onlyLag) return;
      const u = await catchUp(c);
      results.catchUp.push(u);
      console.log(`  catch-up: ${fmt(u.backlog)} entries in ${fmt(u.catchUpMs)} ms after a ${fmt(u.reconnectMs)} ms reconnect wait; RSS +${mib(u.rssGrowthMiB)} MiB${u.snapshots > 0 ? ` (VIA SNAPSHOT x${u.snapshots}, not the log)` : ''}${u.replicaSnapshotted ? ' (replica took a retention snapshot meanwhile)' : ''}`);
    });
  }

  const s = results.small;
  const snaps = (xs: Throughput[]) => `runs with a retention snapshot (whole store, synchronous) on some node during the phase: ${xs.filter((x) => x.snapshotted.length > 0).length}/${xs.length}`;
  if (!onlyLag) {
    console.log(`\n== 1. throughput to 2 replicas (first write -> both replicas applied the last entry) ==`);
    const sRate = median(s.map((x) => x.entriesPerSec));
    console.log(`  memories (${SMALL_RECORD_BYTES} B records), writeMany x${SMALL_BATCH}, ${IN_FLIGHT} in flight, ${fmt(SMALL_ENTRIES)} entries:`);
    console.log(`    ${fmt(sRate)} entries/s   runs: ${runsOf(s.map((x) => x.entriesPerSec))}   [bar >= 200,000/s: ${bar(sRate >= 200_000)}]`);
    console.log(`    ${fmt(median(s.map((x) => x.mbPerSec)), 1)} MB/s of records per replica stream; primary alone durable at ${fmt(median(s.map((x) => x.primaryPerSec)))} entries/s; ${fmt(median(s.map((x) => x.entriesPerBatch)))} entries per BATCH`);
    console.log(`    primary group commits: ${fmt(median(s.map((x) => x.entriesPerGroup)))} entries per group, ${fmt(median(s.map((x) => x.groupWriteMs)), 2)} ms mean durable write per group (wall time, includes waiting for the event loop)`);
    console.log(`    ${snaps(s)}`);
    const cpuPrimary = median(s.map((x) => x.primaryCpuMicros));
    const cpuReplica = median(s.map((x) => x.replicaCpuMicros));
    console.log(`    CPU per entry (user + system): primary ${fmt(cpuPrimary, 2)} us, each replica ${fmt(cpuReplica, 2)} us -> ${fmt(cpuPrimary + 2 * cpuReplica, 2)} us for the cluster,` +
      ` i.e. at most ${fmt((cpus().length * 1e6) / (cpuPrimary + 2 * cpuReplica))} entries/s if all ${cpus().length} cores did nothing else`);
  }
  if (!onlyThroughput) {
    const e = results.embed;
    if (!onlyLag) {
      console.log(`  memories + 768-float embedding (${EMBED_RECORD_BYTES} B records), writeMany x${EMBED_BATCH}, ${fmt(EMBED_ENTRIES)} entries:`);
      console.log(`    ${fmt(median(e.map((x) => x.entriesPerSec)))} entries/s, ${fmt(median(e.map((x) => x.mbPerSec)), 1)} MB/s per replica stream   runs: ${runsOf(e.map((x) => x.entriesPerSec))}`);
      console.log(`    CPU per entry: primary ${fmt(median(e.map((x) => x.primaryCpuMicros)), 1)} us, each replica ${fmt(median(e.map((x) => x.replicaCpuMicros)), 1)} us; ${snaps(e)}`);
    }

    console.log(`\n== 2. lag, open loop, single-entry node.write (${LAG_MS / 1000} s per rate; bare baselines ${BASELINE_MS / 1000} s at the same rate) ==`);
    for (const rate of LAG_RATES) {
      const l = results.lag.get(rate)!;
      const m = (f: (x: LagRun) => number) => median(l.map(f));
      const ms = (f: (x: LagRun) => number) => fmt(m(f), 2);
      console.log(`  ${fmt(rate)} entries/s offered:`);
      console.log(`    write latency p50 / p99: ${ms((x) => x.write.p50)} / ${ms((x) => x.write.p99)} ms;` +
        ` bare fsync p50 / p99: preallocated ${ms((x) => x.barePrealloc.p50)} / ${ms((x) => x.barePrealloc.p99)} ms, appending ${ms((x) => x.bareAppend.p50)} / ${ms((x) => x.bareAppend.p99)} ms;` +
        ` write p99 = ${(m((x) => x.write.p99) / m((x) => x.barePrealloc.p99)).toFixed(2)}x preallocated, ${(m((x) => x.write.p99) / m((x) => x.bareAppend.p99)).toFixed(2)}x appending`);
      console.log(`    apply lag on the replicas (every entry, both replicas) p50 / p99 / max: ${m((x) => x.apply.p50)} / ${m((x) => x.apply.p99)} / ${m((x) => x.applyMax)} ms`);
      if (l.some((x) => x.refused > 0)) console.log(`    writes REFUSED (Overloaded, counted as infinite latency) per run: ${runsOf(l.map((x) => x.refused))}`);
      console.log(`    longest event-loop stall: primary ${ms((x) => x.primaryLoopMaxMs)} ms, replicas ${ms((x) => x.replicaLoopMaxMs)} ms; replica GC pause max ${ms((x) => x.gcMaxMs)} ms; ${fmt(m((x) => x.entriesPerBatch), 1)} entries per BATCH;` +
        ` retention snapshots in ${l.filter((x) => x.primarySnapshotted).length}/${l.length} runs on the primary, ${l.filter((x) => x.replicaSnapshotted).length}/${l.length} on a replica`);
    }
    const l10 = results.lag.get(10_000)!;
    const l50 = results.lag.get(50_000)!;
    const w10 = median(l10.map((x) => x.write.p99));
    const a10 = median(l10.map((x) => x.apply.p99));
    const a50 = median(l50.map((x) => x.apply.p99));
    console.log(`  bars: 10K/s write p99 <= 1.5x bare p99: ${bar(w10 <= 1.5 * median(l10.map((x) => x.barePrealloc.p99)))} vs prealloc, ${bar(w10 <= 1.5 * median(l10.map((x) => x.bareAppend.p99)))} vs append;` +
      ` 10K/s apply p99 < 15 ms: ${bar(a10 < 15)}; 50K/s apply p99 < 50 ms: ${bar(a50 < 50)}`);
    console.log(`  apply-lag p99 runs: 10K/s ${runsOf(l10.map((x) => x.apply.p99))}; 50K/s ${runsOf(l50.map((x) => x.apply.p99))}`);

    if (!onlyLag) {
      const u = results.catchUp;
      const uRate = median(u.map((x) => x.entriesPerSec));
      console.log(`\n== 3. catch-up (one replica closed, ${fmt(CATCHUP_BACKLOG)} entries written, restarted under ${fmt(CATCHUP_RATE)}/s open-loop writes) ==`);
      console.log(`  backlog at restart ${fmt(median(u.map((x) => x.backlog)))} entries; applied in ${fmt(median(u.map((x) => x.catchUpMs)))} ms from its first applied record`);
      console.log(`    ${fmt(uRate)} entries/s   runs: ${runsOf(u.map((x) => x.entriesPerSec))}   [bar >= 200,000/s: ${bar(uRate >= 200_000)}]`);
      console.log(`  reconnect wait (listening -> first record applied; primary backoff ${BASE_TUNING.backoffScheduleMs!.join('/')} ms): ${fmt(median(u.map((x) => x.reconnectMs)))} ms;` +
        ` end to end from listening: ${fmt(median(u.map((x) => x.endToEndPerSec)))} entries/s; primary write p99 meanwhile ${fmt(median(u.map((x) => x.writeP99)), 2)} ms`);

      const rss = median(u.map((x) => x.rssGrowthMiB));
      const buffers = median(u.map((x) => x.rssGrowthMiB - x.arenaGrowthMiB));
      console.log(`\n== 4. replica RSS during catch-up (max of 100 ms samples - idle RSS after recovery) ==`);
      console.log(`  +${mib(rss)} MiB (idle ${mib(median(u.map((x) => x.idleRssMiB)))} MiB), of which memory-store arena growth (the caught-up data itself) +${mib(median(u.map((x) => x.arenaGrowthMiB)))} MiB   runs: ${runsOf(u.map((x) => x.rssGrowthMiB), 1)}`);
      console.log(`  net of the data: +${mib(buffers)} MiB   runs: ${runsOf(u.map((x) => x.rssGrowthMiB - x.arenaGrowthMiB), 1)}   [bar: stream buffers < 100 MB: ${bar(buffers * 2 ** 20 < 100e6)}]`);
      console.log(`  the replica took a retention snapshot (whole store, synchronous) while catching up in ${u.filter((x) => x.replicaSnapshotted).length}/${u.length} runs;` +
        ` caught up by snapshot from the primary in ${u.filter((x) => x.snapshots > 0).length}/${u.length} runs`);
      console.log(`  peak growth over idle by kind: V8 heap reserved +${mib(median(u.map((x) => x.heapTotalGrowthMiB)))} MiB (used +${mib(median(u.map((x) => x.heapUsedGrowthMiB)))} MiB),` +
        ` ArrayBuffers (socket/log/frame buffers + arenas) +${mib(median(u.map((x) => x.arrayBuffersGrowthMiB)))} MiB`);

      const lagMicros = lagSampleMicros();
      const ticks = 2 * HEARTBEATS_PER_SEC_PER_REPLICA;
      const pct = (acksPerSec: number) => (lagMicros * (acksPerSec + ticks)) / 1e6 * 100;
      const tputAcks = median(s.map((x) => x.acksPerSec));
      console.log(`\n== 5. lag-monitoring CPU on the primary ==`);
      console.log(`  one lag sample (lag arithmetic + 2 gauge sets + lag.sample into a replica-health actor), timed in isolation over ${fmt(LAG_SAMPLE_ITERATIONS)} calls: ${fmt(lagMicros, 2)} us CPU`);
      console.log(`  the health machine gets one sample per heartbeat tick per replica (${ticks}/s): ${(((lagMicros * ticks) / 1e6) * 100).toFixed(4)}% of one core   [seed bar < 0.01%]`);
      console.log(`  each ACK also updates the lag gauges (no xstate event); upper bound counting the full sample cost per ACK, % of one core:`);
      console.log(`    throughput run: ${fmt(tputAcks)} ACKs/s -> ${pct(tputAcks).toFixed(3)}%`);
      for (const rate of LAG_RATES) {
        const acks = median(results.lag.get(rate)!.map((x) => x.acksPerSec));
        console.log(`    ${fmt(rate)}/s lag run: ${fmt(acks)} ACKs/s -> ${pct(acks).toFixed(3)}%`);
      }
      console.log(`    idle (heartbeat ticks + their ACKs, ${2 * ticks}/s): at most ${(((lagMicros * 2 * ticks) / 1e6) * 100).toFixed(4)}%`);
    }
  }
  console.log(`\nload average at end: ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
} finally {
  await killAllReplicas();
}
