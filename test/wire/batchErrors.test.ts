/** Every way a BATCH body can be wrong, and the typed error each one gets. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  BATCH_HEADER_BYTES,
  BATCH_PAYLOAD_MAX_BYTES,
  BatchOffset,
  RecordOffset,
  decodeBatch,
  encodeBatchHeader,
  encodePayload,
  encodeRecord,
  firstBadRecord,
  splitRecords,
  viewOf,
} from '../../src/wire/index.js';
import { concat, recordsPayload, throwsCode } from './arbitraries.js';

const fields = { epoch: 2, startLsn: 10, count: 3, primaryId: 'node-a', firstTimestampMs: 1_700_000_000_000, sentAtMs: 1_700_000_000_100 };
const payload = recordsPayload(['a', { b: 2 }, [3]], 10);

/** A valid batch body with its header patched by `patch` (CRC not recomputed). */
function patched(patch: (v: DataView) => void): Uint8Array {
  const body = concat([encodeBatchHeader(fields, payload), payload]);
  patch(viewOf(body));
  return body;
}

/** A batch body whose header (and CRC) is computed honestly over `p`. */
function honest(p: Uint8Array, f: Partial<typeof fields> = {}): Uint8Array {
  return concat([encodeBatchHeader({ ...fields, ...f }, p), p]);
}

test('a good batch decodes and splits', () => {
  const batch = decodeBatch(honest(payload));
  assert.is(splitRecords(batch).count, 3);
  assert.is(firstBadRecord(batch.payload, splitRecords(batch)), -1);
});

test('bad magic → BadMagic', () => {
  throwsCode(() => decodeBatch(patched((v) => v.setUint32(BatchOffset.magic, 0x42524746, true))), 'BadMagic');
  throwsCode(() => decodeBatch(patched((v) => v.setUint32(BatchOffset.magic, 0, true))), 'BadMagic');
});

test('other version, flags or header length → UnsupportedVersion with a suggestion', () => {
  const err = throwsCode(() => decodeBatch(patched((v) => v.setUint8(BatchOffset.version, 2))), 'UnsupportedVersion');
  assert.type(err.suggestion, 'string');
  throwsCode(() => decodeBatch(patched((v) => v.setUint8(BatchOffset.version, 0))), 'UnsupportedVersion');
  throwsCode(() => decodeBatch(patched((v) => v.setUint8(BatchOffset.flags, 1))), 'UnsupportedVersion', 'compression flag');
  throwsCode(() => decodeBatch(patched((v) => v.setUint8(BatchOffset.flags, 0x80))), 'UnsupportedVersion', 'unknown flag');
  throwsCode(() => decodeBatch(patched((v) => v.setUint16(BatchOffset.headerLength, 72, true))), 'UnsupportedVersion');
});

test('no records → EmptyBatch, on encode and on decode', () => {
  throwsCode(() => encodeBatchHeader({ ...fields, count: 0 }, payload), 'EmptyBatch');
  throwsCode(() => decodeBatch(patched((v) => v.setUint32(BatchOffset.count, 0, true))), 'EmptyBatch');
});

test('sizes that do not add up → InvalidBatchSize or TruncatedBatch', () => {
  throwsCode(() => decodeBatch(new Uint8Array(0)), 'TruncatedBatch', 'empty body');
  throwsCode(() => decodeBatch(honest(payload).subarray(0, BATCH_HEADER_BYTES - 1)), 'TruncatedBatch', 'short header');
  const whole = honest(payload);
  for (let cut = BATCH_HEADER_BYTES; cut < whole.length; cut++) {
    throwsCode(() => decodeBatch(whole.subarray(0, cut)), 'TruncatedBatch', `payload cut at ${cut}`);
  }
  throwsCode(() => decodeBatch(concat([whole, new Uint8Array(1)])), 'InvalidBatchSize', 'a byte past the payload');
  throwsCode(() => decodeBatch(patched((v) => v.setUint32(BatchOffset.payloadBytes, BATCH_PAYLOAD_MAX_BYTES + 1, true))), 'InvalidBatchSize', 'over the limit');
  throwsCode(() => decodeBatch(patched((v) => v.setUint32(BatchOffset.count, 1_000_000, true))), 'InvalidBatchSize', 'more records than bytes');
  throwsCode(() => encodeBatchHeader(fields, new Uint8Array(BATCH_PAYLOAD_MAX_BYTES + 1)), 'InvalidBatchSize', 'encode over the limit');
  throwsCode(() => encodeBatchHeader({ ...fields, count: 2 ** 32 }, payload), 'InvalidBatchSize', 'count over u32');
});

test('any changed byte → ChecksumMismatch with expected and actual in context', () => {
  const err = throwsCode(() => decodeBatch(patched((v) => v.setUint8(BATCH_HEADER_BYTES + 20, v.getUint8(BATCH_HEADER_BYTES + 20) ^ 0xff))), 'ChecksumMismatch');
  assert.type(err.context?.['expected'], 'number');
  assert.type(err.context?.['actual'], 'number');
  assert.is.not(err.context?.['expected'], err.context?.['actual']);
  throwsCode(() => decodeBatch(patched((v) => v.setUint8(BatchOffset.reserved + 11, 1))), 'ChecksumMismatch', 'reserved byte');
  throwsCode(() => decodeBatch(patched((v) => v.setUint32(BatchOffset.epoch, 3, true))), 'ChecksumMismatch', 'epoch');
  throwsCode(() => decodeBatch(patched((v) => v.setUint32(BatchOffset.crc, v.getUint32(BatchOffset.crc, true) + 1, true))), 'ChecksumMismatch', 'crc');
});

test('an LSN gap inside a CRC-valid payload → LogGap from splitRecords', () => {
  const gap = concat([recordsPayload(['a', 'b'], 10), recordsPayload(['d'], 13)]); // 10, 11, 13
  const batch = decodeBatch(honest(gap));
  const err = throwsCode(() => splitRecords(batch), 'LogGap');
  assert.equal(err.context, { expected: 12, actual: 13 });
  throwsCode(() => splitRecords(decodeBatch(honest(payload, { startLsn: 9 }))), 'LogGap', 'startLsn off by one');
  const repeated = concat([recordsPayload(['a'], 10), recordsPayload(['b'], 10), recordsPayload(['c'], 11)]);
  throwsCode(() => splitRecords(decodeBatch(honest(repeated))), 'LogGap', 'a repeated LSN');
});

test('a record whose length runs past the payload → TruncatedEntry', () => {
  const records = recordsPayload(['a', 'b', 'c'], 10);
  const lastStart = records.length - lastRecordLength(records);
  const bad = records.slice();
  viewOf(bad).setUint32(lastStart + RecordOffset.length, lastRecordLength(records) + 1, true);
  throwsCode(() => splitRecords(decodeBatch(honest(bad))), 'TruncatedEntry', 'last record one byte too long');
  const shortLength = records.slice();
  viewOf(shortLength).setUint32(RecordOffset.length, 12, true);
  throwsCode(() => splitRecords(decodeBatch(honest(shortLength))), 'TruncatedEntry', 'record length below its header');
  const roomy = recordsPayload(['x'.repeat(60), 'y'.repeat(60), 'z'.repeat(60)], 10); // room for 4 headers, 3 records
  throwsCode(() => splitRecords(decodeBatch(honest(roomy, { count: 4 }))), 'TruncatedEntry', 'count one too many');
  throwsCode(() => splitRecords(decodeBatch(honest(records, { count: 2 }))), 'InvalidBatchSize', 'count one too few');
});

test('firstBadRecord finds a record whose own CRC is wrong', () => {
  const records = concat([encodeRecord({ lsn: 10, seq: 1, timestampMs: 0, epoch: 2, kind: 1, space: 's', key: '' }, encodePayload('ok')), recordsPayload(['b'], 11)]);
  const bad = records.slice();
  bad[bad.length - 1]! ^= 1;
  const batch = decodeBatch(honest(bad, { count: 2 }));
  assert.is(firstBadRecord(batch.payload, splitRecords(batch)), 1);
});

test('header fields outside their range are refused on encode', () => {
  throwsCode(() => encodeBatchHeader({ ...fields, startLsn: 2 ** 53 }, payload), 'LsnOverflow', 'startLsn');
  throwsCode(() => encodeBatchHeader({ ...fields, sentAtMs: -1 }, payload), 'LsnOverflow', 'sentAtMs');
  throwsCode(() => encodeBatchHeader({ ...fields, epoch: 2 ** 32 }, payload), 'LsnOverflow', 'epoch');
});

/** Length of the last record of `records`, found by walking the length fields. */
function lastRecordLength(records: Uint8Array): number {
  const v = viewOf(records);
  let offset = 0;
  let length = 0;
  while (offset < records.length) {
    length = v.getUint32(offset, true);
    offset += length;
  }
  return length;
}

test.run();
