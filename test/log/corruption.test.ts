import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseSegmentName } from '../../src/log/index.js';
import { RecordKind } from '../../src/types.js';
import { withTempDir } from '../helpers/tempDir.js';
import { fileBytes, openSmallLog, readAll, recordRanges, rejectsWith, segmentFiles } from './logFixtures.js';

const SEGMENT_BYTES = 1024;

/** A closed log of 40 records over several 1 KiB segments; returns its segment names. */
async function build(dir: string): Promise<string[]> {
  const log = await openSmallLog(dir, { segmentBytes: SEGMENT_BYTES });
  for (let i = 1; i <= 40; i++) log.append('space', `key-${i}`, RecordKind.Put, i, new Uint8Array(30 + (i % 7) * 5).fill(i), i);
  await log.sync();
  await log.close();
  const names = await segmentFiles(dir);
  assert.ok(names.length >= 4, `several segments (${names.length})`);
  return names;
}

/** Flips the byte in the middle of record number `index` of segment `name`; returns the record's start and LSN. */
async function flipRecordByte(dir: string, name: string, index: number): Promise<{ start: number; lsn: number }> {
  const bytes = await fileBytes(dir, name);
  const range = recordRanges(bytes)[index]!;
  bytes[(range.start + range.end) >> 1]! ^= 0x40;
  await writeFile(join(dir, name), bytes);
  return { start: range.start, lsn: parseSegmentName(name)! + index };
}

test('a flipped byte in an older segment refuses to open, naming file and offset', () => withTempDir(async (dir) => {
  const names = await build(dir);
  const damaged = names[1]!;
  const { start, lsn } = await flipRecordByte(dir, damaged, 2);
  const err = await rejectsWith(openSmallLog(dir, { segmentBytes: SEGMENT_BYTES }), 'Corruption');
  assert.ok(err.message.includes(damaged), err.message);
  assert.ok(err.message.includes(`byte ${start}`), err.message);
  assert.is(err.context?.file, damaged);
  assert.is(err.context?.offset, start);
  assert.equal(await segmentFiles(dir), names, 'nothing was deleted');

  const log = await openSmallLog(dir, { segmentBytes: SEGMENT_BYTES, repair: true });
  try {
    const repaired = log.recovery.repaired;
    assert.ok(repaired);
    assert.is(repaired.file, damaged);
    assert.is(repaired.offset, start);
    assert.is(repaired.reason, 'checksum');
    assert.is(repaired.discardedFromLsn, lsn);
    assert.equal(repaired.removedSegments, names.slice(2));
    assert.equal(await segmentFiles(dir), names.slice(0, 2));
    assert.is(log.lastLsn, lsn - 1);
    assert.equal((await readAll(log)).map((r) => r.key), Array.from({ length: lsn - 1 }, (_, i) => `key-${i + 1}`));
    assert.is(log.append('space', 'after', RecordKind.Put, 1, undefined, 1), lsn);
    await log.sync();
  } finally {
    await log.close();
  }
  const again = await openSmallLog(dir, { segmentBytes: SEGMENT_BYTES });
  assert.is(again.lastLsn, lsn, 'the repaired log opens cleanly without repair');
  assert.is(again.recovery.repaired, undefined);
  await again.close();
}));

test('a flipped byte in the last segment with intact records beyond one group after it is corruption, not a torn tail', () => withTempDir(async (dir) => {
  const names = await build(dir);
  const last = names[names.length - 1]!;
  const count = recordRanges(await fileBytes(dir, last)).length;
  assert.ok(count >= 3);
  const { start, lsn } = await flipRecordByte(dir, last, 1);
  const err = await rejectsWith(openSmallLog(dir, { segmentBytes: SEGMENT_BYTES, groupMaxBytes: 1 }), 'Corruption');
  assert.ok(err.message.includes(last) && err.message.includes(`byte ${start}`), err.message);
  assert.is(err.context?.offset, start);

  const log = await openSmallLog(dir, { segmentBytes: SEGMENT_BYTES, groupMaxBytes: 1, repair: true });
  try {
    assert.equal(log.recovery.repaired, {
      file: last, offset: start, reason: 'checksum', discardedFromLsn: lsn, removedSegments: [],
    });
    assert.is(log.recovery.tornTail, undefined);
    assert.is(log.lastLsn, lsn - 1);
    const keys = (await readAll(log)).map((r) => r.key);
    assert.equal(keys, Array.from({ length: lsn - 1 }, (_, i) => `key-${i + 1}`));
    const tail = (await fileBytes(dir, last)).subarray(start);
    assert.ok(tail.every((b) => b === 0), 'the cut records are zeroed, so they cannot come back');
  } finally {
    await log.close();
  }
}));

test('damage to the last record of the last segment is a torn tail, cut silently', () => withTempDir(async (dir) => {
  const names = await build(dir);
  const last = names[names.length - 1]!;
  const count = recordRanges(await fileBytes(dir, last)).length;
  const { lsn } = await flipRecordByte(dir, last, count - 1);
  const log = await openSmallLog(dir, { segmentBytes: SEGMENT_BYTES });
  try {
    assert.is(log.lastLsn, lsn - 1);
    assert.is(log.recovery.tornTail?.file, last);
    assert.is(log.recovery.repaired, undefined);
  } finally {
    await log.close();
  }
}));

test('a missing middle segment is corruption; repair keeps what comes before the gap', () => withTempDir(async (dir) => {
  const names = await build(dir);
  await rm(join(dir, names[2]!));
  const err = await rejectsWith(openSmallLog(dir, { segmentBytes: SEGMENT_BYTES }), 'Corruption');
  assert.is(err.context?.reason, 'missing-segment');
  assert.is(err.context?.file, names[1]);
  assert.ok(err.message.includes(names[1]!), err.message);

  const log = await openSmallLog(dir, { segmentBytes: SEGMENT_BYTES, repair: true });
  try {
    const repaired = log.recovery.repaired;
    assert.is(repaired?.reason, 'missing-segment');
    assert.is(repaired?.discardedFromLsn, parseSegmentName(names[2]!));
    assert.equal(repaired?.removedSegments, names.slice(3));
    assert.is(log.lastLsn, parseSegmentName(names[2]!)! - 1);
    assert.is((await readAll(log)).length, log.lastLsn);
  } finally {
    await log.close();
  }
}));

test('a flipped byte in a record header (LSN field) of an older segment is caught by the CRC', () => withTempDir(async (dir) => {
  const names = await build(dir);
  const bytes = await fileBytes(dir, names[0]!);
  const second = recordRanges(bytes)[1]!;
  bytes[second.start + 8]! ^= 0x01; // the LSN's lowest byte
  await writeFile(join(dir, names[0]!), bytes);
  const err = await rejectsWith(openSmallLog(dir, { segmentBytes: SEGMENT_BYTES }), 'Corruption');
  assert.is(err.context?.offset, second.start);
}));

test('a hole followed by intact records within one group is a torn (unacknowledged) write, cut', () => withTempDir(async (dir) => {
  const names = await build(dir);
  const last = names[names.length - 1]!;
  const ranges = recordRanges(await fileBytes(dir, last));
  assert.ok(ranges.length >= 3);
  // An earlier page of the last group write never reached the disk; later ones did.
  const { start, lsn } = await flipRecordByte(dir, last, 1);
  const log = await openSmallLog(dir, { segmentBytes: SEGMENT_BYTES }); // default window: 4 MiB
  try {
    assert.is(log.recovery.repaired, undefined);
    assert.equal(log.recovery.tornTail?.file, last);
    assert.is(log.recovery.tornTail?.offset, start);
    assert.is(log.lastLsn, lsn - 1, 'the records after the hole, never acknowledged, are cut too');
    const tail = (await fileBytes(dir, last)).subarray(start);
    assert.ok(tail.every((b) => b === 0), 'and zeroed, so they cannot come back');
  } finally {
    await log.close();
  }
}));

test.run();
