/**
 * Catch-up after a crash (issue 3, item 6): three processes (primary + 2
 * replicas); one replica is SIGKILLed while 20,000 entries are written.
 * Restarted on the same data directory it still holds everything it had
 * acknowledged as flushed, then catches up from the primary's log to the
 * primary's digests.
 * Every node runs with `autoFailover: false`: this is about replication, so a
 * busy machine must not trigger an election mid-test (docs/testing.md).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type NodeProcess, freePorts, makeCluster, summaries, waitCaughtUp, withScope, writeLoad } from '../helpers/nodeProcess.js';

const tuning = { healthGraceMs: 100, backoffScheduleMs: [50, 100, 200], connectTimeoutMs: 1000, batchMaxEntries: 500, windowBatches: 8 };

test('a SIGKILLed replica process keeps what it acknowledged and catches up from the log', () => withScope(async (scope) => {
  const cluster = await makeCluster(3);
  const dirs = { n1: await scope.tempDir(), n2: await scope.tempDir(), n3: await scope.tempDir() };
  const [n2, first] = await Promise.all([
    scope.start({ id: 'n2', dataDir: dirs.n2, cluster, role: 'replica', autoFailover: false, tuning }),
    scope.start({ id: 'n3', dataDir: dirs.n3, cluster, role: 'replica', autoFailover: false, tuning }),
  ]);
  const primary = await scope.start({ id: 'n1', dataDir: dirs.n1, cluster, role: 'primary', autoFailover: false, tuning });

  await writeLoad(primary, { count: 5000, spaces: 50, batch: 250, inFlight: 2 });
  await waitCaughtUp(primary, [n2, first]);

  // SIGKILL n3 a quarter of the way through the 20,000 writes, mid-stream; the writes go on.
  let written = 0;
  let killed: ReturnType<NodeProcess['kill']> | undefined;
  const lastLsn = await writeLoad(primary, {
    from: 5000, count: 20_000, spaces: 50, batch: 250, inFlight: 2,
    onWrite: (_ms, r) => {
      written += r.count;
      if (written >= 5000 && killed === undefined) killed = first.kill('SIGKILL');
    },
  });
  assert.ok(killed !== undefined, 'n3 was killed during the writes');
  assert.equal(await killed, { code: null, signal: 'SIGKILL' });
  assert.is(lastLsn, 25_000);
  // Every ACK the primary has from n3 was sent before the kill: what it says is flushed must survive.
  const acked = (await primary.status()).replicas.find((r) => r.id === 'n3')!;
  assert.ok(acked.flushedLsn >= 5000 && acked.flushedLsn < lastLsn, `n3 acknowledged ${acked.flushedLsn} before it died`);

  // Restart n3 where the primary cannot reach it yet, to read what it recovered from its own disk.
  const [isolatedPort] = await freePorts(1);
  const isolatedCluster = { ...cluster, nodes: cluster.nodes.map((n) => (n.id === 'n3' ? { ...n, replication: `127.0.0.1:${isolatedPort}` } : n)) };
  const isolated = await scope.start({ id: 'n3', dataDir: dirs.n3, cluster: isolatedCluster, role: 'replica', autoFailover: false, tuning });
  const recovered = await isolated.status();
  assert.ok(recovered.lsn >= acked.flushedLsn, `n3 recovered its log up to ${recovered.lsn}, at least the acknowledged ${acked.flushedLsn}`);
  assert.is(recovered.appliedLsn, recovered.lsn, 'the recovered log is applied on open');
  assert.equal(await isolated.close(), { code: 0, signal: null });

  const n3 = await scope.start({ id: 'n3', dataDir: dirs.n3, cluster, role: 'replica', autoFailover: false, tuning });
  await waitCaughtUp(primary, [n2, n3]);
  const expected = await summaries(primary);
  assert.is(expected.length, 50);
  assert.is(expected.reduce((n, s) => n + s.count, 0), 25_000);
  assert.equal(await summaries(n2), expected, 'n2 equals the primary');
  assert.equal(await summaries(n3), expected, 'the restarted n3 equals the primary');
  for (const node of [primary, n2, n3]) {
    assert.equal(node.events.filter((e) => e.event === 'error' && e.payload.code === 'Uncaught'), [], `${node.id}: no uncaught errors`);
  }
}));

test.run();
