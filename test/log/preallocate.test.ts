import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { nodeFileSystem } from '../../src/adapters/nodeFileSystem.js';
import { type Log, openLog, segmentName } from '../../src/log/index.js';
import { RecordKind } from '../../src/types.js';
import { RecordingFs } from '../helpers/recordingFs.js';
import { withTempDir } from '../helpers/tempDir.js';
import { fileBytes, readAll, recordRanges, segmentFiles } from './logFixtures.js';

const SEGMENT_BYTES = 8192;
const SPARE = 'spare.wal.tmp';
const open = (dir: string, fs = nodeFileSystem): Promise<Log> =>
  openLog({ dir, fs, segmentBytes: SEGMENT_BYTES, preallocate: true });

async function fill(log: Log, from: number, to: number): Promise<void> {
  for (let i = from; i <= to; i++) log.append('s', `k${i}`, RecordKind.Put, i, new Uint8Array(200).fill(i % 251 + 1), i);
  await log.sync();
}

test('preallocated segments are segmentBytes long, records then zero fill', () => withTempDir(async (dir) => {
  const log = await open(dir);
  try {
    await fill(log, 1, 100);
    const names = await segmentFiles(dir);
    assert.ok(names.length >= 3, `several segments (${names.length})`);
    for (const name of names) {
      const bytes = await fileBytes(dir, name);
      assert.is(bytes.length, SEGMENT_BYTES, `${name} is preallocated`);
      const ranges = recordRanges(bytes);
      const end = ranges[ranges.length - 1]?.end ?? 0;
      assert.ok(bytes.subarray(end).every((b) => b === 0), `${name} is zero after its records`);
    }
    assert.is(log.diskBytes, names.length * SEGMENT_BYTES);
  } finally {
    await log.close();
  }
  const spare = await stat(join(dir, SPARE));
  assert.is(spare.size, SEGMENT_BYTES, 'a spare is ready for the next roll');
}));

test('a roll renames the zero-filled spare into place instead of growing a new file', () => withTempDir(async (dir) => {
  const fs = new RecordingFs();
  const log = await open(dir, fs);
  try {
    await fill(log, 1, 10);
    fs.clear();
    await fill(log, 11, 60);
    const renames = fs.only('rename').filter((e) => e.path.endsWith(SPARE));
    assert.ok(renames.length >= 1, 'the spare became a segment');
    for (const r of renames) assert.match(r.to, /\d{20}\.wal$/);
    const segmentWrites = fs.only('write').filter((e) => /\d{20}\.wal$/.test(e.path));
    assert.ok(segmentWrites.every((w) => w.position + w.length <= SEGMENT_BYTES), 'appends overwrite preallocated blocks');
  } finally {
    await log.close();
  }
}));

test('recovery of a preallocated log is exact: zero fill is neither a torn tail nor an error', () => withTempDir(async (dir) => {
  let log = await open(dir);
  await fill(log, 1, 75);
  const starts = log.segmentStarts();
  await log.close();
  for (let round = 0; round < 2; round++) {
    log = await open(dir);
    try {
      assert.is(log.lastLsn, 75 + round * 5);
      assert.equal(log.segmentStarts().slice(0, starts.length), starts);
      assert.is(log.recovery.tornTail, undefined);
      assert.is(log.recovery.repaired, undefined);
      assert.is(log.recovery.records, 75 + round * 5);
      assert.equal((await readAll(log)).map((r) => r.seq), Array.from({ length: 75 + round * 5 }, (_, i) => i + 1));
      await fill(log, 76 + round * 5, 80 + round * 5);
    } finally {
      await log.close();
    }
  }
}));

test('a left-over spare with junk is ignored and replaced on reopen', () => withTempDir(async (dir) => {
  let log = await open(dir);
  await fill(log, 1, 30);
  await log.close();
  await writeFile(join(dir, SPARE), new Uint8Array(SEGMENT_BYTES * 2).fill(0xab));
  log = await open(dir);
  try {
    assert.is(log.lastLsn, 30);
    assert.is(log.recovery.tornTail, undefined);
    await fill(log, 31, 120); // rolls at least once, through the spare
    assert.equal((await readAll(log)).map((r) => r.seq), Array.from({ length: 120 }, (_, i) => i + 1));
  } finally {
    await log.close();
  }
  const spare = await fileBytes(dir, SPARE);
  assert.is(spare.length, SEGMENT_BYTES);
  assert.ok(spare.every((b) => b === 0), 'the junk spare was replaced by a zero-filled one');
  for (const name of await segmentFiles(dir)) {
    const bytes = await fileBytes(dir, name);
    const end = recordRanges(bytes).pop()?.end ?? 0;
    assert.is(bytes.length, SEGMENT_BYTES);
    assert.ok(bytes.subarray(end).every((b) => b === 0), `${name} holds no junk after its records`);
  }
  assert.is((await segmentFiles(dir))[0], segmentName(1));
}));

test('a log written without preallocation is padded when reopened with it', () => withTempDir(async (dir) => {
  let log = await openLog({ dir, fs: nodeFileSystem, segmentBytes: SEGMENT_BYTES, preallocate: false });
  await fill(log, 1, 5);
  await log.close();
  const name = segmentName(1);
  assert.is((await fileBytes(dir, name)).length, recordRanges(await fileBytes(dir, name)).pop()!.end);
  log = await open(dir);
  try {
    assert.is((await fileBytes(dir, name)).length, SEGMENT_BYTES);
    await fill(log, 6, 8);
    assert.is((await readAll(log)).length, 8);
  } finally {
    await log.close();
  }
}));

test.run();
