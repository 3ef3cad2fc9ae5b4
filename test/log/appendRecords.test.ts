import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { openLog, segmentName } from '../../src/log/index.js';
import { MAX_SAFE_U64, RecordKind } from '../../src/types.js';
import { encodeRecord } from '../../src/wire/record.js';
import { nodeFileSystem } from '../../src/adapters/nodeFileSystem.js';
import { withTempDir } from '../helpers/tempDir.js';
import { openSmallLog, readAll, rejectsWith, segmentFiles, throwsWith } from './logFixtures.js';

/** Records `from..to` as a primary would ship them: epoch 7, varied strings and payloads. */
function shipped(from: number, to: number): Uint8Array {
  const parts: Uint8Array[] = [];
  for (let lsn = from; lsn <= to; lsn++) {
    parts.push(encodeRecord(
      { lsn, seq: lsn * 2, timestampMs: 1_700_000_000_000 + lsn, epoch: 7, kind: lsn % 5, space: lsn % 2 ? 'notes' : 'ノート', key: `m${lsn}` },
      lsn % 3 === 0 ? undefined : new Uint8Array(lsn % 97).fill(lsn & 0xff),
    ));
  }
  return Buffer.concat(parts);
}

async function allBytes(log: Awaited<ReturnType<typeof openSmallLog>>): Promise<Buffer> {
  const cursor = log.cursor(log.firstLsn);
  const parts: Uint8Array[] = [];
  for (let r = await cursor.next(777); r !== undefined; r = await cursor.next(777)) parts.push(r.bytes.slice());
  return Buffer.concat(parts);
}

test('appendRecords writes the exact bytes it was given, across rolls and reopen', () => withTempDir(async (dir) => {
  const first = shipped(1, 60);
  const second = shipped(61, 100);
  let log = await openSmallLog(dir, { segmentBytes: 2048 });
  log.appendRecords(first, 1, 60);
  log.appendRecords(second, 61, 40);
  assert.is(log.lastLsn, 100);
  assert.is(log.lastEpoch, 7);
  assert.is(log.lastTimestampMs, 1_700_000_000_100);
  await log.sync();
  assert.ok((await allBytes(log)).equals(Buffer.concat([first, second])), 'byte for byte');
  assert.ok((await segmentFiles(dir)).length >= 3);
  await log.close();
  log = await openSmallLog(dir, { segmentBytes: 2048 });
  try {
    assert.ok((await allBytes(log)).equals(Buffer.concat([first, second])), 'byte for byte after reopen');
    const records = await readAll(log);
    assert.equal(records.slice(0, 3).map((r) => [r.lsn, r.seq, r.space, r.key, r.kind]),
      [[1, 2, 'notes', 'm1', 1], [2, 4, 'ノート', 'm2', 2], [3, 6, 'notes', 'm3', 3]]);
    assert.is(log.lastEpoch, 7);
    log.epoch = 8;
    assert.is(log.append('notes', 'local', RecordKind.Put, 1, undefined, 1), 101, 'local appends continue after shipped ones');
    await log.sync();
  } finally {
    await log.close();
  }
}));

test('appendRecords at the wrong LSN is a LogGap and changes nothing', () => withTempDir(async (dir) => {
  const log = await openSmallLog(dir);
  try {
    log.appendRecords(shipped(1, 5), 1, 5);
    const err = (() => {
      try {
        log.appendRecords(shipped(8, 9), 8, 2);
      } catch (e) {
        return e as { code: string; context?: Record<string, unknown> };
      }
      return undefined;
    })();
    assert.is(err?.code, 'LogGap');
    assert.equal(err?.context, { expected: 6, actual: 8 });
    throwsWith(() => log.appendRecords(shipped(5, 6), 5, 2), 'LogGap');
    throwsWith(() => log.appendRecords(shipped(6, 8), 6, 4), 'TruncatedBatch');
    const mislabelled = Buffer.concat([shipped(6, 6), shipped(8, 8)]);
    throwsWith(() => log.appendRecords(mislabelled, 6, 2), 'LogGap');
    throwsWith(() => log.appendRecords(new Uint8Array(64), 6, 1), 'TruncatedBatch');
    assert.is(log.lastLsn, 5, 'a refused batch appends nothing');
    log.appendRecords(shipped(6, 7), 6, 2);
    await log.sync();
    assert.equal((await readAll(log)).map((r) => r.lsn), [1, 2, 3, 4, 5, 6, 7]);
  } finally {
    await log.close();
  }
}));

test('LSNs stop at 2^53 - 1', () => withTempDir(async (dir) => {
  let log = await openLog({ dir, fs: nodeFileSystem, segmentBytes: 4096, preallocate: false, firstLsn: MAX_SAFE_U64 - 1 });
  assert.is(log.lastLsn, MAX_SAFE_U64 - 2);
  assert.is(log.append('s', 'a', RecordKind.Put, 1, undefined, 1), MAX_SAFE_U64 - 1);
  assert.is(log.append('s', 'b', RecordKind.Put, 2, undefined, 2), MAX_SAFE_U64);
  throwsWith(() => log.append('s', 'c', RecordKind.Put, 3, undefined, 3), 'LsnOverflow');
  throwsWith(() => log.appendRecords(new Uint8Array(0), MAX_SAFE_U64 + 1, 1), 'LsnOverflow');
  assert.is(log.lastLsn, MAX_SAFE_U64);
  await log.sync();
  assert.is(log.flushedLsn, MAX_SAFE_U64, 'the log still works after refusing');
  await log.close();
  assert.equal(await segmentFiles(dir), [segmentName(MAX_SAFE_U64 - 1)]);
  log = await openLog({ dir, fs: nodeFileSystem, segmentBytes: 4096, preallocate: false });
  try {
    assert.is(log.lastLsn, MAX_SAFE_U64);
    assert.equal((await readAll(log)).map((r) => r.key), ['a', 'b']);
    throwsWith(() => log.append('s', 'c', RecordKind.Put, 3, undefined, 3), 'LsnOverflow');
    await rejectsWith(log.read(1, 100), 'LogTruncated');
  } finally {
    await log.close();
  }
}));

test('appendRecords interleaves with the group commit of local appends', () => withTempDir(async (dir) => {
  const log = await openSmallLog(dir, { groupMaxEntries: 4 });
  try {
    log.appendRecords(shipped(1, 10), 1, 10);
    const syncs = [log.sync()];
    log.appendRecords(shipped(11, 11), 11, 1);
    syncs.push(log.sync());
    await Promise.all(syncs);
    assert.is(log.flushedLsn, 11);
    assert.ok((await allBytes(log)).equals(shipped(1, 11)));
  } finally {
    await log.close();
  }
}));

test.run();
