// Planned switchover with real processes: three nodes as child processes on
// 127.0.0.1 with real disks, a client writing continuously (two writers,
// single entries, retrying refused writes against the new primary), and
// handovers around the cluster n1 -> n2 -> n3 -> n1. Each moves the role
// to the named node in the next epoch; afterwards every acknowledged write
// is on every node, nothing was discarded anywhere, and the digests agree:
// with `quorum` and with `local` acks.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { LoadWriter, missingIds, withProcCluster } from './processHarness.js';
import { handoverRounds } from './handoverRounds.js';

for (const ack of ['quorum', 'local'] as const) {
  test(`three handovers under continuous ${ack} writes: each target leads the next epoch, no acknowledged write lost, nothing discarded`, () =>
    withProcCluster({ ack }, async (c) => {
      const writer = new LoadWriter(c, 's', `h-${ack}`, ack);
      writer.start(2);
      const samples = await handoverRounds(c, writer, 3).finally(() => writer.stop());
      assert.equal(samples.map((s) => `${s.from}->${s.to}@${s.epoch}`), ['n1->n2@2', 'n2->n3@3', 'n3->n1@4']);
      const summaries = await c.converge('s', 30_000);
      const digests = new Set([...summaries.values()].map((s) => `${s.count}/${s.digest}`));
      assert.is(digests.size, 1, JSON.stringify([...summaries]));
      for (const node of c.liveNodes()) {
        assert.equal(await missingIds(node, 's', writer.acked.keys()), [], `${node.id} lacks acknowledged writes`);
        assert.equal(node.events.filter((e) => e.event === 'truncated'), [], `${node.id} discarded records`);
      }
      const promotions = c.liveNodes().flatMap((n) => n.events.filter((e) => e.event === 'promoted').map((e) => `${n.id}:${String(e.payload['via'])}`));
      assert.equal(promotions.sort(), ['n1:handover', 'n2:handover', 'n3:handover']); // (the bootstrap comes before the child listens)
      const count = [...summaries.values()][0]!.count;
      assert.ok(count >= writer.acked.size && count <= writer.attempted.size, `${count} memories for ${writer.acked.size} acknowledged and ${writer.attempted.size} attempted writes`);
      assert.equal(c.uncaught(), []);
      console.log(`  ${ack}: ${samples.map((s) => `${s.from}->${s.to} ${s.handoverMs.toFixed(0)} ms (pause ${s.pauseMs.toFixed(0)} ms)`).join(', ')}; ${writer.acked.size} writes acknowledged`);
    }));
}

test.run();
