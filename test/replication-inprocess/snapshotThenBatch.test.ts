/**
 * A snapshot followed at once by the stream, in one TCP write, as a primary
 * sends it after `snapshot.sent` (DESIGN §4: "a replica behind the cap is
 * caught up by snapshot", then the stream). A raw peer plays the primary
 * (the real one is stopped, so the bytes are exactly these): HELLO, then
 * SNAPSHOT_BEGIN + CHUNK + END + BATCH(snapshotLsn + 1) in one write. The
 * replica must install the snapshot, then append the batch and ACK it. The
 * same with the batch sent only after the install is acknowledged passes.
 *
 * Regression (fixed): frames behind SNAPSHOT_END used to be dispatched during the install:
 * src/actors/receiverSession.ts `installSnapshot()` pauses the connection and
 * installs asynchronously, but `#onData` keeps dispatching the frames already
 * in its FrameReader; the BATCH is checked against the log position from
 * before the install (`positions().receivedLsn + 1`) and refused as LogGap,
 * the connection closed, while the install finishes after. In a cluster the
 * primary then reconnects and sends the snapshot again (seen in
 * retentionSnapshot.test.ts), and two installs can run at once.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { encodeNodeSnapshot } from '../../src/actors/nodeSnapshot.js';
import { SpaceLedger } from '../../src/actors/spaceLedger.js';
import { MemoryStore } from '../../src/store/memoryStore.js';
import { crc32c } from '../../src/wire/checksum.js';
import { encodeMessage } from '../../src/wire/messages.js';
import { craftBatch, helloAsPrimary, metricValue, withCluster, writeMemories } from '../helpers/cluster.js';
import { waitFor } from '../helpers/waitFor.js';

/**
 * Plays a primary that sends a snapshot at n2's flushed LSN + 100, then a batch right after it:
 * in one write (`together`), or once the snapshot is installed (n2's ACK says so).
 */
async function snapshotThenBatch(together: boolean): Promise<void> {
  await withCluster({ size: 2, tuning: { heartbeatIntervalMs: 50 } }, async (c) => {
    await writeMemories(c.primary, 'notes', 'm', 20);
    await c.waitCaughtUp('n2');
    await c.stop('n1');
    const replica = c.node('n2');
    const errors: string[] = [];
    replica.on('error', (e) => errors.push(`${e.code}: ${e.message}`));
    const installed: number[] = [];
    replica.on('snapshot', (e) => installed.push(e.lsn));

    const { peer, flushedLsn } = await helloAsPrimary(c, 'n2');
    try {
      const snapshotLsn = flushedLsn + 100;
      const epochHistory = [{ epoch: 1, startLsn: 1 }];
      const bytes = encodeNodeSnapshot({
        lsn: snapshotLsn, epoch: 1, epochHistory, ledger: new SpaceLedger().snapshot(), projection: new MemoryStore().snapshot(),
      });
      const snapshot = [
        ...encodeMessage({ kind: 'snapshotBegin', epoch: 1, snapshotLsn, snapshotEpoch: 1, totalBytes: bytes.length, crc: crc32c(bytes), epochHistory }),
        ...encodeMessage({ kind: 'snapshotChunk', offset: 0, bytes }),
        ...encodeMessage({ kind: 'snapshotEnd', epoch: 1 }),
      ];
      const acked = (lsn: number) => peer.received.some((m) => m.kind === 'ack' && m.flushedLsn === lsn);
      if (together) {
        peer.socket.write(Buffer.concat([...snapshot, ...craftBatch(snapshotLsn + 1, 3)])); // the batch lands in the same read as SNAPSHOT_END
      } else {
        peer.socket.write(Buffer.concat(snapshot));
        await waitFor(() => acked(snapshotLsn) || errors.length > 0, { what: 'n2 acknowledges the installed snapshot' });
        peer.socket.write(Buffer.concat(craftBatch(snapshotLsn + 1, 3)));
      }

      await waitFor(() => replica.status().appliedLsn === snapshotLsn + 3 || peer.socket.destroyed || errors.length > 0,
        { what: 'n2 applies the batch after the snapshot' });
      assert.equal(errors, [], 'no frame refused');
      assert.equal(installed, [snapshotLsn], 'the snapshot installed once');
      assert.is(replica.status().appliedLsn, snapshotLsn + 3, 'the batch behind it applied');
      assert.equal(replica.spaces(), ['evil'], 'the state is the snapshot (empty) plus the batch');
      assert.is(replica.space('evil').count, 3);
      assert.is(await metricValue(replica, 'engram_replication_snapshots_installed_total'), 1);
      assert.is(await metricValue(replica, 'engram_replication_protocol_errors_total', { code: 'LogGap' }), 0);
      await waitFor(() => acked(snapshotLsn + 3), { what: 'an ACK for the batch' });
      assert.is(peer.socket.destroyed, false, 'the session stays open');
    } finally {
      peer.socket.destroy();
    }
  });
}

test('a snapshot, then (once installed) the stream: installed, then the batch applied on top', () => snapshotThenBatch(false));

test('frames right behind SNAPSHOT_END in the same read wait for the install, then apply after it', () => snapshotThenBatch(true));

test.run();
