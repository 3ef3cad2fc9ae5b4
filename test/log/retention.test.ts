import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Log } from '../../src/log/index.js';
import { segmentName } from '../../src/log/index.js';
import { RecordKind } from '../../src/types.js';
import { withTempDir } from '../helpers/tempDir.js';
import { openSmallLog, readAll, rejectsWith, segmentFiles } from './logFixtures.js';

const SEGMENT_BYTES = 1024;
const open = (dir: string): Promise<Log> => openSmallLog(dir, { segmentBytes: SEGMENT_BYTES });

async function build(dir: string, count = 60): Promise<Log> {
  const log = await open(dir);
  for (let i = 1; i <= count; i++) log.append('s', `k${i}`, RecordKind.Put, i, new Uint8Array(50), i);
  await log.sync();
  return log;
}

test('retainFrom deletes only whole segments below the LSN', () => withTempDir(async (dir) => {
  let log = await build(dir);
  const starts = log.segmentStarts();
  assert.ok(starts.length >= 5, `several segments (${starts.length})`);
  try {
    assert.is(await log.retainFrom(starts[2]! - 1), 1, 'segment 2 still holds LSN starts[2] - 1');
    assert.is(log.firstLsn, starts[1]);
    assert.is(await log.retainFrom(starts[2]! + 1), 1, 'a partly needed segment stays');
    assert.is(log.firstLsn, starts[2]);
    assert.equal(await segmentFiles(dir), starts.slice(2).map(segmentName));
    assert.equal(log.segmentStarts(), starts.slice(2));
    await rejectsWith(log.read(starts[2]! - 1, 100), 'LogTruncated');
    await rejectsWith(log.read(1, 100), 'LogTruncated');
    assert.is((await log.read(starts[2]!, 100))?.firstLsn, starts[2]);
    assert.equal((await readAll(log)).map((r) => r.seq)[0], starts[2]);
    await log.close();
    log = await open(dir);
    assert.is(log.firstLsn, starts[2], 'retention survives reopen');
    assert.is(log.lastLsn, 60);
    assert.is((await readAll(log)).length, 60 - starts[2]! + 1);
  } finally {
    await log.close();
  }
}));

test('retainFrom never deletes the active segment', () => withTempDir(async (dir) => {
  const log = await build(dir);
  try {
    const starts = log.segmentStarts();
    assert.is(await log.retainFrom(Number.MAX_SAFE_INTEGER), starts.length - 1);
    assert.equal(log.segmentStarts(), [starts[starts.length - 1]!]);
    assert.equal(await segmentFiles(dir), [segmentName(starts[starts.length - 1]!)]);
    assert.is(await log.retainFrom(Number.MAX_SAFE_INTEGER), 0);
    assert.is(log.append('s', 'more', RecordKind.Put, 61, undefined, 61), 61);
    await log.sync();
    assert.is((await readAll(log)).pop()?.key, 'more');
  } finally {
    await log.close();
  }
}));

test('a cursor positioned in a deleted segment gets LogTruncated', () => withTempDir(async (dir) => {
  const log = await build(dir);
  try {
    const starts = log.segmentStarts();
    const cursor = log.cursor(1);
    assert.is((await cursor.next(1000, 2))?.lastLsn, 2, 'the cursor is inside the first segment');
    await log.retainFrom(starts[1]!);
    await rejectsWith(cursor.next(100), 'LogTruncated');
    await rejectsWith(log.cursor(1).next(100), 'LogTruncated');
    const fresh = log.cursor(starts[1]!);
    assert.is((await fresh.next(100))?.firstLsn, starts[1]);
  } finally {
    await log.close();
  }
}));

test('resetTo empties the log so the next record is lsn + 1, and survives reopen', () => withTempDir(async (dir) => {
  let log = await build(dir);
  try {
    log.epoch = 4;
    await log.resetTo(1000);
    assert.is(log.lastLsn, 1000);
    assert.is(log.flushedLsn, 1000);
    assert.is(log.firstLsn, 1001);
    assert.is(log.lastEpoch, 0);
    assert.equal(await segmentFiles(dir), [segmentName(1001)]);
    await rejectsWith(log.read(60, 100), 'LogTruncated');
    assert.is(await log.read(1001, 100), undefined);
    await log.close();

    log = await open(dir);
    assert.is(log.lastLsn, 1000, 'an empty reset log reopens at its reset point');
    assert.is(log.firstLsn, 1001);
    assert.is(log.append('s', 'after', RecordKind.Put, 1, undefined, 7), 1001);
    await log.sync();
    await log.close();

    log = await open(dir);
    assert.is(log.lastLsn, 1001);
    assert.equal((await readAll(log)).map((r) => [r.lsn, r.key]), [[1001, 'after']]);
  } finally {
    await log.close();
  }
}));

test('resetTo wakes tail followers waiting for LSNs it skipped', () => withTempDir(async (dir) => {
  const log = await build(dir, 10);
  try {
    const cursor = log.cursor(11);
    const woke = cursor.waitForMore();
    await log.resetTo(500);
    await woke; // would hang until some later append without the wake-up
    await rejectsWith(cursor.next(100), 'LogTruncated');
  } finally {
    await log.close();
  }
}));

test('resetTo below the current end restarts numbering there', () => withTempDir(async (dir) => {
  const log = await build(dir, 10);
  try {
    await log.resetTo(0);
    assert.equal(await segmentFiles(dir), [segmentName(1)]);
    assert.is(log.append('s', 'again', RecordKind.Put, 1, undefined, 1), 1);
    await log.sync();
    assert.equal((await readAll(log)).map((r) => r.key), ['again']);
  } finally {
    await log.close();
  }
}));

test.run();
