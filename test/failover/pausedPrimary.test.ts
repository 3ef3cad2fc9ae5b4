// SIGSTOP the primary (a paused process looks like a partition): a replica is
// elected while it is stopped; after SIGCONT the old primary refuses writes,
// steps down ('demoted', role replica) and follows; and over the whole run no
// epoch has writes acknowledged by two different nodes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { waitFor } from '../helpers/waitFor.js';
import { ChildError, FAST, LoadWriter, withProcCluster } from './processHarness.js';

function epochOwners(acks: Iterable<{ epoch: number; node: string }>): Map<number, Set<string>> {
  const owners = new Map<number, Set<string>>();
  for (const a of acks) owners.set(a.epoch, (owners.get(a.epoch) ?? new Set()).add(a.node));
  return owners;
}

for (const ack of ['local', 'quorum'] as const) {
  test(`SIGSTOPped primary (ack '${ack}'): new primary meanwhile, old one steps down on SIGCONT, one writer per epoch`, () =>
    withProcCluster({ tuning: FAST }, async (c) => {
      const n1 = c.node('n1');
      const load = new LoadWriter(c, 's', 'w', ack, 500);
      load.start(3);
      await waitFor(() => load.acked.size >= 200, { timeoutMs: 15_000, what: '200 writes on n1' });
      n1.signal('SIGSTOP');
      const primary = await c.primary(15_000, ['n2', 'n3']);
      const epoch = (await primary.status()).epoch;
      assert.ok(epoch >= 2);
      await waitFor(() => [...load.acked.values()].filter((a) => a.node === primary.id).length >= 100,
        { timeoutMs: 15_000, what: `writes resume on ${primary.id} while n1 is stopped` });

      n1.signal('SIGCONT');
      await waitFor(() => n1.events.some((e) => e.event === 'demoted'), { timeoutMs: 15_000, what: "n1's 'demoted' event" });
      const demoted = n1.events.find((e) => e.event === 'demoted')!.payload;
      assert.ok(Number(demoted['epoch']) >= epoch, JSON.stringify(demoted));
      await waitFor(async () => {
        const st = await n1.status();
        return st.role === 'replica' && st.primary === primary.id;
      }, { timeoutMs: 15_000, what: 'n1 is a replica following the new primary' });
      const refused = await n1.writeMany('s', [{ id: 'late' }], 'local').then(() => 'accepted', (err: unknown) => (err as ChildError).code);
      assert.is(refused, 'NotPrimary', 'the old primary refuses writes after SIGCONT');
      await waitFor(() => load.acked.size >= 400, { timeoutMs: 15_000, what: 'writes go on' });
      await load.stop();

      // replies that were in flight when n1 stopped arrive after SIGCONT and are counted too
      const owners = epochOwners(load.acked.values());
      for (const [e, nodes] of owners) assert.is(nodes.size, 1, `epoch ${e} has writes acknowledged by ${[...nodes].join(' and ')}`);
      assert.equal(owners.get(1), new Set(['n1']));
      assert.ok([...load.acked.values()].every((a) => a.node === 'n1' || a.epoch >= epoch), 'the new primary writes only in its epoch or later');

      const spaces = [...(await c.converge('s')).values()];
      assert.ok(spaces.every((s) => s.digest === spaces[0]!.digest && s.count === spaces[0]!.count), JSON.stringify(spaces));
      if (ack === 'quorum') assert.ok(spaces[0]!.count >= load.acked.size, 'every quorum write survived');
      assert.equal(c.uncaught(), []);
      console.log(`  ${ack}: epochs ${JSON.stringify([...owners].map(([e, n]) => [e, [...n]]))}; ${load.acked.size} acked`);
    }));
}

test.run();
