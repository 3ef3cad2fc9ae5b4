/**
 * When a replica acknowledges a batch's receipt (`receiptAckDelayMs`): in the
 * durable ACK when its flush is quicker than the delay (one ACK per batch),
 * in a receipt ACK of its own when the flush is slower (write lag stays
 * measured while the disk stalls), and at once with a delay of 0. A raw peer
 * plays the primary (the real one is stopped), so the ACKs seen are exactly
 * the replica's answers to one crafted batch.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Tuning } from '../../src/index.js';
import type { AckMessage } from '../../src/wire/messages.js';
import { type RawPeer, craftBatch, helloAsPrimary, withCluster, writeMemories } from '../helpers/cluster.js';
import { RecordingFs } from '../helpers/recordingFs.js';
import { waitFor } from '../helpers/waitFor.js';

const isSegment = (path: string) => /\d{20}\.wal$/.test(path);
const acksOf = (peer: RawPeer) => peer.received.filter((m): m is AckMessage => m.kind === 'ack');

/**
 * Runs `fn` with n2 following a raw peer that plays the primary, after n2
 * holds 10 records of the real primary; `lastLsn` is the last LSN of the
 * 3-record batch `send()` ships.
 */
async function withRawPrimary(tuning: Partial<Tuning>, fs: RecordingFs | undefined,
  fn: (peer: RawPeer, send: () => void, lastLsn: number) => Promise<void>): Promise<void> {
  await withCluster({ size: 2, tuning, ...(fs ? { nodeOptions: { n2: { fs } } } : {}) }, async (c) => {
    await writeMemories(c.primary, 'notes', 'm', 10);
    await c.waitCaughtUp('n2');
    await c.stop('n1');
    const { peer, flushedLsn } = await helloAsPrimary(c, 'n2');
    await fn(peer, () => peer.send(craftBatch(flushedLsn + 1, 3)), flushedLsn + 3);
  });
}

test('a flush quicker than the delay: the durable ACK alone acknowledges the receipt', async () => {
  await withRawPrimary({ receiptAckDelayMs: 60_000 }, undefined, async (peer, send, lastLsn) => {
    send();
    await waitFor(() => acksOf(peer).some((a) => a.flushedLsn === lastLsn), { what: 'the durable ACK' });
    const acks = acksOf(peer);
    assert.is(acks.length, 1, 'one ACK for the batch');
    assert.is(acks[0]!.receivedLsn, lastLsn);
    assert.is(acks[0]!.appliedLsn, lastLsn);
  });
});

test('a flush slower than the delay: a receipt ACK goes out while the write is held', async () => {
  const fs = new RecordingFs();
  await withRawPrimary({ receiptAckDelayMs: 20 }, fs, async (peer, send, lastLsn) => {
    const gate = fs.gate('write', isSegment);
    send();
    await gate.reached;
    try {
      await waitFor(() => acksOf(peer).some((a) => a.receivedLsn === lastLsn), { what: 'the receipt ACK' });
      const receipt = acksOf(peer)[0]!;
      assert.is(receipt.receivedLsn, lastLsn);
      assert.ok(receipt.flushedLsn < lastLsn, `the receipt ACK claims nothing durable (flushed ${receipt.flushedLsn})`);
    } finally {
      gate.release();
    }
    await waitFor(() => acksOf(peer).some((a) => a.flushedLsn === lastLsn), { what: 'the durable ACK' });
    assert.is(acksOf(peer).length, 2, 'the receipt ACK, then the durable one');
  });
});

test('a delay of 0: the receipt is acknowledged at once, before the flush', async () => {
  await withRawPrimary({ receiptAckDelayMs: 0 }, undefined, async (peer, send, lastLsn) => {
    send();
    await waitFor(() => acksOf(peer).some((a) => a.flushedLsn === lastLsn), { what: 'the durable ACK' });
    const [receipt, durable] = acksOf(peer);
    assert.is(receipt!.receivedLsn, lastLsn);
    assert.ok(receipt!.flushedLsn < lastLsn, 'sent before the flush');
    assert.is(durable!.flushedLsn, lastLsn);
  });
});

test.run();
