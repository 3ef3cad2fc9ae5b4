// Manual promotion across processes: refused (PromotionRefused) while the
// primary is alive and reachable; forced promotion takes a new epoch and
// fences the old primary, which steps down, refuses writes and follows.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { waitFor } from '../helpers/waitFor.js';
import { type ChildError, FAST, missingIds, withProcCluster } from './processHarness.js';

const batch = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => ({ id: `${prefix}-${i}` }));
const codeOf = (p: Promise<unknown>) => p.then(() => 'resolved', (err: unknown) => (err as ChildError).code);

test('promote() with a live primary is refused; promote({ force }) fences the old primary', () =>
  withProcCluster({ tuning: FAST }, async (c) => {
    const [n1, n2] = [c.node('n1'), c.node('n2')];
    await n1.writeMany('s', batch('a', 50), 'quorum');
    await c.converge('s');
    assert.is(await codeOf(n2.promote()), 'PromotionRefused');
    assert.is(await codeOf(c.node('n3').promote()), 'PromotionRefused');
    assert.is((await n1.status()).role, 'primary', 'a refused promotion changes nothing');
    await n1.writeMany('s', batch('b', 10), 'quorum');

    const { epoch } = await n2.promote(true);
    assert.ok(epoch >= 2, `forced promotion takes a new epoch (${epoch})`);
    assert.ok(n2.events.some((e) => e.event === 'promoted' && e.payload['forced'] === true && e.payload['epoch'] === epoch));
    await waitFor(async () => (await n1.status()).role === 'replica', { timeoutMs: 10_000, what: 'n1 steps down' });
    assert.equal(n1.events.filter((e) => e.event === 'demoted').map((e) => e.payload['epoch']), [epoch]);
    assert.is(await codeOf(n1.writeMany('s', [{ id: 'late' }], 'local')), 'NotPrimary', 'the fenced primary refuses writes');
    const w = await n2.writeMany('s', batch('c', 50), 'quorum');
    assert.is(w.epoch, epoch);
    const spaces = [...(await c.converge('s')).values()];
    assert.ok(spaces.every((s) => s.digest === spaces[0]!.digest && s.count === 110), JSON.stringify(spaces));
    assert.equal(await missingIds(n1, 's', batch('c', 50).map((e) => e.id)), []);
    assert.equal((await n1.status()).primary, 'n2');
    assert.equal(c.uncaught(), []);
  }));

test.run();
