/**
 * Catch-up from the log (issue 3, item 6): a replica closed while 20,000
 * entries are written is reopened on the same data directory, recovers what
 * it had from its own log, and catches up from the primary's log (no
 * snapshot) to the primary's digests. In-process nodes on real disk and TCP.
 * Every node runs with `autoFailover: false`: this is about replication, so a
 * busy machine must not trigger an election mid-test (docs/testing.md).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type ClusterConfig, type NodeOptions, type ReplicationNode, createNode } from '../../src/index.js';
import { type ProcessScope, makeCluster, summaries, waitCaughtUp, withScope, writeLoad } from '../helpers/nodeProcess.js';

// A window of 8 x 500 entries: the reopened replica (~15,000 behind) is far behind, so it catches up.
const tuning = { healthGraceMs: 100, backoffScheduleMs: [50, 100, 200], connectTimeoutMs: 1000, batchMaxEntries: 500, windowBatches: 8 };

async function open(scope: ProcessScope, cluster: ClusterConfig, id: string, dataDir: string, role: NodeOptions['role']): Promise<ReplicationNode> {
  const node = await createNode({ id, dataDir, cluster, role, autoFailover: false, tuning });
  scope.defer(() => node.close(), role === 'primary' ? 'first' : 'last');
  return node;
}

async function counterValue(node: ReplicationNode, name: string, replica: string): Promise<number> {
  const metric = await node.register.getSingleMetric(name)?.get();
  return metric?.values.find((v) => v.labels['replica'] === replica)?.value ?? 0;
}

test('a replica closed while 20,000 entries are written catches up from the log after it is reopened', () => withScope(async (scope) => {
  const cluster = await makeCluster(3);
  const dirs = { n1: await scope.tempDir(), n2: await scope.tempDir(), n3: await scope.tempDir() };
  const n2 = await open(scope, cluster, 'n2', dirs.n2, 'replica');
  let n3 = await open(scope, cluster, 'n3', dirs.n3, 'replica');
  const primary = await open(scope, cluster, 'n1', dirs.n1, 'primary');
  const snapshotsSent: unknown[] = [];
  primary.on('snapshot', (e) => snapshotsSent.push(e));

  await writeLoad(primary, { count: 5000, spaces: 50, batch: 250, inFlight: 2 });
  await waitCaughtUp(primary, [n2, n3]);
  const catchupsBefore = await counterValue(primary, 'engram_replication_catchups_total', 'n3');

  // Close n3 a quarter of the way through the 20,000 writes; the writes go on.
  let written = 0;
  let closing: Promise<void> | undefined;
  const lastLsn = await writeLoad(primary, {
    from: 5000, count: 20_000, spaces: 50, batch: 250, inFlight: 2,
    onWrite: (_ms, r) => {
      written += r.count;
      if (written >= 5000 && closing === undefined) closing = n3.close();
    },
  });
  assert.ok(closing !== undefined, 'n3 was closed during the writes');
  await closing;
  assert.is(lastLsn, 25_000);
  await waitCaughtUp(primary, [n2]);
  const behind = primary.status().replicas.find((r) => r.id === 'n3')!;
  assert.ok(behind.appliedLsn < lastLsn - 10_000, `n3 stopped early (applied ${behind.appliedLsn} of ${lastLsn})`);

  n3 = await open(scope, cluster, 'n3', dirs.n3, 'replica');
  const recovered = n3.status().appliedLsn;
  assert.ok(recovered >= 5000, `n3 recovered its own log (applied ${recovered} on open)`);

  await waitCaughtUp(primary, [n2, n3]);
  const expected = await summaries(primary);
  assert.is(expected.length, 50);
  assert.is(expected.reduce((n, s) => n + s.count, 0), 25_000);
  assert.equal(await summaries(n2), expected, 'n2 equals the primary');
  assert.equal(await summaries(n3), expected, 'the reopened n3 equals the primary');
  assert.equal(snapshotsSent, [], 'caught up from the log, not from a snapshot');
  assert.ok(await counterValue(primary, 'engram_replication_catchups_total', 'n3') > catchupsBefore, 'a log catch-up was counted for n3');
}));

test.run();
