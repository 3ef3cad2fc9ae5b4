// Regressions for src/ bugs found by the failover process tests (fixed).
//
// 1. A node that never joined an epoch (fresh data dir, never reached by a
//    primary) refuses every vote: src/actors/replicationNode.ts start() only
//    spawns the promotion machine when meta.epoch > 0 or role is 'primary'
//    (line ~211), and #voteRequested (line ~733) consults the machine only
//    when it exists, otherwise answering granted: false. So in a 3-node
//    cluster where n3 was down while n1 was primary, losing n1 leaves n2 and
//    n3 — a majority — unable to elect anyone, forever (n2 bumps its epoch
//    each round). Granting is safe: an empty log is never more complete than
//    a candidate's. Fix: in #voteRequested, for a matching clusterId, decide
//    the vote without starting elections of its own (e.g. spawn the machine
//    with failoverTimeoutMs NEVER_MS until the first primary contact, or
//    grant when request.epoch > meta.votedEpoch and persist votedEpoch).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FAST, withProcCluster } from './processHarness.js';

const batch = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => ({ id: `${prefix}-${i}` }));

{
  test('a majority with one never-joined node elects a primary after the primary is lost (regression)', () =>
    withProcCluster({ tuning: FAST, initial: ['n1', 'n2'] }, async (c) => {
      const w = await c.node('n1').writeMany('s', batch('a', 20), 'quorum'); // n1 + n2 are a quorum
      assert.is(w.count, 20);
      await c.node('n1').kill();
      const n3 = await c.start('n3'); // fresh: epoch 0, empty log
      assert.is((await n3.status()).epoch, 0);
      const primary = await c.primary(10_000, ['n2', 'n3']); // times out: n3 never grants its vote
      assert.is(primary.id, 'n2', 'the node with the data wins');
      const spaces = [...(await c.converge('s')).values()];
      assert.ok(spaces.every((s) => s.count === 20), JSON.stringify(spaces));
    }));
}

test.run();
