/** The BATCH body: header layout, round trip, zero-copy decode, every bit flip detected. */
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type ErrorCode, ReplicationError } from '../../src/errors.js';
import {
  BATCH_HEADER_BYTES,
  BATCH_MAGIC,
  BatchOffset,
  FRAME_HEADER_BYTES,
  crc32c,
  decodeBatch,
  encodeBatchFrame,
  encodeBatchHeader,
  nodeIdHash,
  readRecord,
  splitRecords,
  viewOf,
} from '../../src/wire/index.js';
import { concat, fail, payloadValue, recordsPayload, u53 } from './arbitraries.js';

const fields = { epoch: 0x0102_0304, startLsn: 0x1_0000_0005, count: 3, primaryId: 'node-a', firstTimestampMs: 1_732_250_000_000, sentAtMs: 1_732_250_000_123 };

function body(f: typeof fields, payload: Uint8Array): Uint8Array {
  return concat([encodeBatchHeader(f, payload), payload]);
}

test('header is 64 bytes with every field at its documented offset', () => {
  const payload = recordsPayload(['a', 'b', 'c'], fields.startLsn);
  const header = encodeBatchHeader(fields, payload);
  assert.is(header.length, 64);
  assert.is(BATCH_HEADER_BYTES, 64);
  const v = viewOf(header);
  assert.is(new TextDecoder().decode(header.subarray(0, 4)), 'EGRB');
  assert.is(v.getUint32(0, true), BATCH_MAGIC);
  assert.is(header[4], 1, 'version');
  assert.is(header[5], 0, 'flags');
  assert.is(v.getUint16(6, true), 64, 'header length');
  assert.is(v.getUint32(8, true), fields.epoch);
  assert.is(v.getUint32(12, true), fields.count);
  assert.is(v.getBigUint64(16, true), BigInt(fields.startLsn));
  assert.is(v.getUint32(24, true), payload.length);
  assert.is(v.getUint32(28, true), crc32c(new TextEncoder().encode('node-a')));
  assert.is(v.getUint32(28, true), nodeIdHash('node-a'));
  assert.is(v.getBigUint64(32, true), BigInt(fields.firstTimestampMs));
  assert.is(v.getBigUint64(40, true), BigInt(fields.sentAtMs));
  const crc = crc32c(payload, crc32c(header.subarray(52, 64), crc32c(header.subarray(0, 48))));
  assert.is(v.getUint32(48, true), crc, 'CRC over [0,48) + [52,64) + payload');
  assert.equal([...header.subarray(52, 64)], new Array(12).fill(0), 'reserved bytes are zero');
  assert.equal(BatchOffset, { magic: 0, version: 4, flags: 5, headerLength: 6, epoch: 8, count: 12, startLsn: 16, payloadBytes: 24, primaryIdHash: 28, firstTimestampMs: 32, sentAtMs: 40, crc: 48, reserved: 52 });
});

test('round trip of batches of random records through a BATCH frame (property)', () => {
  const batchInput = fc.record({
    values: fc.array(payloadValue, { minLength: 1, maxLength: 40 }),
    startLsn: u53.map((n) => Math.max(1, n - 64)),
    epoch: fc.nat({ max: 2 ** 32 - 1 }),
    primaryId: fc.string({ minLength: 1, maxLength: 40 }),
    firstTimestampMs: u53,
    sentAtMs: u53,
  });
  fc.assert(fc.property(batchInput, ({ values, ...f }) => {
    const payload = recordsPayload(values, f.startLsn);
    const frame = concat(encodeBatchFrame({ ...f, count: values.length }, payload));
    assert.is(viewOf(frame).getUint32(0, true), frame.length - 4, 'frame length prefix');
    const batch = decodeBatch(frame.subarray(FRAME_HEADER_BYTES));
    assert.equal({ ...batch, payload: undefined }, {
      epoch: f.epoch, startLsn: f.startLsn, count: values.length, primaryIdHash: nodeIdHash(f.primaryId),
      firstTimestampMs: f.firstTimestampMs, sentAtMs: f.sentAtMs, payload: undefined,
    });
    assert.equal([...batch.payload], [...payload]);
    const split = splitRecords(batch);
    assert.is(split.count, values.length);
    assert.is(split.offsets[values.length], payload.length);
    for (let i = 0; i < values.length; i++) {
      const r = readRecord(batch.payload.subarray(split.offsets[i]!, split.offsets[i + 1]!));
      assert.is(r.lsn, f.startLsn + i);
      assert.is(r.key, `m${i}`);
    }
  }), { numRuns: 200 });
});

test('decodeBatch does not copy the payload', () => {
  const payload = recordsPayload([1, 2, 3], fields.startLsn);
  const framed = new Uint8Array(100 + BATCH_HEADER_BYTES + payload.length);
  framed.set(body(fields, payload), 100);
  const input = framed.subarray(100);
  const batch = decodeBatch(input);
  assert.ok(batch.payload.buffer === input.buffer, 'payload shares the input buffer');
  assert.is(batch.payload.byteOffset, input.byteOffset + BATCH_HEADER_BYTES);
  assert.is(batch.payload.length, payload.length);
});

/** The codes a flip of a bit in header byte `byte` may legitimately produce. */
function expectedCodes(byte: number): ErrorCode[] {
  if (byte < 4) return ['BadMagic'];
  if (byte < 8) return ['UnsupportedVersion'];
  if (byte >= 12 && byte < 16) return ['EmptyBatch', 'InvalidBatchSize', 'ChecksumMismatch'];
  if (byte >= 24 && byte < 28) return ['InvalidBatchSize', 'TruncatedBatch'];
  return ['ChecksumMismatch'];
}

/** Flips `bit` of a copy of `good`; asserts decode + split throws the right typed error. */
function assertFlipDetected(good: Uint8Array, bit: number): void {
  const bad = good.slice();
  const byte = bit >> 3;
  bad[byte]! ^= 1 << (bit & 7);
  try {
    splitRecords(decodeBatch(bad));
  } catch (err) {
    if (!(err instanceof ReplicationError)) throw fail(`bit ${bit}: ${String(err)} is not a ReplicationError`);
    const codes = expectedCodes(byte);
    assert.ok(codes.includes(err.code), `bit ${bit} (byte ${byte}): ${err.code}, expected one of ${codes.join(', ')}`);
    return;
  }
  throw fail(`flip of bit ${bit} (byte ${byte}) of a ${good.length}-byte batch went unnoticed`);
}

test('every single-bit flip of a small batch is detected with a typed error (exhaustive)', () => {
  const good = body({ ...fields, startLsn: 7 }, recordsPayload([{ id: 'm0' }, 'x', null], 7));
  splitRecords(decodeBatch(good)); // the unflipped batch is fine
  for (let bit = 0; bit < good.length * 8; bit++) assertFlipDetected(good, bit);
});

test('bit flips in a large batch are detected (sampled)', () => {
  const values = Array.from({ length: 400 }, (_, i) => ({ id: `mem-${i}`, text: 'x'.repeat(i % 200), n: i }));
  const good = body({ ...fields, startLsn: 1000, count: values.length }, recordsPayload(values, 1000));
  assert.ok(good.length > 60_000);
  fc.assert(fc.property(fc.nat({ max: good.length * 8 - 1 }), (bit) => assertFlipDetected(good, bit)), { numRuns: 2000 });
  for (let bit = 0; bit < BATCH_HEADER_BYTES * 8; bit++) assertFlipDetected(good, bit); // every header bit too
});

test.run();
