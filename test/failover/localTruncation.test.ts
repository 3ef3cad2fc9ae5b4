// ack 'local' and a SIGKILLed primary: on rejoin the old primary discards
// exactly the records it had beyond the fork LSN (the new primary's log end
// when it took over), reports them in one 'truncated' event (fromLsn..toLsn,
// count), keeps them in the quarantine file, and converges.
import { stat } from 'node:fs/promises';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { waitFor } from '../helpers/waitFor.js';
import { FAST, LoadWriter, missingIds, withProcCluster } from './processHarness.js';

const batch = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => ({ id: `${prefix}-${i}` }));

/**
 * The fast profile with a 2 s lease: the 'lost' writes must be accepted by n1 after both replicas
 * are killed, before its lease runs out (400 ms in FAST alone, which a stalled CI machine has
 * overrun between the kill and the write: NotPrimary).
 */
const LONG_LEASE = { ...FAST, leaseMs: 2000, failoverTimeoutMs: 2500 };

test('a local-ack tail only the killed primary had is cut and reported exactly', () =>
  withProcCluster({ tuning: LONG_LEASE }, async (c) => {
    const n1 = c.node('n1');
    await n1.writeMany('s', batch('a', 100), 'quorum');
    await c.converge('s'); // every replica has joined epoch 1 (see neverJoinedVoter.test.ts for one that has not)
    await Promise.all([c.node('n2').kill(), c.node('n3').kill()]);
    const lost = await n1.writeMany('s', batch('lost', 30), 'local'); // within the lease: durable only on n1
    assert.is(lost.node, 'n1');
    await n1.kill();
    await Promise.all([c.start('n2'), c.start('n3')]);
    const primary = await c.primary(15_000, ['n2', 'n3']);
    const fork = (await primary.status()).lsn;
    assert.is(fork, lost.lsn - 30, 'the new primary ends where the replicated prefix ended');
    await primary.writeMany('s', batch('b', 40), 'quorum');
    const old = await c.start('n1');
    await waitFor(() => old.events.some((e) => e.event === 'truncated'), { timeoutMs: 15_000, what: 'n1 reports the discarded tail' });
    const cuts = old.events.filter((e) => e.event === 'truncated').map((e) => e.payload);
    assert.is(cuts.length, 1);
    assert.equal({ ...cuts[0], quarantineFile: '' }, { fromLsn: fork + 1, toLsn: lost.lsn, count: 30, quarantineFile: '' });
    assert.ok((await stat(String(cuts[0]!['quarantineFile']))).size > 30 * 20, 'the discarded records are kept');
    const spaces = [...(await c.converge('s')).values()];
    assert.ok(spaces.every((s) => s.digest === spaces[0]!.digest && s.count === 140), JSON.stringify(spaces));
    assert.equal(await missingIds(old, 's', batch('lost', 30).map((e) => e.id)), batch('lost', 30).map((e) => e.id), 'every lost write is gone');
    assert.equal(await missingIds(old, 's', [...batch('a', 100), ...batch('b', 40)].map((e) => e.id)), []);
    assert.equal(c.uncaught(), []);
  }));

test('under local-ack load: exactly the acknowledged writes beyond the fork LSN are discarded', () =>
  withProcCluster({ tuning: FAST }, async (c) => {
    const n1 = c.node('n1');
    const load = new LoadWriter(c, 's', 'w', 'local');
    load.start(4);
    await waitFor(() => load.acked.size >= 300, { timeoutMs: 15_000, what: '300 local writes' });
    await n1.kill();
    await load.stop();
    const primary = await c.primary(15_000, ['n2', 'n3']);
    const fork = (await primary.status()).lsn;
    const before = [...load.acked.entries()];
    const beyond = before.filter(([, a]) => a.lsn > fork).map(([id]) => id);
    const kept = before.filter(([, a]) => a.lsn <= fork).map(([id]) => id);
    await primary.writeMany('s', batch('b', 20), 'quorum');
    const old = await c.start('n1');
    await waitFor(async () => (await old.status()).primary === primary.id, { timeoutMs: 15_000, what: 'n1 follows' });
    const spaces = [...(await c.converge('s')).values()];
    assert.ok(spaces.every((s) => s.digest === spaces[0]!.digest), JSON.stringify(spaces));
    const cuts = old.events.filter((e) => e.event === 'truncated').map((e) => e.payload);
    const maxAcked = Math.max(...before.map(([, a]) => a.lsn));
    if (maxAcked > fork) {
      assert.is(cuts.length, 1, 'acknowledged writes beyond the fork must be reported');
      const cut = cuts[0] as { fromLsn: number; toLsn: number; count: number };
      assert.is(cut.fromLsn, fork + 1, 'the cut starts right after the fork LSN');
      assert.ok(cut.toLsn >= maxAcked, `the cut covers every acknowledged LSN (to ${cut.toLsn}, acked up to ${maxAcked})`);
      assert.is(cut.count, cut.toLsn - cut.fromLsn + 1);
    } else {
      assert.ok(cuts.every((k) => Number(k['fromLsn']) === fork + 1), JSON.stringify(cuts));
    }
    assert.equal(await missingIds(old, 's', beyond), beyond, 'writes beyond the fork are gone');
    assert.equal(await missingIds(old, 's', kept), [], 'writes up to the fork are kept');
    assert.is(spaces[0]!.count, kept.length + 20 + (await Promise.all([...load.attempted].filter((id) => !load.acked.has(id)).map((id) => old.read('s', id)))).filter((v) => v !== undefined).length);
    console.log(`  fork ${fork}, acked up to ${maxAcked}; discarded ${beyond.length} acked writes; cut ${JSON.stringify(cuts.map((k) => ({ ...k, quarantineFile: undefined })))}`);
    assert.equal(c.uncaught(), []);
  }));

test.run();
