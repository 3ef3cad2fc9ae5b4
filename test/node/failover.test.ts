// Failover on real TCP, nodes in one process: election after the primary is
// gone, writes resume on the new primary, the old primary rejoins as a
// replica; manual promotion refused while the primary lives; forced
// promotion fences; an unreplicated local-ack tail is quarantined and cut.
import { readFile } from 'node:fs/promises';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type ReplicationNode, isReplicationError } from '../../src/index.js';
import { type Cluster, withCluster } from '../helpers/cluster.js';
import { waitFor } from '../helpers/waitFor.js';

const failover = { autoFailover: true };

async function writeBatch(node: ReplicationNode, prefix: string, n: number, ack: 'local' | 'quorum' = 'quorum') {
  return node.writeMany('s', Array.from({ length: n }, (_, i) => ({ id: `${prefix}-${i}` })), { ack });
}

async function newPrimary(c: Cluster, among: string[]): Promise<ReplicationNode> {
  let found: ReplicationNode | undefined;
  await waitFor(() => (found = among.map((id) => c.node(id)).find((n) => n?.role === 'primary')) !== undefined,
    { timeoutMs: 15_000, what: `a primary among ${among.join(', ')}` });
  return found!;
}

async function converged(c: Cluster, primary: ReplicationNode, ids: string[]): Promise<void> {
  await waitFor(() => {
    const st = primary.status();
    return st.replicas.filter((r) => ids.includes(r.id)).every((r) => r.appliedLsn === st.lsn);
  }, { timeoutMs: 15_000, what: 'replicas caught up with the new primary' });
  const digests = ['n1', 'n2', 'n3'].map((id) => c.node(id).space('s'));
  assert.ok(digests.every((d) => d.digest === digests[0]!.digest && d.count === digests[0]!.count), JSON.stringify(digests));
}

test('primary gone: a replica is elected, writes resume there, the old primary rejoins as a replica', () =>
  withCluster({ size: 3, nodeOptions: { n1: failover, n2: failover, n3: failover } }, async (c) => {
    const n1 = c.primary;
    await writeBatch(n1, 'a', 200);
    try {
      await c.node('n2').promote();
      assert.unreachable('promotion with a live primary must be refused');
    } catch (err) {
      assert.ok(isReplicationError(err, 'PromotionRefused'), String(err));
    }
    await c.stop('n1');
    const primary = await newPrimary(c, ['n2', 'n3']);
    assert.ok(primary.status().epoch >= 2, 'a new epoch');
    await writeBatch(primary, 'b', 100);
    const old = await c.start('n1');
    assert.is(old.role, 'replica', 'a restarted node never assumes it is primary');
    await converged(c, primary, ['n1', 'n2', 'n3'].filter((id) => id !== primary.id));
    assert.equal(old.read('s', 'b-99'), { id: 'b-99' });
  }));

test('forced promotion fences the old primary: it steps down and follows', () =>
  withCluster({ size: 3, nodeOptions: { n1: failover, n2: failover, n3: failover } }, async (c) => {
    await writeBatch(c.primary, 'a', 50);
    const demoted: number[] = [];
    c.primary.on('demoted', (e) => demoted.push(e.epoch));
    await c.waitCaughtUp('n2'); // voters grant only a log at least as complete as theirs, the primary's included
    const { epoch } = await c.node('n2').promote({ force: true });
    assert.ok(epoch >= 2);
    await waitFor(() => c.primary.role === 'replica', { timeoutMs: 10_000, what: 'n1 steps down' });
    assert.equal(demoted, [epoch]);
    try {
      await c.primary.write('s', { id: 'late' });
      assert.unreachable('the fenced primary must refuse writes');
    } catch (err) {
      assert.ok(isReplicationError(err, 'NotPrimary'), String(err));
    }
    await writeBatch(c.node('n2'), 'b', 50);
    await converged(c, c.node('n2'), ['n1', 'n3']);
  }));

test('an old primary with an unreplicated local-ack tail: quarantined and cut on rejoin, reported exactly', () =>
  withCluster({ size: 3, nodeOptions: { n1: failover, n2: failover, n3: failover } }, async (c) => {
    await writeBatch(c.primary, 'a', 100);
    await c.stop('n2');
    await c.stop('n3');
    const lost = await writeBatch(c.primary, 'lost', 30, 'local'); // durable only on n1
    await c.stop('n1');
    await c.start('n2');
    await c.start('n3');
    const primary = await newPrimary(c, ['n2', 'n3']);
    await writeBatch(primary, 'b', 40);
    const truncated: { fromLsn: number; toLsn: number; count: number; quarantineFile: string }[] = [];
    const old = await c.start('n1'); // the primary dials it after this resolves, so no event is missed
    old.on('truncated', (e) => truncated.push(e));
    await waitFor(() => truncated.length === 1, { timeoutMs: 15_000, what: 'n1 reports the discarded tail' });
    assert.equal({ ...truncated[0], quarantineFile: '' }, { fromLsn: lost.lsn - 29, toLsn: lost.lsn, count: 30, quarantineFile: '' });
    assert.ok((await readFile(truncated[0]!.quarantineFile)).length > 30 * 40, 'the discarded records are kept in the quarantine file');
    await converged(c, primary, ['n1', primary.id === 'n2' ? 'n3' : 'n2']);
    assert.is(old.read('s', 'lost-0'), undefined, 'the lost writes are gone from the state');
    assert.equal(old.read('s', 'b-39'), { id: 'b-39' });
  }));

test.run();
