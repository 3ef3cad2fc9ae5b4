// The onDurable hook: every durable group's record bytes, in LSN order,
// before its writers resolve; a throwing listener does not fail the log.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { openLog } from '../../src/log/index.js';
import { RecordKind } from '../../src/types.js';
import { readRecord } from '../../src/wire/record.js';
import { viewOf } from '../../src/wire/u64.js';
import { RecordingFs } from '../helpers/recordingFs.js';
import { withTempDir } from '../helpers/tempDir.js';
import { openSmallLog } from './logFixtures.js';

/** LSNs and keys of the whole records in `bytes`. */
function keysOf(bytes: Uint8Array): { lsn: number; key: string }[] {
  const out: { lsn: number; key: string }[] = [];
  const view = viewOf(bytes);
  for (let at = 0; at < bytes.length; at += view.getUint32(at, true)) {
    const r = readRecord(bytes, view, at);
    out.push({ lsn: r.lsn, key: r.key });
  }
  return out;
}

test('every record reaches onDurable exactly once, in LSN order, across groups and rolls', () => withTempDir(async (dir) => {
  const log = await openSmallLog(dir, { segmentBytes: 2048, groupMaxEntries: 7 });
  const seen: { lsn: number; key: string }[] = [];
  const calls: { firstLsn: number; count: number }[] = [];
  log.onDurable((bytes, firstLsn, count) => {
    const records = keysOf(bytes);
    assert.is(records.length, count, 'count matches the bytes');
    assert.is(records[0]!.lsn, firstLsn, 'firstLsn matches the bytes');
    calls.push({ firstLsn, count });
    seen.push(...records);
  });
  for (let i = 1; i <= 100; i++) log.append('s', `k${i}`, RecordKind.Put, i, new Uint8Array(20).fill(i), i);
  await log.sync();
  assert.equal(seen.map((r) => r.lsn), Array.from({ length: 100 }, (_, i) => i + 1));
  assert.equal(seen.map((r) => r.key), Array.from({ length: 100 }, (_, i) => `k${i + 1}`));
  assert.ok(calls.length >= 15, `one call per group (${calls.length})`);
  await log.close();
}));

test('onDurable runs after the group is durable and before its sync() resolves', () => withTempDir(async (dir) => {
  const fs = new RecordingFs();
  const log = await openLog({ dir, fs, segmentBytes: 1 << 20, preallocate: false, syncMethod: 'fdatasync' });
  const order: string[] = [];
  log.onDurable((_bytes, firstLsn) => {
    order.push(`durable:${firstLsn}`);
    fs.mark('durable');
  });
  log.append('s', 'a', RecordKind.Put, 1, undefined, 1);
  await log.sync().then(() => order.push('resolved'));
  assert.equal(order, ['durable:1', 'resolved']);
  const synced = fs.events.findIndex((e) => e.op === 'datasync:done');
  const durable = fs.events.findIndex((e) => e.op === 'mark:durable');
  assert.ok(synced >= 0 && synced < durable, 'the hook fires only after the fdatasync completed');
  await log.close();
}));

test('a throwing onDurable listener neither fails the log nor starves the others', () => withTempDir(async (dir) => {
  const log = await openSmallLog(dir, { segmentBytes: 4096 });
  let others = 0;
  log.onDurable(() => {
    throw new Error('host bug');
  });
  const off = log.onDurable((_b, _f, count) => void (others += count));
  log.append('s', 'a', RecordKind.Put, 1, undefined, 1);
  log.append('s', 'b', RecordKind.Put, 2, undefined, 2);
  await log.sync();
  assert.is(others, 2);
  off();
  log.append('s', 'c', RecordKind.Put, 3, undefined, 3);
  await log.sync();
  assert.is(others, 2, 'unsubscribed');
  assert.is(log.flushedLsn, 3);
  await log.close();
}));

test.run();
