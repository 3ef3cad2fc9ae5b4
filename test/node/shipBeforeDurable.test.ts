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

/** ACKs the primary has received from `replica`. */
async function acksFrom(c: Cluster, replica: string): Promise<number> {
  const { values } = await c.primary.metrics.acks.get();
  return values.find((v) => v.labels['replica'] === replica)?.value ?? 0;
}

interface Held {
  /** The primary's LSN before the held write. */
  warm: number;
  resolved(): boolean;
}

/**
 * Holds the primary's next segment write while one entry is written with
 * `ack: 'quorum'`, runs `fn`, then releases the write (also when `fn` fails,
 * so closing the cluster never waits on it); returns `warm` and the write's LSN.
 */
async function whileHeld(c: Cluster, fs: RecordingFs, fn: (held: Held) => Promise<void>): Promise<{ warm: number; lsn: number }> {
  const { lsn: warm } = await c.primary.write('notes', { id: 'warm-up' }, { ack: 'all' });
  const gate = fs.gate('write', isSegment);
  let resolved = false;
  const write = c.primary.write('notes', { id: 'held', text: 'written while the primary fsync is held' }, { ack: 'quorum' })
    .then((r) => { resolved = true; return r; });
  try {
    await gate.reached;
    await fn({ warm, resolved: () => resolved });
  } finally {
    gate.release();
  }
  return { warm, lsn: (await write).lsn };
}

test('replicas flush a record while the primary still writes it; quorum still waits for the primary', async () => {
  const fs = new RecordingFs();
  await withCluster({ size: 3, nodeOptions: { n1: { fs } } }, async (c) => {
    const result = await whileHeld(c, fs, async ({ warm, resolved }) => {
      const lsn = warm + 1;
      await waitFor(() => c.primary.status().replicas.every((r) => r.flushedLsn >= lsn),
        { timeoutMs: 10_000, what: 'both replicas flushed the held record' });
      assert.is(c.primary.status().lsn, warm, 'the primary has not made it durable');
      assert.not.ok(resolved(), "an ack 'quorum' write does not resolve before the primary's own write");
      assert.is(c.primary.read('notes', 'held'), undefined, 'the primary applies only what is durable');
    });
    assert.is(result.lsn, result.warm + 1);
    await c.waitCaughtUp('n2');
    assert.equal(c.node('n2').read('notes', 'held'), { id: 'held', text: 'written while the primary fsync is held' });
  });
});

test('with shipBeforeDurable: false nothing is shipped before the primary made it durable', async () => {
  const fs = new RecordingFs();
  await withCluster({ size: 3, nodeOptions: { n1: { fs, shipBeforeDurable: false } } }, async (c) => {
    const result = await whileHeld(c, fs, async ({ warm }) => {
      // Heartbeats keep flowing and are answered; the record does not. Two
      // more ACKs from each replica: at least one answers a heartbeat sent
      // after the record was appended, and frames arrive in order.
      const before = await Promise.all(['n2', 'n3'].map((id) => acksFrom(c, id)));
      await waitFor(async () => (await Promise.all(['n2', 'n3'].map((id) => acksFrom(c, id)))).every((n, k) => n >= before[k]! + 2),
        { timeoutMs: 10_000, what: 'two more ACKs from each replica' });
      assert.ok(c.primary.status().replicas.every((r) => r.flushedLsn === warm), 'no replica received the held record');
    });
    assert.is(result.lsn, result.warm + 1);
  });
});

test.run();
