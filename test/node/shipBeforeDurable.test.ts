// Shipping before durable: while the primary's own write of a record is held,
// the replicas already receive and flush it (the primary's fsync and the
// replicas' overlap); the write still resolves only once the primary made it
// durable, whatever the ack mode. With `shipBeforeDurable: false` nothing is
// shipped until the primary's write completes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type Cluster, withCluster } from '../helpers/cluster.js';
import { RecordingFs } from '../helpers/recordingFs.js';
import { waitFor } from '../helpers/waitFor.js';

const isSegment = (path: string) => path.endsWith('.wal');

/** Holds the primary's next segment write; writes one entry with `ack: 'quorum'`; returns what happened meanwhile. */
async function writeWhileHeld(c: Cluster, fs: RecordingFs) {
  const primary = c.primary;
  const { lsn: warm } = await primary.write('notes', { id: 'warm-up' }, { ack: 'all' });
  const gate = fs.gate('write', isSegment);
  let resolved = false;
  const write = primary.write('notes', { id: 'held', text: 'written while the primary fsync is held' }, { ack: 'quorum' })
    .then((r) => { resolved = true; return r; });
  await gate.reached;
  return { warm, gate, write, resolved: () => resolved };
}

test('replicas flush a record while the primary still writes it; quorum still waits for the primary', async () => {
  const fs = new RecordingFs();
  await withCluster({ size: 3, nodeOptions: { n1: { fs } } }, async (c) => {
    const { warm, gate, write, resolved } = await writeWhileHeld(c, fs);
    const lsn = warm + 1;
    await waitFor(() => c.primary.status().replicas.every((r) => r.flushedLsn >= lsn),
      { timeoutMs: 10_000, what: 'both replicas flushed the held record' });
    assert.is(c.primary.status().lsn, warm, 'the primary has not made it durable');
    assert.not.ok(resolved(), "an ack 'quorum' write does not resolve before the primary's own write");
    assert.is(c.primary.read('notes', 'held'), undefined, 'the primary applies only what is durable');
    gate.release();
    const result = await write;
    assert.is(result.lsn, lsn);
    await c.waitCaughtUp('n2');
    assert.equal(c.node('n2').read('notes', 'held'), { id: 'held', text: 'written while the primary fsync is held' });
  });
});

test('with shipBeforeDurable: false nothing is shipped before the primary made it durable', async () => {
  const fs = new RecordingFs();
  await withCluster({ size: 3, nodeOptions: { n1: { fs, shipBeforeDurable: false } } }, async (c) => {
    const { warm, gate, write } = await writeWhileHeld(c, fs);
    // Heartbeats and ACKs keep flowing meanwhile; the record does not.
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.ok(c.primary.status().replicas.every((r) => r.flushedLsn === warm), 'no replica received the held record');
    gate.release();
    assert.is((await write).lsn, warm + 1);
  });
});

test.run();
