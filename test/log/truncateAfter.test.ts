import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type Log, openLog, segmentName } from '../../src/log/index.js';
import { RecordKind } from '../../src/types.js';
import { RecordingFs } from '../helpers/recordingFs.js';
import { withTempDir } from '../helpers/tempDir.js';
import { nodeFileSystem } from '../../src/adapters/nodeFileSystem.js';
import { fileBytes, openSmallLog, readAll, recordRanges, recordsOf, rejectsWith, segmentFiles } from './logFixtures.js';

const SEGMENT_BYTES = 1024;
const epochOf = (lsn: number): number => 1 + Math.floor(lsn / 7);

/** 40 records over several segments; record `lsn` has epoch `epochOf(lsn)` and key `k<lsn>`. */
async function build(dir: string): Promise<Log> {
  const log = await openSmallLog(dir, { segmentBytes: SEGMENT_BYTES });
  for (let i = 1; i <= 40; i++) {
    log.epoch = epochOf(i);
    log.append('s', `k${i}`, RecordKind.Put, i, new Uint8Array(40 + (i % 5) * 9).fill(i), 100 + i);
  }
  await log.sync();
  return log;
}

const range = (from: number, to: number): string[] => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => `k${from + i}`);

async function checkTruncate(pick: (starts: number[], log: Log) => number, label: string): Promise<void> {
  await withTempDir(async (dir) => {
    let log = await build(dir);
    const starts = log.segmentStarts();
    assert.ok(starts.length >= 4, 'several segments');
    const lsn = pick(starts, log);
    const report = await log.truncateAfter(lsn);
    const cutTo = Math.min(lsn, 40);
    assert.equal(report, { fromLsn: lsn + 1, toLsn: 40, count: Math.max(0, 40 - lsn) }, label);
    assert.is(log.lastLsn, cutTo);
    assert.is(log.flushedLsn, cutTo);
    assert.is(log.lastEpoch, cutTo === 0 ? 0 : epochOf(cutTo), `lastEpoch is the epoch of record ${cutTo}`);
    assert.is(log.lastTimestampMs, cutTo === 0 ? 0 : 100 + cutTo);
    const kept = starts.filter((s) => s <= cutTo + 1);
    assert.equal(await segmentFiles(dir), kept.map(segmentName), `later segment files deleted (${label})`);
    await log.close();

    log = await openSmallLog(dir, { segmentBytes: SEGMENT_BYTES });
    try {
      assert.is(log.lastLsn, cutTo, `reopened lastLsn (${label})`);
      assert.is(log.recovery.tornTail, undefined, 'the cut tail was zeroed, not torn');
      assert.is(log.lastEpoch, cutTo === 0 ? 0 : epochOf(cutTo));
      assert.equal((await readAll(log)).map((r) => r.key), range(1, cutTo));
      log.epoch = 99;
      for (let i = 1; i <= 3; i++) assert.is(log.append('s', `new${i}`, RecordKind.Put, i, new Uint8Array(i), i), cutTo + i);
      await log.sync();
      await log.close();
      log = await openSmallLog(dir, { segmentBytes: SEGMENT_BYTES });
      const records = await readAll(log);
      assert.equal(records.map((r) => r.key), [...range(1, cutTo), 'new1', 'new2', 'new3']);
      assert.equal(records.slice(-3).map((r) => r.epoch), [99, 99, 99]);
      assert.is(log.lastEpoch, 99);
    } finally {
      await log.close();
    }
  });
}

test('truncateAfter in the middle of a segment', () => checkTruncate((starts) => starts[1]! + 2, 'mid-segment'));
test('truncateAfter at a segment boundary', () => checkTruncate((starts) => starts[2]! - 1, 'boundary'));
test('truncateAfter the first record of a segment', () => checkTruncate((starts) => starts[2]!, 'first of segment'));
test('truncateAfter after everything is a no-op', () => checkTruncate(() => 40, 'at the end'));
test('truncateAfter beyond the end is a no-op', () => checkTruncate(() => 55, 'past the end'));
test('truncateAfter firstLsn - 1 empties the log', () => checkTruncate(() => 0, 'everything'));

test('truncateAfter below firstLsn - 1 is refused', () => withTempDir(async (dir) => {
  const log = await build(dir);
  try {
    const starts = log.segmentStarts();
    await log.retainFrom(starts[2]!);
    await rejectsWith(log.truncateAfter(starts[2]! - 2), 'LogTruncated');
    assert.is(log.lastLsn, 40);
  } finally {
    await log.close();
  }
}));

test('later segments are deleted (newest first, durably) before the tail is cut', () => withTempDir(async (dir) => {
  const fs = new RecordingFs();
  const log = await openLog({ dir, fs, segmentBytes: SEGMENT_BYTES, preallocate: false });
  for (let i = 1; i <= 40; i++) log.append('s', `k${i}`, RecordKind.Put, i, new Uint8Array(60), i);
  await log.sync();
  const starts = log.segmentStarts();
  fs.clear();
  await log.truncateAfter(starts[1]! + 1);
  const unlinks = fs.only('unlink').map((e) => e.path.slice(dir.length + 1));
  assert.equal(unlinks, starts.slice(2).reverse().map(segmentName));
  const syncDir = fs.events.findIndex((e) => e.op === 'syncDir');
  const cutName = segmentName(starts[1]!);
  const cut = fs.events.findIndex((e) => e.op === 'truncate' && e.path.endsWith(cutName));
  assert.ok(syncDir >= 0 && cut > syncDir, 'the cut happens after the deletions are durable');
  assert.is(fs.only('write', cutName).length, 0, 'old records are not zeroed in place (a crash could stop half-way)');
  const cutSynced = fs.events.findIndex((e) => e.op === 'datasync:done' && e.path.endsWith(cutName));
  assert.ok(cutSynced > cut, 'the new length is made durable');
  assert.is((await fileBytes(dir, cutName)).length, fs.only('truncate', cutName)[0]!.position);
  await log.close();
}));

test('a preallocated segment keeps its size and zero fill after truncateAfter', () => withTempDir(async (dir) => {
  const log = await openLog({ dir, fs: nodeFileSystem, segmentBytes: 4096, preallocate: true });
  try {
    for (let i = 1; i <= 20; i++) log.append('s', `k${i}`, RecordKind.Put, i, new Uint8Array(60).fill(0xee), i);
    await log.sync();
    await log.truncateAfter(5);
    const bytes = await fileBytes(dir, segmentName(1));
    assert.is(bytes.length, 4096);
    const end = recordRanges(bytes).pop()!.end;
    assert.is(recordRanges(bytes).length, 5);
    assert.ok(bytes.subarray(end).every((b) => b === 0));
    log.append('s', 'n6', RecordKind.Put, 6, undefined, 6);
    await log.sync();
    assert.equal((await readAll(log)).map((r) => r.key), ['k1', 'k2', 'k3', 'k4', 'k5', 'n6']);
  } finally {
    await log.close();
  }
}));

test('a cursor past the cut reads the new records that replace the old ones', () => withTempDir(async (dir) => {
  const log = await build(dir);
  try {
    const cursor = log.cursor(1);
    while ((await cursor.next(200, 1))!.lastLsn < 30);
    assert.is(cursor.position, 31);
    await log.truncateAfter(20);
    for (let i = 21; i <= 35; i++) log.append('s', `r${i}`, RecordKind.Put, i, new Uint8Array(3), i);
    await log.sync();
    const read = await cursor.next(1 << 20);
    assert.ok(read);
    assert.equal(recordsOf(read).map((r) => r.key)[0], 'r31', 'the cursor relocates instead of reading a stale offset');
  } finally {
    await log.close();
  }
}));

test.run();
