// Publishing: records appended are readable by a `beyondDurable` cursor
// while their durable write is still held, never by a durable cursor or
// `read`; publish listeners and waiters fire before durability; bytes that
// leave the cache before they are durable are read once durable; a failed
// write publishes nothing more.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Log, LogCursor, LogOptions } from '../../src/log/index.js';
import { type Gate, RecordingFs } from '../helpers/recordingFs.js';
import { withTempDir } from '../helpers/tempDir.js';
import { appendAll, expectRecord, makeSamples, openSmallLog, recordsOf, rejectsWith, seededRandom } from './logFixtures.js';

const isSegment = (path: string) => !path.endsWith('.spare') && !path.endsWith('meta.json');

/** One turn of the event loop: whatever was already due (microtasks, ready callbacks) has run. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Runs `fn` with a log (64 KiB segments) on a RecordingFs; `hold()` holds its
 * next segment write until released. Every hold is released before the log
 * closes, so a failing assertion cannot leave close() waiting on it.
 */
/**
 * Asserts that `cursor` is not woken while the log's write is held (`why`),
 * then releases it (`gate`), waits for `durable` and for the wake-up.
 */
async function wokenOnlyOnceDurable(cursor: LogCursor, gate: Gate, durable: Promise<void>, why: string): Promise<void> {
  let woke = false;
  const more = cursor.waitForMore().then(() => (woke = true));
  await nextTurn();
  assert.not.ok(woke, why);
  gate.release();
  await durable;
  await more;
}

async function withHeldLog(options: Partial<LogOptions>, fn: (log: Log, hold: () => Gate, fs: RecordingFs) => Promise<void>): Promise<void> {
  await withTempDir(async (dir) => {
    const fs = new RecordingFs();
    const log = await openSmallLog(dir, { fs, segmentBytes: 64 * 1024, ...options });
    const gates: Gate[] = [];
    try {
      await fn(log, () => {
        const gate = fs.gate('write', isSegment);
        gates.push(gate);
        return gate;
      }, fs);
    } finally {
      for (const gate of gates) gate.release();
      await log.close().catch(() => undefined);
    }
  });
}

test('a published record is read by a beyondDurable cursor before its write completes; a durable cursor waits', () => withHeldLog({}, async (log, hold) => {
  const samples = makeSamples(5, seededRandom(7), 100);
  const published: number[] = [];
  log.onPublished((lsn) => published.push(lsn));
  const gate = hold();
  appendAll(log, samples);
  const durable = log.sync();
  await gate.reached;
  await log.waitPublished(5);
  assert.is(log.publishedLsn, 5);
  assert.is(log.flushedLsn, 0, 'nothing is durable while the write is held');
  assert.equal(published, [5], 'one publish for the appends of one tick');
  const read = await log.cursor(1, { beyondDurable: true }).next(1 << 20);
  assert.ok(read, 'the beyondDurable cursor reads the published records');
  assert.is(read.count, 5);
  recordsOf(read).forEach((r, i) => expectRecord(r, samples[i]!, i + 1));
  assert.is(await log.cursor(1).next(1 << 20), undefined, 'a durable cursor sees nothing yet');
  assert.is(await log.read(1, 1 << 20), undefined, 'read() sees nothing yet');
  const durableCursor = log.cursor(1);
  await wokenOnlyOnceDurable(durableCursor, gate, durable, 'a durable cursor is not woken by publishing');
  assert.is((await durableCursor.next(1 << 20))?.count, 5, 'then it reads them');
}));

test('a beyondDurable cursor started past the durable end finds its position in the cache', () => withHeldLog({}, async (log, hold) => {
  const samples = makeSamples(30, seededRandom(8), 300);
  appendAll(log, samples.slice(0, 10));
  await log.sync();
  const gate = hold();
  appendAll(log, samples.slice(10));
  const durable = log.sync();
  await gate.reached;
  await log.waitPublished(30);
  const cursor = log.cursor(17, { beyondDurable: true });
  const read = await cursor.next(1 << 20);
  assert.ok(read);
  assert.is(read.firstLsn, 17);
  assert.is(read.lastLsn, 30);
  recordsOf(read).forEach((r, i) => expectRecord(r, samples[16 + i]!, 17 + i));
  assert.is(await cursor.next(1 << 20), undefined, 'nothing past the published end');
  gate.release();
  await durable;
}));

// A 1 KiB cache keeps only the newest records of the ~6 KiB appended below.
test('records that left the cache before they were durable are read once durable, not before', () => withHeldLog({ tailCacheBytes: 1024 }, async (log, hold) => {
  const samples = makeSamples(40, seededRandom(9), 300);
  const gate = hold();
  for (let at = 0; at < samples.length; at += 4) { // ten publishes: the cache slides past the first ones
    appendAll(log, samples.slice(at, at + 4));
    await log.waitPublished(at + 4);
  }
  const durable = log.sync();
  await gate.reached;
  const cursor = log.cursor(1, { beyondDurable: true });
  assert.is(await cursor.next(1 << 20), undefined, 'the first records are neither cached nor durable');
  await wokenOnlyOnceDurable(cursor, gate, durable, 'it waits for durability, not for more publishing');
  const got = [];
  for (let read = await cursor.next(4096); read !== undefined; read = await cursor.next(4096)) got.push(...recordsOf(read));
  assert.is(got.length, 40);
  got.forEach((r, i) => expectRecord(r, samples[i]!, i + 1));
}));

test('after a failed write nothing more is published and waiters reject', () => withHeldLog({}, async (log, _hold, fs) => {
  const samples = makeSamples(4, seededRandom(10), 100);
  fs.failOn('write', undefined, isSegment);
  appendAll(log, samples.slice(0, 2));
  await rejectsWith(log.sync(), 'IoError');
  assert.is(log.flushedLsn, 0);
  const beyond = log.publishedLsn;
  await rejectsWith(log.waitPublished(beyond + 1), 'IoError');
}));

test.run();
