import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ReplicationError } from '../../src/errors.js';
import { type Log, openLog } from '../../src/log/index.js';
import { RecordKind } from '../../src/types.js';
import { RecordingFs } from '../helpers/recordingFs.js';
import { withTempDir } from '../helpers/tempDir.js';
import { openSmallLog, readAll, rejectsWith, throwsWith } from './logFixtures.js';

const add = (log: Log, key: string): number => log.append('s', key, RecordKind.Put, 1, new Uint8Array(10), 1);

async function openFailing(dir: string): Promise<{ fs: RecordingFs; log: Log }> {
  const fs = new RecordingFs();
  const log = await openLog({ dir, fs, segmentBytes: 4096, preallocate: false, syncMethod: 'fdatasync' });
  add(log, 'ok');
  await log.sync();
  return { fs, log };
}

test('a failing datasync rejects sync(), fails the log, and leaves no promise hanging', () => withTempDir(async (dir) => {
  const { fs, log } = await openFailing(dir);
  fs.failOn('datasync', () => new Error('EIO: simulated disk failure'));
  const gate = fs.gate('datasync');
  add(log, 'doomed-1');
  const first = log.sync();
  await gate.reached;
  add(log, 'doomed-2'); // queued behind the failing group
  const second = log.sync();
  const waiter = log.waitFlushed(3);
  gate.release();
  const results = await Promise.allSettled([first, second, waiter]);
  for (const r of results) {
    assert.is(r.status, 'rejected');
    const reason = (r as PromiseRejectedResult).reason as ReplicationError;
    assert.instance(reason, ReplicationError);
    assert.is(reason.code, 'IoError');
    assert.ok(reason.suggestion, 'says what to do');
  }
  assert.is(log.flushedLsn, 1, 'nothing past the failure counts as durable');
  throwsWith(() => add(log, 'later'), 'IoError');
  throwsWith(() => log.appendRecords(new Uint8Array(0), 4, 0), 'IoError');
  await rejectsWith(log.sync(), 'IoError');
  await rejectsWith(log.waitFlushed(10), 'IoError');
  await rejectsWith(log.truncateAfter(0), 'IoError');
  assert.is((await log.read(1, 100))?.count, 1, 'durable records stay readable');
  await log.close();

  const reopened = await openSmallLog(dir);
  try {
    // The failed group's bytes may or may not have reached the disk; either
    // way the log reopens with a clean prefix of what was appended.
    const keys = (await readAll(reopened)).map((r) => r.key);
    assert.equal(keys, ['ok', 'doomed-1', 'doomed-2'].slice(0, keys.length));
    assert.ok(keys.length >= 1 && reopened.lastLsn === keys.length);
  } finally {
    await reopened.close();
  }
}));

test('a failing write fails the log the same way', () => withTempDir(async (dir) => {
  const { fs, log } = await openFailing(dir);
  fs.failOn('write', () => new ReplicationError('IoError', 'write failed (ENOSPC)'));
  add(log, 'x');
  const err = await rejectsWith(log.sync(), 'IoError');
  assert.ok(err.message.includes('ENOSPC'), err.message);
  throwsWith(() => add(log, 'y'), 'IoError');
  await log.close();
}));

test('a closed log refuses appends and rejects waiters with LogClosed', () => withTempDir(async (dir) => {
  const log = await openSmallLog(dir);
  add(log, 'a');
  const pending = log.waitFlushed(5);
  await log.close();
  assert.is(log.flushedLsn, 1, 'close flushed what was appended');
  await rejectsWith(pending, 'LogClosed');
  throwsWith(() => add(log, 'b'), 'LogClosed');
  throwsWith(() => log.appendRecords(new Uint8Array(0), 2, 0), 'LogClosed');
  await rejectsWith(log.waitFlushed(2), 'LogClosed');
  await rejectsWith(log.truncateAfter(0), 'LogClosed');
  await rejectsWith(log.resetTo(10), 'LogClosed');
  await log.waitFlushed(1); // already durable: still fine
  await log.close(); // idempotent

  const reopened = await openSmallLog(dir);
  assert.is(reopened.lastLsn, 1);
  await reopened.close();
}));

test('appends made just before close are flushed by close', () => withTempDir(async (dir) => {
  const log = await openSmallLog(dir);
  for (let i = 0; i < 50; i++) add(log, `k${i}`);
  const syncing = log.sync();
  await log.close();
  await syncing;
  assert.is(log.flushedLsn, 50);
  const reopened = await openSmallLog(dir);
  assert.is(reopened.lastLsn, 50);
  await reopened.close();
}));

test('an append racing close is either flushed or refused with LogClosed, never an IoError', () => withTempDir(async (dir) => {
  const log = await openSmallLog(dir);
  let outcome = 'none';
  let syncing: Promise<unknown> = Promise.resolve();
  queueMicrotask(() => {
    try {
      add(log, 'late');
      syncing = log.sync().then(() => (outcome = 'flushed'), (e: ReplicationError) => (outcome = e.code));
    } catch (e) {
      outcome = (e as ReplicationError).code;
    }
  });
  const closing = log.close();
  const second = log.close();
  const waiting = log.waitFlushed(0);
  await Promise.all([closing, second, waiting]);
  await syncing;
  assert.ok(outcome === 'flushed' || outcome === 'LogClosed', `outcome ${outcome}`);
  const reopened = await openSmallLog(dir);
  assert.is(reopened.lastLsn, outcome === 'flushed' ? 1 : 0);
  await reopened.close();
}));

test('waitFlushed during close resolves for LSNs being flushed', () => withTempDir(async (dir) => {
  const log = await openSmallLog(dir);
  add(log, 'a');
  add(log, 'b');
  const closing = log.close();
  await log.waitFlushed(2);
  await rejectsWith(log.waitFlushed(3), 'LogClosed');
  await closing;
  assert.is(log.flushedLsn, 2);
}));

test('an invalid entry is refused without consuming an LSN', () => withTempDir(async (dir) => {
  const log = await openSmallLog(dir);
  try {
    throwsWith(() => log.append('', 'k', RecordKind.Put, 1, undefined, 1), 'InvalidEntry');
    throwsWith(() => log.append('s', 'k'.repeat(2000), RecordKind.Put, 1, undefined, 1), 'InvalidEntry');
    throwsWith(() => log.append('s', 'k', 300, 1, undefined, 1), 'InvalidEntry');
    assert.is(log.lastLsn, 0);
    assert.is(add(log, 'fine'), 1);
    await log.sync();
    assert.equal((await readAll(log)).map((r) => r.key), ['fine']);
  } finally {
    await log.close();
  }
}));

test('openLog surfaces an unreadable directory as an IoError', () => withTempDir(async (dir) => {
  const fs = new RecordingFs();
  fs.failOn('readdir', () => new ReplicationError('IoError', 'readdir failed (EACCES)'));
  await rejectsWith(openLog({ dir, fs }), 'IoError');
}));

test.run();
