/**
 * A replica that is down (issue 3, item 6): SIGKILLed, it turns Failed on
 * the primary after 3 consecutive failures; restarted on the same data
 * directory it catches up and is Healthy again, with the primary's digests.
 * The primary's writes go on at a steady pace throughout, and their latency
 * stays low. The primary runs in this process (its write latency and events
 * are measured directly); the replicas are child processes.
 * Every node runs with `autoFailover: false`: this is about replication, so a
 * busy machine must not trigger an election mid-test (docs/testing.md).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type ReplicaStatus, createNode } from '../../src/index.js';
import { entry, makeCluster, summaries, waitCaughtUp, withScope, writeLoad } from '../helpers/nodeProcess.js';
import { waitFor } from '../helpers/waitFor.js';

const tuning = { healthGraceMs: 100, backoffScheduleMs: [50, 100, 200], connectTimeoutMs: 500 };
const PACE_MS = 10;
const BATCH = 20;

interface Transition { replica: string; from: ReplicaStatus; to: ReplicaStatus; why: string; failures: number }

test('a down replica: Failed after 3 failures, Healthy again after it returns and catches up; writes never stall', () => withScope(async (scope) => {
  const cluster = await makeCluster(3);
  const dirs = { n1: await scope.tempDir(), n2: await scope.tempDir(), n3: await scope.tempDir() };
  const [n2, first] = await Promise.all([
    scope.start({ id: 'n2', dataDir: dirs.n2, cluster, role: 'replica', autoFailover: false, tuning }),
    scope.start({ id: 'n3', dataDir: dirs.n3, cluster, role: 'replica', autoFailover: false, tuning }),
  ]);
  const primary = await createNode({ id: 'n1', dataDir: dirs.n1, cluster, role: 'primary', autoFailover: false, tuning });
  scope.defer(() => primary.close(), 'first');
  const n3Row = () => primary.status().replicas.find((r) => r.id === 'n3')!;
  const transitions: Transition[] = [];
  primary.on('replicaStatus', (e) => {
    if (e.replica === 'n3') transitions.push({ ...e, failures: n3Row().failures });
  });

  let next = 2000; // entries m0 .. m<next-1> written so far
  await writeLoad(primary, { count: next, spaces: 50, batch: BATCH, inFlight: 2 });
  await waitCaughtUp(primary, [n2, first]);
  assert.is(n3Row().failures, 0);

  // A steady writer: one batch of 20 every 10 ms, recording when each write completed and how long it took.
  const writes: { doneAt: number; ms: number }[] = [];
  let stopping = false;
  let writeError: unknown;
  const writing = (n: number) => {
    if (writeError !== undefined) throw writeError;
    return writes.length >= n;
  };
  const writer = (async () => {
    for (let due = performance.now(); !stopping; due += PACE_MS) {
      const started = performance.now();
      const entries = Array.from({ length: BATCH }, (_, k) => entry(next + k));
      await primary.writeMany(`s${(next / BATCH) % 50}`, entries);
      next += BATCH;
      writes.push({ doneAt: performance.now(), ms: performance.now() - started });
      const wait = due + PACE_MS - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait)); // pacing the load, not synchronising
    }
  })().catch((err: unknown) => {
    writeError = err;
  });
  try {
    await waitFor(() => writing(20), { what: 'the writer is running' });
    const downAt = performance.now();
    await first.kill('SIGKILL');
    await waitFor(() => n3Row().status === 'Failed', { timeoutMs: 10_000, what: 'n3 Failed on the primary' });
    const toFailed = transitions.find((t) => t.to === 'Failed');
    assert.ok(toFailed !== undefined, 'a replicaStatus event reported the move to Failed');
    assert.is(toFailed.failures, 3, `Failed on the 3rd consecutive failure (${toFailed.why})`);
    assert.match(n3Row().lastError ?? '', /connect|closed/);

    const writesWhileFailed = writes.length;
    await waitFor(() => writing(writesWhileFailed + 20), { timeoutMs: 5000, what: 'writes go on while n3 is Failed' });
    const n3 = await scope.start({ id: 'n3', dataDir: dirs.n3, cluster, role: 'replica', autoFailover: false, tuning });
    await waitFor(() => n3Row().status === 'Healthy', { timeoutMs: 15_000, what: 'n3 Healthy again' });
    const upAt = performance.now();
    stopping = true;
    await writer;
    assert.is(writeError, undefined, 'no write failed');

    console.log(`  n3: ${transitions.map((t) => `${t.from}->${t.to} (${t.why})`).join(', ')}`);
    const afterFailed = transitions.slice(transitions.indexOf(toFailed) + 1);
    assert.ok(afterFailed.length > 0 && afterFailed.at(-1)!.to === 'Healthy', `back to Healthy: ${JSON.stringify(transitions.map((t) => `${t.from}->${t.to}`))}`);
    assert.ok(afterFailed.every((t) => t.to !== 'Failed'), 'no second Failed once it returned');

    // Writes during the outage (kill .. Healthy again): they kept completing, and fast.
    const during = writes.filter((w) => w.doneAt >= downAt && w.doneAt <= upAt);
    const times = [downAt, ...during.map((w) => w.doneAt), upAt];
    const longestGapMs = Math.max(...times.slice(1).map((t, i) => t - times[i]!));
    const sorted = during.map((w) => w.ms).sort((a, b) => a - b);
    const p99 = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] ?? Infinity;
    console.log(`  outage ${(upAt - downAt).toFixed(0)} ms: ${during.length} writes, p99 ${p99.toFixed(1)} ms, longest gap ${longestGapMs.toFixed(0)} ms`);
    assert.ok(during.length >= (upAt - downAt) / PACE_MS / 4, `${during.length} writes in ${(upAt - downAt).toFixed(0)} ms is at least a quarter of the pace`);
    assert.ok(p99 < 1000, `write latency p99 ${p99.toFixed(1)} ms < 1 s`);
    assert.ok(longestGapMs < 1000, `writes never stopped for 1 s (longest gap ${longestGapMs.toFixed(0)} ms)`);

    await waitCaughtUp(primary, [n2, n3]);
    const expected = await summaries(primary);
    assert.is(expected.reduce((n, s) => n + s.count, 0), next, 'every write is on the primary');
    assert.equal(await summaries(n2), expected, 'n2 equals the primary');
    assert.equal(await summaries(n3), expected, 'the returned n3 equals the primary');
  } finally {
    stopping = true;
    await writer;
  }
}));

test.run();
