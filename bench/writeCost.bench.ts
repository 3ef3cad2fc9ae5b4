/**
 * What one small write costs this machine, apart from replication:
 *
 * 1. CPU per call of a 3 KB file write four ways: synchronous or through the
 *    thread pool (`FileHandle.write`), into the page cache or through an
 *    O_DSYNC handle (durable). The difference between the pairs is the cost
 *    of a thread-pool round trip (two thread wake-ups).
 * 2. A lone primary (no replicas) taking 10,000 single-entry `local` writes/s
 *    for 5 s (open loop): write p50/p99, CPU per write, event-loop delay p99.
 *    The replication bench's 10K/s figures are the same load with two
 *    replicas on the same cores.
 *
 * Median of 3 rounds each. `npm run bench -- writeCost` (about 40 s).
 */
import { closeSync, constants, fdatasyncSync, openSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createNode } from '../src/index.js';
import { makeTempDir, removeTempDir } from './cluster.js';
import { openLoop } from './openLoop.js';
import { fmt, median, quantile } from './stats.js';

const CALLS = 5_000;
const WRITE_BYTES = 3_000;
const ROUNDS = 3;
const FILE_SLOTS = 1_000; // the writes cycle over a 3 MB region of the file

/** CPU (user + system, all threads) per call of `op`, over CALLS calls. */
async function cpuPerCall(op: (i: number) => unknown): Promise<number> {
  const start = process.cpuUsage();
  for (let i = 0; i < CALLS; i++) await op(i);
  const used = process.cpuUsage(start);
  return (used.user + used.system) / CALLS;
}

async function fileWrites(dir: string): Promise<void> {
  const bytes = Buffer.alloc(WRITE_BYTES, 1);
  const at = (i: number) => (i % FILE_SLOTS) * WRITE_BYTES;
  const ways: [string, (path: string, dsync: boolean) => Promise<number>][] = [
    ['fs.writeSync', async (path, dsync) => {
      const fd = openSync(path, constants.O_RDWR | constants.O_CREAT | (dsync ? constants.O_DSYNC : 0));
      try { return await cpuPerCall((i) => writeSync(fd, bytes, 0, WRITE_BYTES, at(i))); } finally { fdatasyncSync(fd); closeSync(fd); }
    }],
    ['FileHandle.write (thread pool)', async (path, dsync) => {
      const fh = await open(path, constants.O_RDWR | constants.O_CREAT | (dsync ? constants.O_DSYNC : 0));
      try { return await cpuPerCall((i) => fh.write(bytes, 0, WRITE_BYTES, at(i))); } finally { await fh.datasync(); await fh.close(); }
    }],
  ];
  console.log(`\n== 1. CPU per ${fmt(WRITE_BYTES)}-byte file write (${fmt(CALLS)} calls, median of ${ROUNDS} rounds) ==`);
  for (const dsync of [false, true]) {
    for (const [name, run] of ways) {
      const runs: number[] = [];
      for (let r = 0; r < ROUNDS; r++) runs.push(await run(join(dir, `w-${dsync}.bin`), dsync));
      console.log(`  ${name}${dsync ? ', O_DSYNC (durable)' : ', page cache'}: ${fmt(median(runs), 1)} us   runs: ${runs.map((x) => fmt(x, 1)).join(', ')}`);
    }
  }
}

interface LoneRun { p50: number; p99: number; cpu: number; loopP99: number }

async function lonePrimary(dir: string, round: number): Promise<LoneRun> {
  const node = await createNode({
    id: 'n1', dataDir: join(dir, `solo-${round}`), role: 'primary',
    cluster: { clusterId: `solo-${process.pid}-${round}`, nodes: [{ id: 'n1', replication: '127.0.0.1:0' }] },
  });
  try {
    let i = 0;
    await openLoop(2000, 1000, () => node.write('s', { id: `w${i++}`, text: 'warm-up' }, { ack: 'local' }));
    const loop = monitorEventLoopDelay({ resolution: 1 });
    loop.enable();
    const start = process.cpuUsage();
    const lat = await openLoop(10_000, 5000, () => node.write('s', { id: `q${i++}`, text: 'the quick brown fox jumps over the lazy dog' }, { ack: 'local' }));
    const used = process.cpuUsage(start);
    loop.disable();
    return { p50: quantile(lat, 0.5), p99: quantile(lat, 0.99), cpu: (used.user + used.system) / lat.length, loopP99: loop.percentile(99) / 1e6 };
  } finally {
    await node.close();
  }
}

const dir = makeTempDir('write-cost');
try {
  await fileWrites(dir);
  console.log(`\n== 2. a lone primary (no replicas), 10,000 single-entry 'local' writes/s for 5 s, ${ROUNDS} runs ==`);
  const runs: LoneRun[] = [];
  for (let r = 0; r < ROUNDS; r++) runs.push(await lonePrimary(dir, r));
  const line = (name: string, pick: (x: LoneRun) => number, unit: string) =>
    console.log(`  ${name}: ${fmt(median(runs.map(pick)), 2)} ${unit}   runs: ${runs.map((x) => fmt(pick(x), 2)).join(', ')}`);
  line('write p50', (x) => x.p50, 'ms');
  line('write p99', (x) => x.p99, 'ms');
  line('CPU per write', (x) => x.cpu, 'us');
  line('event-loop delay p99', (x) => x.loopP99, 'ms');
} finally {
  removeTempDir(dir);
}
