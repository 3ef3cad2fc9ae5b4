/**
 * A replica behind the retention cap (DESIGN §4 retention, §5 snapshots), on
 * real TCP and real disks. Replica n2 is stopped; the primary writes ~3x
 * `retentionMaxBytes`. n2 never counts as Failed here (`failuresToFail` is
 * high), so only the size cap lets retention pass n2's position: below the
 * cap the primary keeps n2's segments, above it retention cuts the log. When
 * n2 comes back the primary's log no longer reaches back to it: n2 gets a
 * snapshot (events + metrics on both sides), then the stream, and ends with
 * the primary's digests and every old memory readable.
 *
 * Disk bound asserted: wal/ holds segment files (each preallocated to
 * `segmentBytes`) plus one spare file of `segmentBytes`. The test writes at
 * most half a segment between samples and lets retention (every 1 s) run
 * whenever the segments pass the cap, so wal/ stays <= cap + 2 * segmentBytes
 * (one segment past the cap + the spare), and every cut brings the segments
 * back to <= cap.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseSegmentName } from '../../src/log/segmentName.js';
import { digests, metricValue, withCluster, writeMemories } from '../helpers/cluster.js';
import { waitFor } from '../helpers/waitFor.js';

const SEGMENT = 64 * 1024;
const CAP = 512 * 1024;
const tuning = {
  segmentBytes: SEGMENT, retentionMaxBytes: CAP, failuresToFail: 1000, heartbeatIntervalMs: 50,
  backoffScheduleMs: [20, 50, 100], batchMaxBytes: 32 * 1024,
};

/** First LSNs of the segment files in `walDir`, oldest first; bytes of those files; bytes of all of wal/ (spare included). */
async function wal(walDir: string): Promise<{ starts: number[]; segmentBytes: number; totalBytes: number }> {
  const names = await readdir(walDir);
  const starts = names.map(parseSegmentName).filter((n): n is number => n !== undefined).sort((a, b) => a - b);
  let segmentBytes = 0;
  let totalBytes = 0;
  for (const name of names) {
    const bytes = await stat(join(walDir, name)).then((s) => s.size, () => 0); // 0: deleted meanwhile
    totalBytes += bytes;
    if (parseSegmentName(name) !== undefined) segmentBytes += bytes;
  }
  return { starts, segmentBytes, totalBytes };
}

test('a replica behind the retention cap gets a snapshot, then the stream; the primary stays under the cap', () =>
  withCluster({ size: 2, tuning }, async (c) => {
    const primary = c.primary;
    const walDir = join(c.dirs.get('n1')!, 'wal');
    await writeMemories(primary, 'notes', 'early', 200, 200);
    await primary.write('links', { op: 'link', from: 'early-0', to: 'early-1', weight: 0.5 });
    await c.waitCaughtUp('n2');
    await c.stop('n2');
    const stoppedAt = primary.status().lsn;

    let maxWalBytes = 0;
    let cuts = 0;
    const seen = new Set<number>(); // every segment start observed: a burst adds at most one, the active one, never deleted
    let logBytesAtFirstCut = 0;
    for (let round = 0; round < 60; round++) {
      await writeMemories(primary, 'bulk', `r${round}`, 100, 200, 100); // ~30 KiB: under half a segment
      const now = await wal(walDir);
      maxWalBytes = Math.max(maxWalBytes, now.totalBytes);
      for (const start of now.starts) seen.add(start);
      if (logBytesAtFirstCut === 0 && now.starts[0] !== 1) logBytesAtFirstCut = seen.size * SEGMENT;
      if (now.segmentBytes > CAP) {
        await waitFor(async () => (await wal(walDir)).segmentBytes <= CAP, { timeoutMs: 3000, what: `retention cuts ${now.segmentBytes} bytes of segments back under the cap` });
        cuts++;
      }
    }
    const after = await wal(walDir);
    assert.ok(logBytesAtFirstCut > CAP, `retention kept n2's segments until the log passed the cap (first cut at ${logBytesAtFirstCut} bytes)`);
    assert.ok(cuts >= 2, `retention cut the log ${cuts} times`);
    assert.ok(maxWalBytes <= CAP + 2 * SEGMENT, `wal/ peaked at ${maxWalBytes} bytes, bound ${CAP + 2 * SEGMENT}`);
    assert.ok(after.starts[0]! > stoppedAt + 1, `the primary's log starts at ${after.starts[0]}, after n2's position ${stoppedAt}`);
    assert.is(primary.status().replicas[0]?.status === 'Failed', false, 'n2 never Failed: the cap, not Failed, let retention pass it');

    const sent: { replica?: string; lsn: number }[] = [];
    primary.on('snapshot', (e) => { if (e.direction === 'sent') sent.push(e); });
    const replica = await c.start('n2');
    const installed: { lsn: number }[] = [];
    replica.on('snapshot', (e) => { if (e.direction === 'installed') installed.push(e); });
    const tail = writeMemories(primary, 'notes', 'late', 300, 50, 10); // the stream, while the snapshot goes over
    await waitFor(() => installed.length > 0, { timeoutMs: 10_000, what: 'n2 installs a snapshot' });
    await tail;
    await c.waitCaughtUp('n2');

    // Exactly one snapshot: frames that follow SNAPSHOT_END wait for the install
    // (regression: they used to be refused as LogGap, forcing a second snapshot).
    assert.is(sent.length, 1, `one snapshot sent (${sent.length})`);
    assert.ok(sent[0]!.replica === 'n2' && sent[0]!.lsn > stoppedAt, 'the snapshot covers the deleted records');
    assert.is(installed.length, 1, `one snapshot installed (${installed.length})`);
    assert.is(installed[0]!.lsn, sent[0]!.lsn, 'the one the primary sent');
    assert.is(await metricValue(primary, 'engram_replication_snapshots_sent_total', { replica: 'n2' }), sent.length);
    assert.is(await metricValue(replica, 'engram_replication_snapshots_installed_total'), installed.length);
    assert.equal(digests(replica), digests(primary), 'identical digests after snapshot + stream');
    assert.equal(replica.read('notes', 'early-7'), primary.read('notes', 'early-7'), 'an old memory reads the same');
    assert.equal(replica.read('bulk', 'r3-42'), primary.read('bulk', 'r3-42'), 'a memory only the snapshot carried');
    assert.equal(replica.read('notes', 'late-299'), primary.read('notes', 'late-299'), 'a memory streamed after the snapshot');
    assert.ok(replica.read('notes', 'late-299') !== undefined);

    await c.stop('n2'); // the installed snapshot is durable: n2 reopens to the same state on its own
    const reopened = await c.start('n2');
    assert.equal(digests(reopened), digests(primary), 'n2 recovers snapshot + log from its disk');
    await primary.write('notes', { id: 'after-reopen' });
    await c.waitCaughtUp('n2');
    assert.equal(digests(reopened), digests(primary));
    assert.is(await metricValue(primary, 'engram_replication_snapshots_sent_total', { replica: 'n2' }), sent.length, 'no snapshot needed after the reopen');
  }));

test.run();
