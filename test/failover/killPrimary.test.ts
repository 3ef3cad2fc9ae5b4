// SIGKILL the primary process under a steady write load: a replica is
// elected, writes resume there, the old primary restarts on its data dir and
// rejoins as a replica, and all three converge to identical spaces.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { waitFor } from '../helpers/waitFor.js';
import { FAST, LoadWriter, missingIds, withProcCluster } from './processHarness.js';

test('SIGKILL of the primary under load: election, writes resume, old primary rejoins, all converge', () =>
  withProcCluster({ tuning: FAST }, async (c) => {
    const first = await c.primary();
    assert.is(first.id, 'n1');
    const load = new LoadWriter(c, 's', 'w', 'quorum');
    load.start(3);
    await waitFor(() => load.acked.size >= 150, { timeoutMs: 15_000, what: '150 writes before the kill' });
    const killedAt = performance.now();
    await first.kill();
    const before = load.acked.size;
    const primary = await c.primary(15_000, ['n2', 'n3']);
    await waitFor(() => [...load.acked.values()].filter((a) => a.node === primary.id).length >= 100,
      { timeoutMs: 15_000, what: `100 writes accepted by the new primary ${primary.id}` });
    const resumedMs = performance.now() - killedAt;
    const status = await primary.status();
    assert.ok(status.epoch >= 2, `new epoch, got ${status.epoch}`);

    const old = await c.start('n1');
    await waitFor(async () => (await old.status()).primary === primary.id, { timeoutMs: 15_000, what: 'n1 follows the new primary' });
    assert.is((await old.status()).role, 'replica', 'the restarted old primary is a replica');
    await waitFor(() => load.acked.size >= before + 200, { timeoutMs: 15_000, what: 'more writes after the rejoin' });
    await load.stop();

    const spaces = await c.converge('s');
    const all = [...spaces.values()];
    assert.is(all.length, 3);
    assert.ok(all.every((s) => s.digest === all[0]!.digest && s.count === all[0]!.count), JSON.stringify(all));
    for (const node of c.liveNodes()) {
      const missing = await missingIds(node, 's', [...load.acked.keys()]);
      assert.equal(missing, [], `acknowledged quorum writes missing on ${node.id}`);
    }
    assert.equal(c.uncaught(), []);
    console.log(`  writes resumed ${resumedMs.toFixed(0)} ms after the kill (to 100 acks); ${load.acked.size} acked, ${load.attempted.size} attempted`);
  }));

test.run();
