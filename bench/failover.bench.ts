/**
 * Failover benchmark: `npm run bench -- failover` (quick:
 * `BENCH_QUICK=1 npm run bench -- failover`, 3 runs per profile, 2 s of load).
 *
 * 1. Failover time: three nodes as child processes (test/failover/
 *    failoverChild.ts via processHarness.ts) on 127.0.0.1, real disks,
 *    autoFailover on. Each run: the cluster has converged, the primary is
 *    SIGKILLed, and the client tries a single-entry 'local' write on every
 *    surviving node every 10 ms; the time from the SIGKILL to the first write
 *    a new primary acknowledges is one sample. The killed node is then
 *    restarted on its data dir and rejoins before the next run (the cluster
 *    is reused). Median of 10 runs for (a) the default tuning (bar < 2 s) and
 *    (b) a fast profile: heartbeatIntervalMs 100, failoverTimeoutMs 500,
 *    leaseMs 300, electionRoundMs 300 (bar < 1 s).
 * 2. Write latency with ack 'quorum' at 10,000 entries/s offered, open loop
 *    (bench/openLoop.ts) for 5 s: primary in this process (createNode), two
 *    replicas as child processes, default tuning. p50/p99/max from each
 *    write's due time (bar: p99 < 10 ms); then the same with ack 'local' as
 *    a reference (how much of the tail is the disk and event loop). Also the
 *    CPU each process spent per quorum write (`/proc/<pid>/stat` for the
 *    replicas); `BENCH_RECEIPT_ACK_DELAY_MS` sets the replicas'
 *    `receiptAckDelayMs` for an A/B.
 *
 * 3. Planned switchover: the same three child processes, a client writing
 *    single entries with ack 'quorum' (4 at a time, retrying refused writes
 *    against the new primary), and 10 handovers around the cluster
 *    (n1 -> n2 -> n3 -> n1 ...; test/failover/handoverRounds.ts). Per
 *    handover: how long `handover()` took, and the longest gap between two
 *    acknowledged writes around it (the pause the client saw). Medians and
 *    maxima; then every acknowledged write is checked on every node.
 *
 * `BENCH_PART=failover`, `BENCH_PART=quorum` or `BENCH_PART=handover` runs only that part.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Tuning, createNode } from '../src/index.js';
import { LoadWriter, type ProcCluster, missingIds, withProcCluster } from '../test/failover/processHarness.js';
import { handoverRounds } from '../test/failover/handoverRounds.js';
import { waitFor } from '../test/helpers/waitFor.js';
import { envTuning } from './envTuning.js';
import { openLoop } from './openLoop.js';
import { procCpuMicros } from './procCpu.js';
import { fmt, median, quantile } from './stats.js';

const QUICK = process.env['BENCH_QUICK'] === '1' || process.argv.includes('--quick');
const RUNS = QUICK ? 3 : 10;
const PART = process.env['BENCH_PART'];
const FAST: Partial<Tuning> = { heartbeatIntervalMs: 100, failoverTimeoutMs: 500, leaseMs: 300, electionRoundMs: 300 };

async function failoverOnce(c: ProcCluster, run: number): Promise<number> {
  const old = await c.primary(30_000);
  // writable with a quorum (a fresh or busy primary may briefly be outside its lease)
  await waitFor(() => old.writeMany('s', [{ id: `before-${run}` }], 'quorum').then(() => true, () => false), { timeoutMs: 30_000, intervalMs: 50, what: 'a writable primary' });
  // every node has joined the epoch
  await c.converge('s', 30_000);
  const others = c.liveNodes().filter((n) => n !== old);
  const killedAt = performance.now();
  old.signal('SIGKILL');
  let acceptedAt = 0;
  let attempt = 0;
  while (acceptedAt === 0) {
    const tick = performance.now();
    const tries = others.map((n) => n.writeMany('s', [{ id: `probe-${run}-${attempt++}` }], 'local').then(() => {
      if (acceptedAt === 0) acceptedAt = performance.now();
    }, () => undefined));
    await Promise.race([Promise.all(tries), new Promise((r) => setTimeout(r, 200))]);
    if (performance.now() - killedAt > 30_000) {
      const sts = await Promise.all(others.map((n) => n.status().catch((e: unknown) => String(e))));
      throw new Error(`run ${run}: no primary within 30 s after killing ${old.id}: ${JSON.stringify(sts)}; events ${JSON.stringify(others.map((n) => [n.id, n.events.slice(-8)]))}`);
    }
    const wait = 10 - (performance.now() - tick);
    if (acceptedAt === 0 && wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  await old.exited;
  await c.start(old.id);
  return acceptedAt - killedAt;
}

async function failoverProfile(name: string, tuning: Partial<Tuning> | undefined, barMs: number): Promise<void> {
  const samples: number[] = [];
  await withProcCluster(tuning === undefined ? {} : { tuning }, async (c) => {
    for (let run = 0; run < RUNS; run++) samples.push(await failoverOnce(c, run));
  });
  const med = median(samples);
  console.log(`failover ${name}: runs ${samples.map((s) => fmt(s)).join(', ')} ms`);
  console.log(`failover ${name}: median ${fmt(med)} ms, max ${fmt(Math.max(...samples))} ms (bar < ${barMs} ms: ${med < barMs ? 'PASS' : 'FAIL'})`);
}

async function quorumLatency(): Promise<void> {
  const durationMs = QUICK ? 2000 : 5000;
  const dir = mkdtempSync(join(tmpdir(), 'engram-fo-bench-'));
  const tuning = envTuning(); // BENCH_RECEIPT_ACK_DELAY_MS, for an A/B
  await withProcCluster({ initial: ['n2', 'n3'], tuning }, async (c) => {
    const primary = await createNode({ id: 'n1', dataDir: dir, cluster: c.config, role: 'primary' });
    try {
      await primary.writeMany('s', [{ id: 'warm' }], { ack: 'all' });
      let i = 0;
      await openLoop(2000, 1000, () => primary.write('s', { id: `w${i++}`, text: 'warm-up' }, { ack: 'quorum' }));
      const replicaPids = ['n2', 'n3'].map((id) => c.node(id).pid);
      const cpu0 = process.cpuUsage();
      const replicaCpu0 = replicaPids.map(procCpuMicros);
      const lat = await openLoop(10_000, durationMs, () => primary.write('s', { id: `q${i++}`, text: 'the quick brown fox jumps over the lazy dog' }, { ack: 'quorum' }));
      const cpu = process.cpuUsage(cpu0);
      const replicaCpu = replicaPids.map((pid, k) => (procCpuMicros(pid) - replicaCpu0[k]!) / lat.length);
      console.log(`CPU per quorum write: primary ${fmt((cpu.user + cpu.system) / lat.length, 1)} us, replicas ${replicaCpu.map((x) => fmt(x, 1)).join(' / ')} us` +
        `${tuning.receiptAckDelayMs === undefined ? '' : ` (replicas' receiptAckDelayMs ${tuning.receiptAckDelayMs})`}`);
      const local = await openLoop(10_000, durationMs, () => primary.write('s', { id: `l${i++}`, text: 'the quick brown fox jumps over the lazy dog' }, { ack: 'local' }));
      console.log(`(reference) ack local @ 10,000/s for ${durationMs / 1000} s, same cluster, after the quorum phase: p50 ${fmt(quantile(local, 0.5), 2)} ms, p99 ${fmt(quantile(local, 0.99), 2)} ms`);
      const p99 = quantile(lat, 0.99);
      console.log(`ack quorum @ 10,000/s for ${durationMs / 1000} s: ${fmt(lat.length)} writes, p50 ${fmt(quantile(lat, 0.5), 2)} ms, p99 ${fmt(p99, 2)} ms, max ${fmt(lat[lat.length - 1] ?? NaN, 2)} ms (bar p99 < 10 ms: ${p99 < 10 ? 'PASS' : 'FAIL'})`);
    } finally {
      await primary.close();
    }
  });
  rmSync(dir, { recursive: true, force: true });
}

async function handoverPauses(): Promise<void> {
  await withProcCluster({ ack: 'quorum' }, async (c) => {
    const writer = new LoadWriter(c, 's', 'h', 'quorum');
    writer.start(4);
    const samples = await handoverRounds(c, writer, RUNS).finally(() => writer.stop());
    await c.converge('s', 30_000);
    const missing = (await Promise.all(c.liveNodes().map((n) => missingIds(n, 's', writer.acked.keys())))).flat().length;
    const took = samples.map((s) => s.handoverMs);
    const pauses = samples.map((s) => s.pauseMs);
    console.log(`handover: runs ${samples.map((s) => `${s.from}->${s.to} ${fmt(s.handoverMs)}/${fmt(s.pauseMs)}`).join(', ')} (ms: handover / write pause)`);
    console.log(`handover: median ${fmt(median(took))} ms (max ${fmt(Math.max(...took))}); write pause median ${fmt(median(pauses))} ms (max ${fmt(Math.max(...pauses))}); ${fmt(writer.acked.size)} quorum writes acknowledged, ${missing} missing on any node after convergence`);
  });
}

console.log(`failover bench${QUICK ? ' (quick)' : ''}: ${RUNS} runs per profile`);
if (PART === undefined || PART === 'failover') {
  await failoverProfile('default profile', undefined, 2000);
  await failoverProfile('fast profile', FAST, 1000);
}
if (PART === undefined || PART === 'quorum') await quorumLatency();
if (PART === undefined || PART === 'handover') await handoverPauses();
await waitFor(() => true);
process.exit(0);
