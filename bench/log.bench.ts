/**
 * Log benchmark (`npm run bench -- log`): ~200-byte entries through the real
 * log with real fdatasync.
 * - unthrottled throughput with many concurrent writers;
 * - write latency (append -> durable) at 1K, 10K and 50K entries/s offered,
 *   next to a bare write + fdatasync group-commit loop at the same rate, in
 *   the same run (appending file, and preallocated file).
 * Each figure: median of RUNS runs. `--quick` shortens everything;
 * `BENCH_PART=latency` runs only the latency part.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isNativeAccelerationEnabled } from 'msgpackr';
import { nodeFileSystem } from '../src/adapters/nodeFileSystem.js';
import { openLog } from '../src/log/index.js';
import { RecordKind } from '../src/types.js';
import { encodePayload } from '../src/wire/index.js';
import { FsyncBaseline } from './fsyncBaseline.js';
import { openLoop } from './openLoop.js';
import { fmt, median, quantile } from './stats.js';

const quick = process.argv.includes('--quick');
const RUNS = quick ? 1 : 3;
const THROUGHPUT_MS = quick ? 1000 : 3000;
const LATENCY_MS = quick ? 1500 : 5000;
const WRITERS = 2000;
const root = mkdtempSync(join(tmpdir(), 'engram-bench-log-'));
process.on('exit', () => rmSync(root, { recursive: true, force: true }));

const text = 'The quick brown fox remembers where it buried the acorns last autumn, and the owl remembers the fox.';
function memory(i: number) {
  return { id: `mem-${i}`, text, tags: ['autumn', 'fox'], confidence: 0.87, createdAt: 1732250000000 };
}
const sampleBytes = encodePayload(memory(123456)).length + 40 + 5 + 10;
let dirCount = 0;
const freshDir = () => join(root, `run-${dirCount++}`);

const preEncoded = encodePayload(memory(123456)).slice();

/** Entries/s with WRITERS concurrent writers, each appending one entry and awaiting its durability. */
async function throughput(encodeEach: boolean, preallocate = true): Promise<number> {
  const log = await openLog({ dir: freshDir(), fs: nodeFileSystem, preallocate });
  // Let the first spare segment finish zero-filling before the clock starts.
  await new Promise((r) => setTimeout(r, preallocate ? 1500 : 0));
  log.epoch = 1;
  let written = 0;
  let running = true;
  const seq = new Map<string, number>();
  const started = performance.now();
  const writer = async (w: number) => {
    const space = `space-${w % 50}`;
    while (running) {
      const s = (seq.get(space) ?? 0) + 1;
      seq.set(space, s);
      const i = written++;
      log.append(space, `mem-${i}`, RecordKind.Put, s, encodeEach ? encodePayload(memory(i)) : preEncoded, Date.now());
      await log.sync();
    }
  };
  const writers = Array.from({ length: WRITERS }, (_, w) => writer(w));
  await new Promise((r) => setTimeout(r, THROUGHPUT_MS));
  running = false;
  await Promise.all(writers);
  const elapsed = (performance.now() - started) / 1000;
  const rate = log.flushedLsn / elapsed;
  await log.close();
  return rate;
}

async function baselineThroughput(preallocate: boolean): Promise<number> {
  const base = await FsyncBaseline.open(join(freshDir() + '.bin'), preallocate ? 512 << 20 : 0);
  const payload = new Uint8Array(sampleBytes).fill(7);
  let written = 0;
  let running = true;
  const started = performance.now();
  const writer = async () => {
    while (running) {
      await base.append(payload);
      written++;
    }
  };
  const writers = Array.from({ length: WRITERS }, writer);
  await new Promise((r) => setTimeout(r, THROUGHPUT_MS));
  running = false;
  await Promise.all(writers);
  const rate = written / ((performance.now() - started) / 1000);
  await base.close();
  return rate;
}

interface Latency { p50: number; p99: number; p999: number }
const summarize = (l: Float64Array): Latency => ({ p50: quantile(l, 0.5), p99: quantile(l, 0.99), p999: quantile(l, 0.999) });

async function logLatency(rate: number): Promise<Latency> {
  const log = await openLog({ dir: freshDir(), fs: nodeFileSystem });
  log.epoch = 1;
  // The bare preallocated loop zero-fills its file before it is timed; so
  // does the log, for its first spare segment (a roll later refills one in
  // the background: one ~1 s zero-fill per 64 MiB, every ~27 s at 10K/s).
  await log.spareReady();
  let i = 0;
  const lat = await openLoop(rate, LATENCY_MS, () => {
    const n = i++;
    log.append(`space-${n % 50}`, `mem-${n}`, RecordKind.Put, n + 1, encodePayload(memory(n)), Date.now());
    return log.sync();
  });
  await log.close();
  return summarize(lat);
}

async function baselineLatency(rate: number, preallocate: boolean): Promise<Latency> {
  const base = await FsyncBaseline.open(freshDir() + '.bin', preallocate ? 128 << 20 : 0);
  const lat = await openLoop(rate, LATENCY_MS, () => base.append(new Uint8Array(sampleBytes).fill(7)));
  await base.close();
  return summarize(lat);
}

const medianOf = (runs: Latency[], k: keyof Latency) => median(runs.map((r) => r[k]));

console.log(`msgpackr native accelerator: ${isNativeAccelerationEnabled ? 'loaded' : 'NOT loaded'}; entry ~${sampleBytes} bytes on disk; ${RUNS} run(s) per figure`);

if (process.env['BENCH_PART'] !== 'latency') {
  const ours: number[] = [];
  const oursNoPrealloc: number[] = [];
  const oursEncoding: number[] = [];
  const bareAppend: number[] = [];
  const barePrealloc: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    ours.push(await throughput(false));
    oursNoPrealloc.push(await throughput(false, false));
    oursEncoding.push(await throughput(true));
    bareAppend.push(await baselineThroughput(false));
    barePrealloc.push(await baselineThroughput(true));
  }
  console.log(`\nunthrottled, ${WRITERS} concurrent writers, append+sync each:`);
  console.log(`  log.append (record encode + group commit, payload pre-encoded): ${fmt(median(ours))} entries/s   runs: ${ours.map((x) => fmt(x)).join(', ')}`);
  console.log(`  same, preallocate: false (no spare zero-fill):            ${fmt(median(oursNoPrealloc))} entries/s   runs: ${oursNoPrealloc.map((x) => fmt(x)).join(', ')}`);
  console.log(`  same + msgpack encode of each entry in the writer:           ${fmt(median(oursEncoding))} entries/s   runs: ${oursEncoding.map((x) => fmt(x)).join(', ')}`);
  console.log(`  bare write+fdatasync (append file):  ${fmt(median(bareAppend))} entries/s   runs: ${bareAppend.map((x) => fmt(x)).join(', ')}`);
  console.log(`  bare write+fdatasync (prealloc):     ${fmt(median(barePrealloc))} entries/s   runs: ${barePrealloc.map((x) => fmt(x)).join(', ')}`);
}

console.log('\nwrite latency, append -> durable, ms (median of runs):');
console.log('  offered/s   log p50 / p99 / p999          bare(append) p50 / p99 / p999   bare(prealloc) p50 / p99 / p999   log p99 / bare(append) p99');
for (const rate of [1000, 10_000, 50_000]) {
  const l: Latency[] = [];
  const b: Latency[] = [];
  const bp: Latency[] = [];
  for (let r = 0; r < RUNS; r++) {
    l.push(await logLatency(rate));
    b.push(await baselineLatency(rate, false));
    bp.push(await baselineLatency(rate, true));
  }
  const row = (x: Latency[]) => `${fmt(medianOf(x, 'p50'), 2)} / ${fmt(medianOf(x, 'p99'), 2)} / ${fmt(medianOf(x, 'p999'), 2)}`;
  console.log(`  ${String(rate).padStart(7)}     ${row(l).padEnd(30)}${row(b).padEnd(32)}${row(bp).padEnd(34)}${(medianOf(l, 'p99') / medianOf(b, 'p99')).toFixed(2)}x`);
}
