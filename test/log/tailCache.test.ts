// The log's tail cache: reads served from memory are byte for byte the reads
// the files give, across segment rolls, cache slides and records larger than
// the cache; a follower of the tail reads no file; a rewritten tail is never
// served stale.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Log } from '../../src/log/index.js';
import { RecordKind } from '../../src/types.js';
import { RecordingFs } from '../helpers/recordingFs.js';
import { withTempDir } from '../helpers/tempDir.js';
import { appendAll, expectRecord, makeSamples, openSmallLog, readAll, seededRandom, testSeed } from './logFixtures.js';

interface ReadPlan { from: number; chunks: number; maxBytes: number; maxEntries: number }

/** Runs each plan as a cursor from `from`, `chunks` reads; returns every read's bytes (copied). */
async function runPlans(log: Log, plans: readonly ReadPlan[]): Promise<number[][]> {
  const out: number[][] = [];
  for (const p of plans) {
    const cursor = log.cursor(p.from);
    for (let i = 0; i < p.chunks; i++) {
      const read = await cursor.next(p.maxBytes, p.maxEntries);
      out.push(read === undefined ? [] : [read.firstLsn, read.count, ...read.bytes]);
    }
  }
  return out;
}

test('reads from the tail cache equal reads from the files (rolls, slides, oversized records)', () => withTempDir(async (dir) => {
  const seed = testSeed(8_123);
  const random = seededRandom(seed);
  const samples = makeSamples(400, random, 3000); // records up to ~3 KB: some exceed half the 2 KiB cache
  let log = await openSmallLog(dir, { segmentBytes: 8192, tailCacheBytes: 2048 });
  const plans: ReadPlan[] = [];
  let cached: number[][] = [];
  const held: { bytes: Uint8Array; copy: number[] }[] = []; // reads kept uncopied while the cache moves on
  try {
    for (let at = 0; at < samples.length;) {
      const n = 1 + Math.floor(random() * 12);
      appendAll(log, samples.slice(at, at + n));
      await log.sync();
      at += n;
      const tail = await log.cursor(Math.max(1, log.flushedLsn - 2)).next(1 << 20);
      if (tail !== undefined) held.push({ bytes: tail.bytes, copy: [...tail.bytes] });
      // Readers near the tail (what the cache holds) and further back (files).
      for (let k = 0; k < 2; k++) {
        const back = k === 0 ? Math.floor(random() * 6) : Math.floor(random() * at);
        plans.push({ from: Math.max(1, log.flushedLsn - back), chunks: 1 + Math.floor(random() * 3), maxBytes: 1 + Math.floor(random() * 5000), maxEntries: 1 + Math.floor(random() * 8) });
      }
    }
    cached = await runPlans(log, plans);
    held.forEach((h, i) => assert.equal([...h.bytes], h.copy, `bytes handed out by read ${i} were overwritten`));
    const all = await readAll(log, 1, 700);
    samples.forEach((s, i) => expectRecord(all[i], s, i + 1));
  } finally {
    await log.close();
  }
  log = await openSmallLog(dir, { segmentBytes: 8192, tailCacheBytes: 0 });
  try {
    const fromFiles = await runPlans(log, plans);
    assert.is(cached.length, fromFiles.length);
    for (let i = 0; i < cached.length; i++) assert.equal(cached[i], fromFiles[i], `read ${i} (seed ${seed})`);
  } finally {
    await log.close();
  }
}));

test('a cursor following the tail reads no file while the cache holds what it needs; without the cache it does', async () => {
  for (const tailCacheBytes of [1 << 20, 0]) {
    await withTempDir(async (dir) => {
      const fs = new RecordingFs();
      const log = await openSmallLog(dir, { fs, segmentBytes: 1 << 20, tailCacheBytes });
      try {
        const cursor = log.cursor(1);
        const samples = makeSamples(60, seededRandom(5), 200);
        fs.clear();
        for (let i = 0; i < samples.length; i += 10) {
          appendAll(log, samples.slice(i, i + 10));
          await log.sync();
          const read = await cursor.next(1 << 20);
          assert.is(read?.count, 10);
        }
        const reads = fs.only('read').length;
        if (tailCacheBytes > 0) assert.is(reads, 0, 'served from memory');
        else assert.ok(reads >= 6, `read from the file (${reads} reads)`);
      } finally {
        await log.close();
      }
    });
  }
});

test('a cache nobody reads stops copying after a capacity of bytes (a replica); the next reader is served from the file, then from memory again', () => withTempDir(async (dir) => {
  const fs = new RecordingFs();
  const log = await openSmallLog(dir, { fs, segmentBytes: 1 << 20, tailCacheBytes: 4096 });
  try {
    const samples = makeSamples(120, seededRandom(9), 200);
    appendAll(log, samples.slice(0, 60)); // ~15 KB, no reader: more than the 4 KiB capacity
    await log.sync();
    fs.clear();
    const cursor = log.cursor(log.flushedLsn); // the newest record: it would be in a cache that kept copying
    assert.is((await cursor.next(1 << 20))?.count, 1);
    assert.ok(fs.only('read').length >= 1, 'an idle cache let go: the read went to the file');
    for (let i = 60; i < samples.length; i += 10) {
      appendAll(log, samples.slice(i, i + 10));
      await log.sync();
      fs.clear();
      assert.is((await cursor.next(1 << 20))?.count, 10);
      assert.is(fs.only('read').length, 0, 'a reader follows the tail again: served from memory');
    }
    const all = await readAll(log, 1, 200);
    samples.forEach((s, i) => expectRecord(all[i], s, i + 1));
  } finally {
    await log.close();
  }
}));

test('after truncateAfter the cache never serves the records that were cut', () => withTempDir(async (dir) => {
  const log = await openSmallLog(dir, { segmentBytes: 1 << 20, tailCacheBytes: 1 << 20 });
  try {
    for (let i = 1; i <= 10; i++) log.append('s', `old-${i}`, RecordKind.Put, i, undefined, i);
    await log.sync();
    const cursor = log.cursor(6);
    assert.is((await cursor.next(1 << 20))?.count, 5);
    await log.truncateAfter(5);
    for (let i = 6; i <= 10; i++) log.append('s', `new-${i}`, RecordKind.Put, i, undefined, i);
    await log.sync();
    const again = log.cursor(6);
    const keys = (await readAll(log, 6)).map((r) => r.key);
    assert.equal(keys, ['new-6', 'new-7', 'new-8', 'new-9', 'new-10']);
    const read = await again.next(1 << 20);
    assert.is(read?.count, 5);
  } finally {
    await log.close();
  }
}));

test.run();
