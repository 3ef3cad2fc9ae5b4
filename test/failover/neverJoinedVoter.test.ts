// Regression: a node that never joined an epoch (fresh data dir, never
// reached by a primary) used to refuse every vote, so losing the primary of a
// 3-node cluster left the other two, a majority, unable to elect anyone.
// A never-joined node now votes but never starts elections of its own.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { waitFor } from '../helpers/waitFor.js';
import { FAST, withProcCluster } from './processHarness.js';

const batch = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => ({ id: `${prefix}-${i}` }));

{
  test('a majority with one never-joined node elects a primary after the primary is lost (regression)', () =>
    withProcCluster({ tuning: FAST, initial: ['n1', 'n2'] }, async (c) => {
      // n1 + n2 are a quorum. On a loaded machine n1 may briefly be outside its 400 ms lease (NotPrimary,
      // refused before anything is appended): retry until it takes the write.
      let w: { count: number } | undefined;
      await waitFor(() => c.node('n1').writeMany('s', batch('a', 20), 'quorum').then((r) => (w = r), () => undefined).then((r) => r !== undefined),
        { timeoutMs: 20_000, intervalMs: 50, what: 'n1 accepting a quorum write' });
      assert.is(w?.count, 20);
      await c.node('n1').kill();
      const n3 = await c.start('n3'); // fresh: epoch 0, empty log
      assert.is((await n3.status()).epoch, 0);
      const primary = await c.primary(10_000, ['n2', 'n3']); 
      assert.is(primary.id, 'n2', 'the node with the data wins');
      const spaces = [...(await c.converge('s')).values()];
      assert.ok(spaces.every((s) => s.count === 20), JSON.stringify(spaces));
    }));
}

test.run();
