/** The log record codec: round trip, header layout, corruption detection, typed errors. */
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RecordKind } from '../../src/types.js';
import {
  KEY_MAX_BYTES,
  RECORD_HEADER_BYTES,
  RecordOffset,
  SPACE_MAX_BYTES,
  checkRecordAt,
  decodePayload,
  encodePayload,
  encodeRecord,
  encodeRecordInto,
  readRecord,
  recordLsnAt,
  recordSizeBound,
  viewOf,
} from '../../src/wire/index.js';
import { recordInput, throwsCode, utf8Length } from './arbitraries.js';

const base = { lsn: 1, seq: 1, timestampMs: 1_700_000_000_000, epoch: 1, kind: RecordKind.Put, space: 'notes', key: 'm1' };

test('round trip: every field and the payload come back (property)', () => {
  fc.assert(fc.property(recordInput, fc.nat({ max: 64 }), ({ header, value }, pad) => {
    const payload = value === undefined ? undefined : encodePayload(value).slice();
    // encode at an offset inside a larger buffer, as the log's write buffer does
    const target = new Uint8Array(pad + recordSizeBound(header.space, header.key, payload?.length ?? 0) + 8);
    const n = encodeRecordInto(target, pad, header, payload);
    assert.is(n, RECORD_HEADER_BYTES + utf8Length(header.space) + utf8Length(header.key) + (payload?.length ?? 0));
    assert.is(checkRecordAt(target, pad), n);
    assert.is(recordLsnAt(viewOf(target), pad), header.lsn);
    const inPlace = readRecord(target, viewOf(target), pad);
    const alone = readRecord(encodeRecord(header, payload));
    for (const r of [inPlace, alone]) {
      assert.equal({ ...r, payload: undefined }, { ...header, payload: undefined });
      assert.equal([...r.payload], [...(payload ?? [])]);
      if (value !== undefined) assert.equal(decodePayload(r.payload), value);
    }
  }), { numRuns: 300 });
});

test('header is 40 bytes and every field sits at its RecordOffset', () => {
  assert.is(RECORD_HEADER_BYTES, 40);
  assert.equal(RecordOffset, { length: 0, crc: 4, lsn: 8, seq: 16, timestampMs: 24, epoch: 32, kind: 36, spaceLength: 37, keyLength: 38, body: 40 });
  const h = { lsn: 2 ** 53 - 1, seq: 0x1_2345_6789, timestampMs: 1_732_250_000_000, epoch: 0xfedc_ba98, kind: 200, space: 'spåce', key: 'kéy-1' };
  const payload = new Uint8Array([0x91, 0x2a]);
  const bytes = encodeRecord(h, payload);
  const v = viewOf(bytes);
  assert.is(v.getUint32(RecordOffset.length, true), bytes.length);
  assert.is(v.getBigUint64(RecordOffset.lsn, true), BigInt(h.lsn));
  assert.is(v.getBigUint64(RecordOffset.seq, true), BigInt(h.seq));
  assert.is(v.getBigUint64(RecordOffset.timestampMs, true), BigInt(h.timestampMs));
  assert.is(v.getUint32(RecordOffset.epoch, true), h.epoch);
  assert.is(bytes[RecordOffset.kind], 200);
  assert.is(bytes[RecordOffset.spaceLength], 6); // 'spåce' is 6 UTF-8 bytes
  assert.is(v.getUint16(RecordOffset.keyLength, true), 6);
  const text = new TextDecoder();
  assert.is(text.decode(bytes.subarray(RecordOffset.body, RecordOffset.body + 6)), 'spåce');
  assert.is(text.decode(bytes.subarray(RecordOffset.body + 6, RecordOffset.body + 12)), 'kéy-1');
  assert.equal([...bytes.subarray(RecordOffset.body + 12)], [0x91, 0x2a]);
  // the CRC field is CRC32C over [8, length): recompute it independently of the codec
  assert.is(v.getUint32(RecordOffset.crc, true), crc32cReference(bytes.subarray(8)));
});

test('checkRecordAt detects every single-bit flip of a record (exhaustive)', () => {
  const bytes = encodeRecord({ ...base, key: 'k' }, encodePayload({ t: 'hi' }));
  let flips = 0;
  for (let bit = 0; bit < bytes.length * 8; bit++) {
    const copy = bytes.slice();
    copy[bit >> 3]! ^= 1 << (bit & 7);
    const r = checkRecordAt(copy, 0);
    assert.ok(r < 0, `flip of bit ${bit} (byte ${bit >> 3}) went unnoticed: ${r}`);
    flips++;
  }
  assert.is(flips, bytes.length * 8);
  assert.is(checkRecordAt(bytes, 0), bytes.length);
});

test('checkRecordAt reports truncation (-1) and impossible lengths (-2)', () => {
  const bytes = encodeRecord(base, encodePayload('x'));
  for (let cut = 0; cut < bytes.length; cut++) assert.is(checkRecordAt(bytes.subarray(0, cut), 0), -1, `cut at ${cut}`);
  const short = bytes.slice();
  viewOf(short).setUint32(0, 39, true);
  assert.is(checkRecordAt(short, 0), -2);
  const noSpace = bytes.slice();
  noSpace[RecordOffset.spaceLength] = 0;
  assert.is(checkRecordAt(noSpace, 0), -2);
});

test('space and key limits are exact and give InvalidEntry past them', () => {
  const maxSpace = 'é'.repeat(127) + 'x'; // 255 bytes
  const maxKey = '€'.repeat(341) + 'y'; // 1024 bytes
  const r = readRecord(encodeRecord({ ...base, space: maxSpace, key: maxKey }));
  assert.is(r.space, maxSpace);
  assert.is(r.key, maxKey);
  throwsCode(() => encodeRecord({ ...base, space: maxSpace + 'z' }), 'InvalidEntry', 'space of 256 bytes');
  throwsCode(() => encodeRecord({ ...base, space: 'a'.repeat(SPACE_MAX_BYTES + 1) }), 'InvalidEntry', 'ascii space of 256');
  throwsCode(() => encodeRecord({ ...base, space: '' }), 'InvalidEntry', 'empty space');
  throwsCode(() => encodeRecord({ ...base, key: maxKey + 'z' }), 'InvalidEntry', 'key of 1025 bytes');
  throwsCode(() => encodeRecord({ ...base, key: 'k'.repeat(KEY_MAX_BYTES + 1) }), 'InvalidEntry', 'ascii key of 1025');
  throwsCode(() => encodeRecord({ ...base, kind: 256 }), 'InvalidEntry', 'kind 256');
  throwsCode(() => encodeRecord({ ...base, kind: -1 }), 'InvalidEntry', 'kind -1');
});

test('numbers outside their fields give LsnOverflow', () => {
  for (const field of ['lsn', 'seq', 'timestampMs'] as const) {
    for (const bad of [2 ** 53, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      throwsCode(() => encodeRecord({ ...base, [field]: bad }), 'LsnOverflow', `${field} = ${bad}`);
    }
  }
  for (const bad of [2 ** 32, -1, 0.5]) throwsCode(() => encodeRecord({ ...base, epoch: bad }), 'LsnOverflow', `epoch = ${bad}`);
  // a u64 above 2^53 - 1 on the wire is refused when read, not rounded
  const bytes = encodeRecord(base);
  viewOf(bytes).setBigUint64(RecordOffset.lsn, 2n ** 53n, true);
  throwsCode(() => readRecord(bytes), 'LsnOverflow', 'reading lsn 2^53');
  throwsCode(() => recordLsnAt(viewOf(bytes), 0), 'LsnOverflow', 'recordLsnAt 2^53');
});

test('strings keep a leading BOM and invalid UTF-8 is a typed error', () => {
  const r = readRecord(encodeRecord({ ...base, space: '\uFEFFspace', key: '\uFEFF' }));
  assert.is(r.space, '\uFEFFspace');
  assert.is(r.key, '\uFEFF');
  const bytes = encodeRecord({ ...base, space: 'ab' });
  bytes[RecordOffset.body] = 0xff;
  throwsCode(() => readRecord(bytes), 'TruncatedEntry', 'invalid UTF-8 space');
});

test('a target without room is a RangeError, not a silent short write', () => {
  assert.throws(() => encodeRecordInto(new Uint8Array(30), 0, base, undefined), RangeError);
  assert.throws(() => encodeRecordInto(new Uint8Array(43), 0, { ...base, space: 'notes' }, undefined), RangeError);
  assert.throws(() => encodeRecordInto(new Uint8Array(48), 0, base, new Uint8Array(16)), RangeError);
});

/** Bitwise CRC32C (Castagnoli, reflected 0x82F63B78), independent of the native one. */
function crc32cReference(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of bytes) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

test('a payload with a key named __proto__ is refused (it would read back renamed); the string "__proto__" as a value is fine', () => {
  for (const json of ['{"__proto__":1}', '{"a":[{"b":{"__proto__":{"x":1}}}]}', '[{"__proto__":null}]']) {
    throwsCode(() => encodePayload(JSON.parse(json)), 'InvalidEntry');
  }
  for (const value of [{ name: '__proto__' }, ['__proto__'], { proto: 1, text: 'a "__proto__": key in text' }]) {
    assert.equal(decodePayload(encodePayload(value)), value);
  }
});

test.run();
