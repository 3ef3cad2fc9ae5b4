import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decodePayload, encodePayload } from '../../src/wire/payload.js';
import { RecordKind } from '../../src/types.js';
import { withTempDir } from '../helpers/tempDir.js';
import {
  appendAll, expectRecord, makeSamples, openSmallLog, readAll, recordsOf, seededRandom, testSeed,
} from './logFixtures.js';

const seed = testSeed(0x5eed01);
console.log(`roundTrip seed ${seed} (replay with SEED=${seed})`);

test('records read back through a cursor equal what was appended', () => withTempDir(async (dir) => {
  const samples = makeSamples(300, seededRandom(seed));
  const log = await openSmallLog(dir, { segmentBytes: 16 * 1024 });
  try {
    log.epoch = 3;
    const lsns = appendAll(log, samples);
    assert.equal(lsns, samples.map((_, i) => i + 1), 'LSNs are gap-free from 1');
    await log.sync();
    assert.is(log.flushedLsn, 300);
    assert.is(log.lastEpoch, 3);
    assert.is(log.lastTimestampMs, samples[299]!.timestampMs);
    for (const maxBytes of [1, 500, 1 << 20]) {
      const records = await readAll(log, 1, maxBytes);
      assert.is(records.length, 300, `all records with maxBytes ${maxBytes}`);
      records.forEach((r, i) => expectRecord(r, samples[i]!, i + 1, 3));
    }
  } finally {
    await log.close();
  }
}));

test('log.read at random LSNs returns whole records starting there', () => withTempDir(async (dir) => {
  const random = seededRandom(seed + 1);
  const samples = makeSamples(200, random);
  const log = await openSmallLog(dir, { segmentBytes: 8 * 1024, indexStrideBytes: 512 });
  try {
    appendAll(log, samples);
    await log.sync();
    for (let i = 0; i < 150; i++) {
      const lsn = 1 + Math.floor(random() * 200);
      const maxEntries = 1 + Math.floor(random() * 4);
      const read = await log.read(lsn, Math.floor(random() * 3000), maxEntries);
      assert.ok(read, `read at ${lsn}`);
      assert.is(read.firstLsn, lsn);
      assert.ok(read.count >= 1 && read.count <= maxEntries, 'count within maxEntries');
      assert.is(read.lastLsn, lsn + read.count - 1);
      assert.is(read.firstTimestampMs, samples[lsn - 1]!.timestampMs);
      recordsOf(read).forEach((r, k) => expectRecord(r, samples[lsn - 1 + k]!, lsn + k));
    }
    assert.is(await log.read(201, 1000), undefined, 'past the flushed end');
    assert.is((await log.read(7, 0, 0))?.count, 1, 'always at least one record, even for maxEntries 0');
  } finally {
    await log.close();
  }
}));

test('payloads decode to the values that were encoded, after a reopen too', () => withTempDir(async (dir) => {
  const values = [
    { id: 'm1', text: 'hello' },
    { id: 'm2', text: 'ünïcødé ✓ 日本語 🚀', tags: ['a', 'b'] },
    { id: 'm3', nested: { deep: [1, 2, { x: null }] }, big: 123456 },
    'just a string',
    [],
  ];
  let log = await openSmallLog(dir);
  try {
    values.forEach((v, i) => log.append('spaceé', `key-${i}`, RecordKind.Put, i + 1, encodePayload(v).slice(), 1000 + i));
    log.append('spaceé', 'gone', RecordKind.Delete, 6, undefined, 2000);
    await log.sync();
    await log.close();
    log = await openSmallLog(dir);
    const records = await readAll(log);
    assert.is(records.length, 6);
    records.slice(0, 5).forEach((r, i) => assert.equal(decodePayload(r.payload), values[i]));
    assert.is(records[5]!.kind, RecordKind.Delete);
    assert.is(records[5]!.payload.length, 0, 'an absent payload reads back empty');
    assert.is(records[5]!.key, 'gone');
  } finally {
    await log.close();
  }
}));

test('locating a record walks across read chunks in a big segment', () => withTempDir(async (dir) => {
  // One 1 MiB index stride: finding a late LSN walks the segment from its
  // start, across several 256 KiB read chunks.
  const log = await openSmallLog(dir, { segmentBytes: 4 << 20, indexStrideBytes: 1 << 20 });
  try {
    const payload = new Uint8Array(997).fill(7);
    for (let i = 0; i < 800; i++) log.append('big', `k${i}`, RecordKind.Entry, i + 1, payload, i);
    await log.sync();
    for (const lsn of [1, 263, 264, 265, 527, 700, 800]) {
      const read = await log.read(lsn, 1);
      assert.ok(read);
      const [record] = recordsOf(read);
      assert.is(record?.lsn, lsn);
      assert.is(record?.key, `k${lsn - 1}`);
    }
  } finally {
    await log.close();
  }
}));

test.run();
