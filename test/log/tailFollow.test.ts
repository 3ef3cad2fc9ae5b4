import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { openLog } from '../../src/log/index.js';
import { RecordKind } from '../../src/types.js';
import { RecordingFs } from '../helpers/recordingFs.js';
import { withTempDir } from '../helpers/tempDir.js';
import { openSmallLog, recordsOf } from './logFixtures.js';

/** Lets every queued microtask (and promise chain) run; no timers involved. */
async function drainMicrotasks(): Promise<void> {
  for (let i = 0; i < 20; i++) await null;
}

test('a cursor at the end waits and wakes when new records are flushed, not before', () => withTempDir(async (dir) => {
  const fs = new RecordingFs();
  const log = await openLog({ dir, fs, segmentBytes: 4096, preallocate: false, syncMethod: 'fdatasync' });
  try {
    log.append('s', 'k1', RecordKind.Put, 1, undefined, 1);
    await log.sync();
    const cursor = log.cursor(2);
    assert.is(await cursor.next(1000), undefined, 'nothing past the end yet');
    let woke = false;
    const waiting = cursor.waitForMore().then(() => (woke = true));
    const gate = fs.gate('datasync');
    log.append('s', 'k2', RecordKind.Put, 2, undefined, 2);
    await gate.reached;
    await drainMicrotasks();
    assert.is(woke, false, 'written but not yet fsynced: still waiting');
    assert.is(await cursor.next(1000), undefined, 'an unsynced record is not readable');
    gate.release();
    await waiting;
    assert.ok(woke);
    const read = await cursor.next(1000);
    assert.is(read?.firstLsn, 2);
    assert.is(recordsOf(read!)[0]?.key, 'k2');
    assert.is(cursor.position, 3);
  } finally {
    await log.close();
  }
}));

test('waitFlushed(lsn) resolves at once for durable LSNs and later for future ones', () => withTempDir(async (dir) => {
  const log = await openSmallLog(dir);
  try {
    log.append('s', 'a', RecordKind.Entry, 1, undefined, 1);
    await log.sync();
    await log.waitFlushed(1);
    await log.waitFlushed(0);
    let done = false;
    const waiting = log.waitFlushed(5).then(() => (done = true));
    for (let i = 2; i <= 4; i++) log.append('s', 'a', RecordKind.Entry, i, undefined, i);
    await log.sync();
    await drainMicrotasks();
    assert.is(done, false, 'LSN 4 flushed, 5 not yet appended');
    log.append('s', 'a', RecordKind.Entry, 5, undefined, 5);
    await waiting;
    assert.ok(log.flushedLsn >= 5);
  } finally {
    await log.close();
  }
}));

test('onFlushed fires after each group commit with increasing LSNs; unsubscribe stops it', () => withTempDir(async (dir) => {
  const log = await openSmallLog(dir, { groupMaxEntries: 7 });
  try {
    const seen: number[] = [];
    const off = log.onFlushed((lsn) => seen.push(lsn));
    let n = 0;
    for (const burst of [1, 3, 20, 1, 9]) {
      for (let k = 0; k < burst; k++) log.append('s', 'k', RecordKind.Entry, ++n, undefined, n);
      await log.sync();
    }
    assert.ok(seen.length >= 5, `one call per group (${seen.length})`);
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i]! > seen[i - 1]!, `increasing: ${seen.join(',')}`);
    assert.is(seen[seen.length - 1], n);
    off();
    const calls = seen.length;
    log.append('s', 'k', RecordKind.Entry, ++n, undefined, n);
    await log.sync();
    assert.is(seen.length, calls, 'no calls after unsubscribe');
  } finally {
    await log.close();
  }
}));

test('a follower loop reads every record in order while a writer appends in bursts', () => withTempDir(async (dir) => {
  const log = await openSmallLog(dir, { segmentBytes: 2048 });
  try {
    const total = 300;
    const follower = (async () => {
      const cursor = log.cursor(1);
      const keys: string[] = [];
      while (keys.length < total) {
        const read = await cursor.next(512);
        if (read === undefined) {
          await cursor.waitForMore();
          continue;
        }
        keys.push(...recordsOf(read).map((r) => r.key));
      }
      return keys;
    })();
    for (let i = 1; i <= total; i++) {
      log.append('s', `k${i}`, RecordKind.Put, i, new Uint8Array(i % 50), i);
      if (i % 17 === 0) await log.sync();
    }
    await log.sync();
    const keys = await follower;
    assert.equal(keys, Array.from({ length: total }, (_, i) => `k${i + 1}`));
  } finally {
    await log.close();
  }
}));

test('a throwing onFlushed listener does not fail the log or starve other listeners', () => withTempDir(async (dir) => {
  const log = await openSmallLog(dir);
  try {
    const seen: number[] = [];
    log.onFlushed(() => {
      throw new Error('listener bug');
    });
    log.onFlushed((lsn) => seen.push(lsn));
    log.append('s', 'k', RecordKind.Entry, 1, undefined, 1);
    await log.sync();
    log.append('s', 'k', RecordKind.Entry, 2, undefined, 2);
    await log.sync();
    assert.equal(seen, [1, 2]);
    assert.is(log.flushedLsn, 2);
  } finally {
    await log.close();
  }
}));

test.run();
