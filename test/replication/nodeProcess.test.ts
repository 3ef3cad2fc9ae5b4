/**
 * The multi-process harness itself: a child node answers every request op,
 * refuses bad requests with an error reply and keeps serving, exits cleanly
 * on `close` and SIGTERM (its log intact), and dies at once on SIGKILL.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ChildError, freePorts, makeCluster, withScope } from '../helpers/nodeProcess.js';
import { waitFor } from '../helpers/waitFor.js';

const quickElection = { failoverTimeoutMs: 300, leaseMs: 200, electionRoundMs: 200 };

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    return err instanceof ChildError ? err.code : `not a ChildError: ${String(err)}`;
  }
  return 'resolved';
}

test('freePorts gives distinct loopback ports; makeCluster names n1..nN on 127.0.0.1', async () => {
  const ports = await freePorts(5);
  assert.is(new Set(ports).size, 5);
  assert.ok(ports.every((p) => p > 0 && p < 65536));
  const cluster = await makeCluster(3, 'c1');
  assert.is(cluster.clusterId, 'c1');
  assert.equal(cluster.nodes.map((n) => n.id), ['n1', 'n2', 'n3']);
  assert.ok(cluster.nodes.every((n) => /^127\.0\.0\.1:\d+$/.test(n.replication)));
});

test('a child node serves writeMany/status/spaces/space/read and survives bad requests', () => withScope(async (scope) => {
  const cluster = await makeCluster(1);
  const dir = await scope.tempDir();
  const node = await scope.start({ id: 'n1', dataDir: dir, cluster, role: 'primary' });
  assert.is(node.address, cluster.nodes[0]!.replication);

  const w = await node.writeMany('notes', [{ id: 'a', text: 'x' }, { id: 'b', text: 'y' }]);
  assert.equal(w, { lsn: 2, seq: 2, count: 2 });
  assert.equal(await node.spaces(), ['notes']);
  const summary = await node.space('notes');
  assert.equal([summary.space, summary.count, summary.lastSeq], ['notes', 2, 2]);
  assert.equal(await node.read('notes', 'b'), { id: 'b', text: 'y' });
  assert.is(await node.read('notes', 'zz'), undefined);
  const status = await node.status();
  assert.equal([status.id, status.role, status.lsn, status.appliedLsn, status.replicas], ['n1', 'primary', 2, 2, []]);

  assert.is(await codeOf(node.request('nope')), 'BadRequest');
  assert.is(await codeOf(node.request('writeMany', ['notes', 'not an array'])), 'BadRequest');
  assert.is(await codeOf(node.request('space', [42])), 'BadRequest');
  assert.is(await codeOf(node.writeMany('bad space!', [{ id: 'c' }])), 'InvalidEntry');
  assert.is(await codeOf(node.writeMany('notes', [{ text: 'no id' }])), 'InvalidEntry');
  assert.is(await codeOf(node.writeMany('notes', [])), 'InvalidEntry');
  node.sendRaw({ junk: true });
  node.sendRaw('junk');
  assert.equal(await node.spaces(), ['notes'], 'still serving after junk');
  assert.is(node.hasExited, false);

  assert.equal(await node.close(), { code: 0, signal: null }, 'close exits cleanly');
  // A restarted node does not assume it is still primary: alone in its cluster, it wins an election.
  const reopened = await scope.start({ id: 'n1', dataDir: dir, cluster, role: 'primary', tuning: quickElection });
  assert.is((await reopened.space('notes')).digest, summary.digest, 'the log survived a graceful close');
  await waitFor(async () => (await reopened.status()).role === 'primary', { timeoutMs: 10_000, what: 'n1 primary again' });
  await waitFor(() => reopened.events.some((e) => e.event === 'promoted'), { what: 'the promoted event forwarded' });
  const promoted = reopened.events.find((e) => e.event === 'promoted');
  assert.equal(promoted?.event === 'promoted' && [promoted.payload.via, promoted.payload.epoch], ['election', 2]);
  assert.equal(await reopened.writeMany('notes', [{ id: 'c' }]), { lsn: 3, seq: 3, count: 1 });
  assert.equal(await reopened.kill('SIGTERM'), { code: 0, signal: null }, 'graceful exit on SIGTERM');
  assert.match(await reopened.status().then(() => 'resolved', (e: unknown) => String(e)), /has exited/);
}));

test('SIGKILL ends a child at once; a replica refuses writes; a child that cannot start reports why', () => withScope(async (scope) => {
  const cluster = await makeCluster(2);
  const [replica, refused] = await Promise.all([
    scope.start({ id: 'n2', dataDir: await scope.tempDir(), cluster, role: 'replica' }),
    scope.start({ id: 'nX', dataDir: await scope.tempDir(), cluster, role: 'primary' }).then(() => 'started', (err: unknown) => err),
  ]);
  assert.instance(refused, ChildError, 'an id outside the cluster is refused');
  assert.is((refused as ChildError).code, 'InvalidConfig');
  assert.is(await codeOf(replica!.writeMany('notes', [{ id: 'a' }])), 'NotPrimary');
  assert.equal(await replica!.kill('SIGKILL'), { code: null, signal: 'SIGKILL' });
  assert.is(replica!.hasExited, true);
}));

test.run();
