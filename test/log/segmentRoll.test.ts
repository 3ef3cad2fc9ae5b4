import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseSegmentName, segmentName } from '../../src/log/index.js';
import { RecordKind } from '../../src/types.js';
import { readRecord } from '../../src/wire/record.js';
import { withTempDir } from '../helpers/tempDir.js';
import {
  appendAll, expectRecord, fileBytes, makeSamples, openSmallLog, readAll, recordRanges, recordsOf, seededRandom,
  segmentFiles, testSeed,
} from './logFixtures.js';

const seed = testSeed(0x5eed03);
console.log(`segmentRoll seed ${seed} (replay with SEED=${seed})`);
const SEGMENT_BYTES = 2048;

test('segment names are the first LSN in 20 digits and sort in LSN order', () => {
  assert.is(segmentName(1), '00000000000000000001.wal');
  assert.is(segmentName(Number.MAX_SAFE_INTEGER), '00009007199254740991.wal');
  assert.is(parseSegmentName('00000000000000000042.wal'), 42);
  assert.is(parseSegmentName('spare.wal.tmp'), undefined);
  assert.is(parseSegmentName('0000000000000000042.wal'), undefined, '19 digits');
  assert.is(parseSegmentName('00000000000000000000.wal'), undefined, 'LSN 0 holds no record');
  assert.is(parseSegmentName('99999999999999999999.wal'), undefined, 'beyond 2^53 - 1');
});

test('records spread over many segments, each named by its first LSN', () => withTempDir(async (dir) => {
  const samples = makeSamples(240, seededRandom(seed), 300);
  const log = await openSmallLog(dir, { segmentBytes: SEGMENT_BYTES });
  try {
    appendAll(log, samples);
    await log.sync();
    const names = await segmentFiles(dir);
    assert.ok(names.length >= 8, `many segments (${names.length})`);
    assert.equal(names.map((n) => parseSegmentName(n)), log.segmentStarts());
    let next = 1;
    for (const name of names) {
      const bytes = await fileBytes(dir, name);
      const ranges = recordRanges(bytes);
      assert.ok(bytes.length <= SEGMENT_BYTES, `${name} is within segmentBytes`);
      assert.is(ranges[ranges.length - 1]?.end, bytes.length, `${name} holds whole records only`);
      assert.is(readRecord(bytes).lsn, parseSegmentName(name), `${name} starts with its own LSN`);
      next += ranges.length;
    }
    assert.is(next, 241, 'the segments together hold every record exactly once');
  } finally {
    await log.close();
  }
}));

test('a cursor reads across rolls and log.read works from every LSN, before and after reopen', () => withTempDir(async (dir) => {
  const samples = makeSamples(180, seededRandom(seed + 1), 300);
  let log = await openSmallLog(dir, { segmentBytes: SEGMENT_BYTES, indexStrideBytes: 256 });
  try {
    appendAll(log, samples);
    await log.sync();
    const starts = log.segmentStarts();
    for (let pass = 0; pass < 2; pass++) {
      for (const maxBytes of [1, 700, 1 << 20]) {
        const all = await readAll(log, 1, maxBytes);
        assert.is(all.length, 180, `pass ${pass}, maxBytes ${maxBytes}`);
        all.forEach((r, i) => expectRecord(r, samples[i]!, i + 1));
      }
      for (let lsn = 1; lsn <= 180; lsn++) {
        const read = await log.read(lsn, 1);
        assert.ok(read, `read ${lsn}`);
        assert.is(read.count, 1);
        expectRecord(recordsOf(read)[0], samples[lsn - 1]!, lsn);
        const rest = await readAll(log, lsn, 4096);
        assert.is(rest.length, 181 - lsn, `cursor from ${lsn}`);
      }
      const firstLsn = log.firstLsn;
      const lastLsn = log.lastLsn;
      await log.close();
      log = await openSmallLog(dir, { segmentBytes: SEGMENT_BYTES, indexStrideBytes: 256 });
      assert.is(log.firstLsn, firstLsn);
      assert.is(log.lastLsn, lastLsn);
      assert.is(log.flushedLsn, lastLsn);
      assert.equal(log.segmentStarts(), starts, 'the same segments after reopen');
      assert.is(log.recovery.records, 180);
      assert.is(log.recovery.segments, starts.length);
      assert.is(log.recovery.tornTail, undefined);
    }
  } finally {
    await log.close();
  }
}));

test('appends after a reopen continue in the last segment and roll on', () => withTempDir(async (dir) => {
  const payload = new Uint8Array(150);
  let log = await openSmallLog(dir, { segmentBytes: SEGMENT_BYTES });
  for (let i = 1; i <= 20; i++) log.append('s', 'k', RecordKind.Entry, i, payload, i);
  await log.sync();
  const before = log.segmentStarts();
  await log.close();
  log = await openSmallLog(dir, { segmentBytes: SEGMENT_BYTES });
  try {
    for (let i = 21; i <= 40; i++) assert.is(log.append('s', 'k', RecordKind.Entry, i, payload, i), i);
    await log.sync();
    assert.equal(log.segmentStarts().slice(0, before.length), before);
    assert.ok(log.segmentStarts().length > before.length);
    const all = await readAll(log);
    assert.equal(all.map((r) => r.seq), Array.from({ length: 40 }, (_, i) => i + 1));
  } finally {
    await log.close();
  }
}));

test('a record bigger than segmentBytes gets a segment of its own', () => withTempDir(async (dir) => {
  let log = await openSmallLog(dir, { segmentBytes: 1024 });
  log.append('s', 'a', RecordKind.Entry, 1, new Uint8Array(100), 1);
  log.append('s', 'b', RecordKind.Entry, 2, new Uint8Array(5000).fill(9), 2);
  log.append('s', 'c', RecordKind.Entry, 3, new Uint8Array(100), 3);
  await log.sync();
  assert.equal(log.segmentStarts(), [1, 2, 3]);
  await log.close();
  log = await openSmallLog(dir, { segmentBytes: 1024 });
  try {
    const all = await readAll(log, 1, 10);
    assert.equal(all.map((r) => r.key), ['a', 'b', 'c']);
    assert.is(all[1]!.payload.length, 5000);
    assert.ok(all[1]!.payload.every((b) => b === 9));
  } finally {
    await log.close();
  }
}));

test.run();
