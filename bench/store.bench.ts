/**
 * Projection memory layout and GC (`npm run bench -- store`). A replica
 * applies 1,000,000 Put records (~200-byte msgpack memories, 50 spaces,
 * unique ids) in batches of 1,000, then 200,000 overwrites of random existing
 * ids. Two layouts in the same run, each in its own process (so one heap
 * never disturbs the other):
 *
 * - `MemoryStore`: encoded payloads packed into per-space arena chunks,
 *   typed-array hash tables, no decode on apply (src/store);
 * - naive: `Map<space, Map<id, decoded object>>` (decode on apply), the
 *   prototype layout DESIGN §1 measured at up to 310 ms GC pauses.
 *
 * Reported per layout: apply rate (replica side only: `readRecord` +
 * `apply`; building the batches from pre-encoded payloads is not timed),
 * heap after a forced GC (JS heap and ArrayBuffer bytes), and GC pauses seen
 * by a `PerformanceObserver` on 'gc' entries (all kinds: scavenges,
 * mark-compact, incremental steps) whose start falls inside the phase: max,
 * p99, count and total. Then snapshot and restore time of the 1M-memory
 * store. Each layout runs 3 times, each run in a fresh process; medians are
 * printed with all runs. The machine is shared (2 cores): GC pause figures
 * are wall-clock and include any descheduling.
 */
import { spawnSync } from 'node:child_process';
import { PerformanceObserver } from 'node:perf_hooks';
import { setImmediate as tick } from 'node:timers/promises';
import { isNativeAccelerationEnabled } from 'msgpackr';
import { type AppliedRecord, MemoryStore } from '../src/store/index.js';
import { RecordKind } from '../src/types.js';
import { decodePayload, encodePayload, encodeRecordInto, readRecord, viewOf } from '../src/wire/index.js';
import { fmt, median, quantile } from './stats.js';

const MEMORIES = 1_000_000;
const SPACES = 50;
const OVERWRITES = 200_000;
const BATCH = 1000;
const RUNS = 3;
const LAYOUTS = ['memoryStore', 'naive'] as const;
type Layout = (typeof LAYOUTS)[number];

interface GcFigures { maxMs: number; p99Ms: number; count: number; totalMs: number; majorMaxMs: number }
interface RunResult {
  applyPerSec: number;
  overwritePerSec: number;
  heapUsedMiB: number;
  arrayBuffersMiB: number;
  rssMiB: number;
  gcApply: GcFigures;
  gcOverwrite: GcFigures;
  snapshotMs?: number;
  restoreMs?: number;
  snapshotMiB?: number;
  arenaReservedMiB?: number;
  arenaLiveMiB?: number;
}

/** The naive layout: decoded objects in nested Maps. */
class NaiveStore {
  readonly spaces = new Map<string, Map<string, unknown>>();
  apply(r: AppliedRecord): void {
    if (r.kind !== RecordKind.Put) return;
    let m = this.spaces.get(r.space);
    if (m === undefined) this.spaces.set(r.space, (m = new Map()));
    m.set(r.key, decodePayload(r.payload));
  }
}

const TEXT = 'Met Ana at the harbour cafe; she mentioned the lighthouse restoration is behind schedule and volunteers are needed in May.';
function memory(i: number, version: number): object {
  return { text: `${TEXT} #${i}`, tags: ['people', 'harbour', 'volunteering'], confidence: 0.87, createdAt: 1732250000000 + i, v: version };
}
/**
 * 4,096 pre-encoded payloads per version, so building a batch allocates only
 * ids and record headers: the GC figures are the replica's, not the generator's.
 */
const VARIANTS = 4096;
const payloads = [0, 1].map((version) => Array.from({ length: VARIANTS }, (_, i) => encodePayload(memory(i, version)).slice()));

async function child(layout: Layout): Promise<RunResult> {
  const gcs: { start: number; ms: number; kind: number }[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcs.push({ start: e.startTime, ms: e.duration, kind: ((e as { detail?: { kind?: number } }).detail)?.kind ?? 0 });
  });
  observer.observe({ entryTypes: ['gc'] });
  const store = layout === 'memoryStore' ? new MemoryStore() : new NaiveStore();
  const buffer = new Uint8Array(BATCH * 512);
  const spaceNames = Array.from({ length: SPACES }, (_, i) => `space-${i}`);
  const view = viewOf(buffer);
  let lsn = 0;

  /** Applies `count` Puts of ids from `idOf`, in batches; returns replica-side records/s and the phase window. */
  async function phase(count: number, idOf: (n: number) => number, version: number): Promise<{ rate: number; start: number; end: number }> {
    const start = performance.now();
    let applyMs = 0;
    for (let done = 0; done < count; done += BATCH) {
      let end = 0;
      for (let j = 0; j < BATCH; j++) {
        const i = idOf(done + j);
        lsn++;
        end += encodeRecordInto(buffer, end, { lsn, seq: lsn, timestampMs: 1732250000000 + lsn, epoch: 1, kind: RecordKind.Put,
          space: spaceNames[i % SPACES]!, key: `mem-${i}` }, payloads[version]![i % VARIANTS]);
      }
      const t0 = performance.now();
      for (let at = 0; at < end; at += view.getUint32(at, true)) store.apply(readRecord(buffer, view, at));
      applyMs += performance.now() - t0;
      await tick(); // a replica applies one batch per event-loop turn
    }
    return { rate: count / (applyMs / 1000), start, end: performance.now() };
  }

  const applied = await phase(MEMORIES, (n) => n, 0);
  await tick();
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with --expose-gc (npm run bench -- store does)');
  gc();
  gc();
  const mem = process.memoryUsage();
  let seed = 0x2545f491;
  const random = () => ((seed ^= seed << 13), (seed ^= seed >>> 17), (seed ^= seed << 5), (seed >>> 0) % MEMORIES);
  const overwritten = await phase(OVERWRITES, () => random(), 1);
  await tick();
  observer.disconnect();
  const figures = (w: { start: number; end: number }): GcFigures => {
    const inside = gcs.filter((g) => g.start >= w.start && g.start <= w.end);
    const ms = inside.map((g) => g.ms).sort((a, b) => a - b);
    return {
      maxMs: ms.at(-1) ?? 0,
      p99Ms: quantile(ms, 0.99) || 0,
      count: ms.length,
      totalMs: ms.reduce((a, b) => a + b, 0),
      majorMaxMs: Math.max(0, ...inside.filter((g) => g.kind === 4).map((g) => g.ms)),
    };
  };
  const result: RunResult = {
    applyPerSec: applied.rate,
    overwritePerSec: overwritten.rate,
    heapUsedMiB: mem.heapUsed / 2 ** 20,
    arrayBuffersMiB: mem.arrayBuffers / 2 ** 20,
    rssMiB: mem.rss / 2 ** 20,
    gcApply: figures(applied),
    gcOverwrite: figures(overwritten),
  };
  if (store instanceof MemoryStore) {
    if (store.count('space-0') !== MEMORIES / SPACES) throw new Error(`space-0 holds ${store.count('space-0')} memories`);
    const stats = store.stats().arena;
    result.arenaReservedMiB = stats.reservedBytes / 2 ** 20;
    result.arenaLiveMiB = stats.liveBytes / 2 ** 20;
    let t = performance.now();
    const bytes = store.snapshot();
    result.snapshotMs = performance.now() - t;
    result.snapshotMiB = bytes.length / 2 ** 20;
    const copy = new MemoryStore();
    t = performance.now();
    copy.restore(bytes);
    result.restoreMs = performance.now() - t;
    if (copy.count('space-7') !== store.count('space-7')) throw new Error('restored store differs');
  }
  return result;
}

function parent(): void {
  console.log(`msgpackr native accelerator: ${isNativeAccelerationEnabled ? 'loaded' : 'NOT loaded (pure JS path)'}`);
  console.log(`${fmt(MEMORIES)} Puts (${fmt(encodePayload(memory(123456, 0)).length)}-byte payloads, ${SPACES} spaces) then ${fmt(OVERWRITES)} overwrites, batches of ${BATCH}; ${RUNS} runs per layout, each in a fresh process`);
  const runs: Record<Layout, RunResult[]> = { memoryStore: [], naive: [] };
  for (let run = 0; run < RUNS; run++) {
    for (const layout of LAYOUTS) {
      const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', new URL(import.meta.url).pathname], {
        env: { ...process.env, STORE_BENCH_LAYOUT: layout }, encoding: 'utf8', maxBuffer: 1 << 20,
      });
      if (r.status !== 0) throw new Error(`${layout} run ${run + 1} failed:\n${r.stderr}`);
      runs[layout].push(JSON.parse(r.stdout.trim().split('\n').at(-1)!) as RunResult);
    }
  }
  const row = (label: string, unit: string, digits: number, get: (r: RunResult) => number | undefined) => {
    const cells = LAYOUTS.map((l) => {
      const values = runs[l].map(get).filter((v): v is number => v !== undefined);
      if (values.length === 0) return 'n/a'.padStart(12) + ' '.repeat(30);
      return `${fmt(median(values), digits).padStart(12)} [${values.map((v) => fmt(v, digits)).join(', ')}]`.padEnd(42);
    });
    console.log(`${label.padEnd(34)} ${unit.padEnd(9)} ${cells.join(' ')}`);
  };
  console.log(`\n${'median [runs]'.padEnd(44)} ${'MemoryStore (arena)'.padEnd(42)} naive Map of decoded objects`);
  row('apply rate', 'rec/s', 0, (r) => r.applyPerSec);
  row('overwrite rate', 'rec/s', 0, (r) => r.overwritePerSec);
  row('heap used after apply (JS heap)', 'MiB', 0, (r) => r.heapUsedMiB);
  row('ArrayBuffer bytes after apply', 'MiB', 0, (r) => r.arrayBuffersMiB);
  row('RSS after apply', 'MiB', 0, (r) => r.rssMiB);
  row('GC pause max, apply phase', 'ms', 1, (r) => r.gcApply.maxMs);
  row('GC pause p99, apply phase', 'ms', 1, (r) => r.gcApply.p99Ms);
  row('major GC pause max, apply phase', 'ms', 1, (r) => r.gcApply.majorMaxMs);
  row('GC pauses / total, apply phase', 'count', 0, (r) => r.gcApply.count);
  row('GC total, apply phase', 'ms', 0, (r) => r.gcApply.totalMs);
  row('GC pause max, overwrite phase', 'ms', 1, (r) => r.gcOverwrite.maxMs);
  row('GC pause p99, overwrite phase', 'ms', 1, (r) => r.gcOverwrite.p99Ms);
  row('GC total, overwrite phase', 'ms', 0, (r) => r.gcOverwrite.totalMs);
  row('arena chunks reserved, end', 'MiB', 0, (r) => r.arenaReservedMiB);
  row('arena bytes live, end', 'MiB', 0, (r) => r.arenaLiveMiB);
  row('snapshot (1M memories)', 'ms', 0, (r) => r.snapshotMs);
  row('snapshot size', 'MiB', 0, (r) => r.snapshotMiB);
  row('restore into a fresh store', 'ms', 0, (r) => r.restoreMs);
}

const layout = process.env.STORE_BENCH_LAYOUT as Layout | undefined;
if (layout === undefined) parent();
else console.log(JSON.stringify(await child(layout)));
