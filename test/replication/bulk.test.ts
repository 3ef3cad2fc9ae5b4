/**
 * Three processes (primary + 2 replicas, real disk and TCP on loopback):
 * 100,000 entries over 50 spaces written on the primary arrive on every
 * replica; each replica's spaces and every space's count, lastSeq and digest
 * equal the primary's (issue 3, item 6).
 * Every node runs with `autoFailover: false`: this is about replication, so a
 * busy machine must not trigger an election mid-test (docs/testing.md).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type NodeProcess, makeCluster, summaries, waitCaughtUp, withScope, writeLoad } from '../helpers/nodeProcess.js';
import { waitFor } from '../helpers/waitFor.js';

const ENTRIES = 100_000;
const SPACES = 50;

test('primary + 2 replicas: 100,000 entries over 50 spaces, identical digests everywhere', () => withScope(async (scope) => {
  const cluster = await makeCluster(3);
  const tuning = { healthGraceMs: 100 };
  const [replicaA, replicaB] = await Promise.all(['n2', 'n3'].map(async (id) =>
    scope.start({ id, dataDir: await scope.tempDir(), cluster, role: 'replica', autoFailover: false, tuning })));
  const primary = await scope.start({ id: 'n1', dataDir: await scope.tempDir(), cluster, role: 'primary', autoFailover: false, tuning });
  const replicas = [replicaA!, replicaB!];

  const started = performance.now();
  const lastLsn = await writeLoad(primary, { count: ENTRIES, spaces: SPACES, batch: 500, inFlight: 4 });
  const written = performance.now();
  assert.is(lastLsn, ENTRIES, 'LSNs are gap-free from 1');
  const lsn = await waitCaughtUp(primary, replicas, 40_000);
  const caughtUp = performance.now();
  assert.is(lsn, ENTRIES);
  console.log(`  wrote ${ENTRIES} in ${(written - started).toFixed(0)} ms; replicas caught up ${(caughtUp - written).toFixed(0)} ms later`);

  const expected = await summaries(primary);
  assert.is(expected.length, SPACES);
  assert.is(expected.reduce((n, s) => n + s.count, 0), ENTRIES, 'every entry is a distinct memory');
  for (const replica of replicas) {
    assert.equal(await summaries(replica), expected, `${replica.id} has the primary's spaces, counts and digests`);
  }
  // Spot-check content, not only digests: a few memories read back from each replica.
  for (const replica of replicas) {
    for (const i of [0, 12_345, ENTRIES - 1]) {
      const got = await replica.read(`s${Math.floor(i / 500) % SPACES}`, `m${i}`) as { n?: number } | undefined;
      assert.is(got?.n, i, `${replica.id} reads m${i}`);
    }
  }
  // The primary's view agrees once the last ACKs are in: both replicas Healthy at the last LSN.
  await waitFor(async () => (await primary.status()).replicas.every((r) => r.status === 'Healthy' && r.appliedLsn === ENTRIES),
    { timeoutMs: 10_000, what: 'both replicas Healthy at the last LSN on the primary' });
  assert.equal((await primary.status()).replicas.map((r) => r.id).sort(), ['n2', 'n3']);
  assertNoUncaught([primary, ...replicas]);
}));

function assertNoUncaught(nodes: NodeProcess[]): void {
  for (const n of nodes) {
    const bad = n.events.filter((e) => e.event === 'error' && e.payload.code === 'Uncaught');
    assert.equal(bad, [], `${n.id} had no uncaught errors`);
  }
}

test.run();
