import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type Log, openLog, segmentName } from '../../src/log/index.js';
import { RecordKind } from '../../src/types.js';
import { RecordingFs } from '../helpers/recordingFs.js';
import { withTempDir } from '../helpers/tempDir.js';
import { fileBytes, recordRanges } from './logFixtures.js';

const PAYLOAD = new Uint8Array(60).fill(1);
/** Every record below is 40 + 5 ('space') + 4 ('k000') + 60 = 109 bytes. */
const RECORD_BYTES = 109;
const SEG1 = segmentName(1);

function add(log: Log, i: number): number {
  return log.append('space', `k${String(i % 1000).padStart(3, '0')}`, RecordKind.Put, i, PAYLOAD, i);
}

async function openRecorded(dir: string, options: { groupMaxEntries?: number; groupMaxBytes?: number; segmentBytes?: number; syncMethod?: 'dsync' | 'fdatasync' } = {}) {
  const fs = new RecordingFs();
  const log = await openLog({ dir, fs, segmentBytes: 1 << 20, preallocate: false, syncMethod: 'fdatasync', ...options });
  fs.clear();
  return { fs, log };
}

test('no sync() resolves before the datasync covering its bytes has completed', () => withTempDir(async (dir) => {
  const { fs, log } = await openRecorded(dir);
  const path = `${dir}/${SEG1}`;
  const seen: { lsn: number; durable: number }[] = [];
  const pending: Promise<void>[] = [];
  let i = 0;
  for (const burst of [1, 7, 30, 2, 1, 50, 3]) {
    for (let k = 0; k < burst; k++) {
      const lsn = add(log, ++i);
      pending.push(log.sync().then(() => {
        fs.mark('resolved', String(lsn));
        seen.push({ lsn, durable: fs.durableEnd(path) });
      }));
    }
    if (burst % 2 === 1) await pending[pending.length - 1];
  }
  await Promise.all(pending);
  await log.close();
  const ranges = recordRanges(await fileBytes(dir, SEG1));
  assert.is(ranges.length, i);
  assert.is(seen.length, i);
  for (const { lsn, durable } of seen) {
    assert.ok(durable >= ranges[lsn - 1]!.end, `sync() covering LSN ${lsn} resolved with only ${durable} bytes durable`);
  }
  const firstDone = fs.events.findIndex((e) => e.op === 'datasync:done');
  const firstResolved = fs.events.findIndex((e) => e.op === 'mark:resolved');
  assert.ok(firstDone >= 0 && firstDone < firstResolved, 'the first resolution follows a completed datasync');
}));

test('appends made in one tick go out in one write and one datasync', () => withTempDir(async (dir) => {
  const { fs, log } = await openRecorded(dir);
  const syncs = [];
  for (let i = 1; i <= 200; i++) {
    add(log, i);
    syncs.push(log.sync());
  }
  await Promise.all(syncs);
  assert.is(log.flushedLsn, 200);
  const writes = fs.only('write', SEG1);
  assert.is(writes.length, 1, 'one write');
  assert.is(writes[0]!.length, 200 * RECORD_BYTES, 'holding all 200 records');
  assert.is(fs.only('datasync', SEG1).length, 1, 'one datasync');
  await log.close();
}));

test('a lone append on an idle log is written at once, without waiting for more', () => withTempDir(async (dir) => {
  const { fs, log } = await openRecorded(dir);
  const gate = fs.gate('write');
  add(log, 1);
  await gate.reached; // would hang if the log waited for company
  assert.is(fs.only('write', SEG1)[0]?.length, RECORD_BYTES, 'a group of one record');
  gate.release();
  await log.sync();
  assert.is(log.flushedLsn, 1);
  // No timer: the write was issued within the same macrotask as the append.
  fs.clear();
  add(log, 2);
  await null;
  await null;
  assert.is(fs.only('write', SEG1).length, 1, 'write issued after two microtask turns');
  await log.sync();
  await log.close();
}));

test('appends made while a flush is in flight form the next group', () => withTempDir(async (dir) => {
  const { fs, log } = await openRecorded(dir);
  const gate = fs.gate('datasync');
  add(log, 1);
  const first = log.sync();
  await gate.reached;
  let secondDone = false;
  for (let i = 2; i <= 41; i++) add(log, i);
  const second = log.sync().then(() => (secondDone = true));
  gate.release();
  await first;
  await second;
  assert.ok(secondDone);
  const writes = fs.only('write', SEG1);
  assert.equal(writes.map((w) => w.length), [RECORD_BYTES, 40 * RECORD_BYTES], 'one record, then the 40 that waited');
  assert.equal(writes.map((w) => w.position), [0, RECORD_BYTES]);
  assert.equal(fs.ops(SEG1), ['write', 'datasync', 'write', 'datasync']);
  await log.close();
}));

test('groupMaxEntries and groupMaxBytes cap a group', () => withTempDir(async (dir) => {
  const { fs, log } = await openRecorded(dir, { groupMaxEntries: 10 });
  for (let i = 1; i <= 35; i++) add(log, i);
  await log.sync();
  assert.equal(fs.only('write', SEG1).map((w) => w.length / RECORD_BYTES), [10, 10, 10, 5]);
  assert.is(fs.only('datasync', SEG1).length, 4);
  await log.close();
}));

test('groupMaxBytes caps a group by size', () => withTempDir(async (dir) => {
  const cap = 4 * RECORD_BYTES;
  const { fs, log } = await openRecorded(dir, { groupMaxBytes: cap });
  for (let i = 1; i <= 10; i++) add(log, i);
  await log.sync();
  const sizes = fs.only('write', SEG1).map((w) => w.length / RECORD_BYTES);
  assert.ok(sizes.length >= 3, `10 records of ${RECORD_BYTES} bytes need several groups of <= ${cap} bytes`);
  assert.ok(sizes.every((n) => n >= 1 && n * RECORD_BYTES <= cap), `group sizes ${sizes.join(', ')}`);
  assert.is(sizes.reduce((a, b) => a + b, 0), 10);
  await log.close();
}));

test('a group that spans a roll makes the older segment durable before creating the next', () => withTempDir(async (dir) => {
  const { fs, log } = await openRecorded(dir, { segmentBytes: 10 * RECORD_BYTES });
  for (let i = 1; i <= 15; i++) add(log, i);
  await log.sync();
  const seg2 = segmentName(11);
  const synced1 = fs.events.findIndex((e) => e.op === 'datasync:done' && e.path.endsWith(SEG1));
  const created2 = fs.events.findIndex((e) => e.path.endsWith(seg2));
  assert.ok(synced1 >= 0 && created2 > synced1,
    'a crash can never leave records in the new segment after a torn tail in the old one');
  assert.equal(fs.ops(seg2), ['open', 'write', 'datasync']);
  const syncDir = fs.events.findIndex((e) => e.op === 'syncDir');
  assert.ok(syncDir > fs.events.findIndex((e) => e.op === 'datasync:done' && e.path.endsWith(seg2)),
    'the new file name is made durable before the group resolves');
  assert.equal(log.segmentStarts(), [1, 11]);
  await log.close();
}));

test.run();
