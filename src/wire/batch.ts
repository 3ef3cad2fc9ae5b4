/**
 * The BATCH body: a fixed 64-byte little-endian header followed by the
 * concatenated bytes of whole log records, exactly as they lie in the log, so
 * a log range ships without re-encoding. Decoding does not copy the payload.
 *
 * | offset | size | field                                               |
 * | ------ | ---- | --------------------------------------------------- |
 * | 0      | 4    | magic `EGRB` (0x42524745 little-endian)             |
 * | 4      | 1    | version (1)                                         |
 * | 5      | 1    | flags; bits 0-1 compression (0 = none), rest zero   |
 * | 6      | 2    | header length (64)                                  |
 * | 8      | 4    | epoch of the sending primary                        |
 * | 12     | 4    | entry count (>= 1)                                  |
 * | 16     | 8    | start LSN                                           |
 * | 24     | 4    | payload size in bytes                               |
 * | 28     | 4    | primary node id (CRC32C of its UTF-8 id)            |
 * | 32     | 8    | first entry's timestamp (ms)                        |
 * | 40     | 8    | sent-at timestamp (primary clock, ms; echoed in ACK)|
 * | 48     | 4    | CRC32C over bytes [0,48) + [52,64) + payload        |
 * | 52     | 12   | reserved, zero                                      |
 *
 * @example
 * const header = encodeBatchHeader({ epoch: 1, startLsn: 1, count: 2, primaryId: 'n1',
 *   firstTimestampMs: t, sentAtMs: t }, payload)
 * const batch = decodeBatch(concat(header, payload))
 */
import { ReplicationError } from '../errors.js';
import { crc32c } from './checksum.js';
import { RECORD_HEADER_BYTES, RecordOffset, checkRecordAt } from './record.js';
import { checkU32, readU64, viewOf, writeU64 } from './u64.js';

/** Bytes of the batch header. */
export const BATCH_HEADER_BYTES = 64;
/** `EGRB` read as a little-endian u32. */
export const BATCH_MAGIC = 0x42524745;
/** The batch format version this code writes and reads. */
export const BATCH_VERSION = 1;
/** Largest batch payload the codec accepts. */
export const BATCH_PAYLOAD_MAX_BYTES = 64 * 1024 * 1024;

/** Field offsets of the batch header (tests assert them). */
export const BatchOffset = {
  magic: 0,
  version: 4,
  flags: 5,
  headerLength: 6,
  epoch: 8,
  count: 12,
  startLsn: 16,
  payloadBytes: 24,
  primaryIdHash: 28,
  firstTimestampMs: 32,
  sentAtMs: 40,
  crc: 48,
  reserved: 52,
} as const;

/** The fields a primary puts in a batch header. */
export interface BatchFields {
  epoch: number;
  startLsn: number;
  count: number;
  primaryId: string;
  firstTimestampMs: number;
  sentAtMs: number;
}

/** A decoded, checksum-verified batch; `payload` is a view into the frame. */
export interface Batch {
  epoch: number;
  startLsn: number;
  count: number;
  primaryIdHash: number;
  firstTimestampMs: number;
  sentAtMs: number;
  payload: Uint8Array;
}

const utf8 = new TextEncoder();

/** The 32-bit id a batch carries for a primary's string node id. */
export function nodeIdHash(nodeId: string): number {
  return crc32c(utf8.encode(nodeId));
}

/** Encodes the 64-byte header for `payload` (whole records, `count` of them). */
export function encodeBatchHeader(fields: BatchFields, payload: Uint8Array): Uint8Array {
  if (fields.count < 1) throw new ReplicationError('EmptyBatch', 'a batch must carry at least one record');
  if (fields.count >>> 0 !== fields.count || fields.count * RECORD_HEADER_BYTES > payload.length) {
    throw new ReplicationError('InvalidBatchSize', `${fields.count} records cannot fit in a ${payload.length}-byte payload`);
  }
  if (payload.length > BATCH_PAYLOAD_MAX_BYTES) {
    throw new ReplicationError('InvalidBatchSize', `batch payload of ${payload.length} bytes exceeds ${BATCH_PAYLOAD_MAX_BYTES}`);
  }
  const header = new Uint8Array(BATCH_HEADER_BYTES);
  const view = viewOf(header);
  view.setUint32(BatchOffset.magic, BATCH_MAGIC, true);
  view.setUint8(BatchOffset.version, BATCH_VERSION);
  view.setUint16(BatchOffset.headerLength, BATCH_HEADER_BYTES, true);
  view.setUint32(BatchOffset.epoch, checkU32(fields.epoch, 'batch epoch'), true);
  view.setUint32(BatchOffset.count, fields.count, true);
  writeU64(view, BatchOffset.startLsn, fields.startLsn);
  view.setUint32(BatchOffset.payloadBytes, payload.length, true);
  view.setUint32(BatchOffset.primaryIdHash, nodeIdHash(fields.primaryId), true);
  writeU64(view, BatchOffset.firstTimestampMs, fields.firstTimestampMs);
  writeU64(view, BatchOffset.sentAtMs, fields.sentAtMs);
  view.setUint32(BatchOffset.crc, batchCrc(header, payload), true);
  return header;
}

function batchCrc(header: Uint8Array, payload: Uint8Array): number {
  let crc = crc32c(header.subarray(0, BatchOffset.crc));
  crc = crc32c(header.subarray(BatchOffset.reserved, BATCH_HEADER_BYTES), crc);
  return crc32c(payload, crc);
}

/**
 * Decodes and verifies a BATCH body (header + payload). Throws a typed error
 * for bad magic, unsupported version or flags, an empty batch, a size that
 * does not match, or a checksum mismatch. The payload is not copied.
 */
export function decodeBatch(body: Uint8Array): Batch {
  if (body.length < BATCH_HEADER_BYTES) {
    throw new ReplicationError('TruncatedBatch', `batch of ${body.length} bytes is shorter than its ${BATCH_HEADER_BYTES}-byte header`);
  }
  const view = viewOf(body);
  const magic = view.getUint32(BatchOffset.magic, true);
  if (magic !== BATCH_MAGIC) {
    throw new ReplicationError('BadMagic', `batch magic 0x${magic.toString(16)} is not 0x${BATCH_MAGIC.toString(16)}`);
  }
  const version = view.getUint8(BatchOffset.version);
  const flags = view.getUint8(BatchOffset.flags);
  const headerLength = view.getUint16(BatchOffset.headerLength, true);
  if (version !== BATCH_VERSION || flags !== 0 || headerLength !== BATCH_HEADER_BYTES) {
    throw new ReplicationError('UnsupportedVersion',
      `batch version ${version} flags ${flags} header ${headerLength}; this node reads version ${BATCH_VERSION}, flags 0`,
      { suggestion: 'run the same engram-replication protocol version on every node' });
  }
  const count = view.getUint32(BatchOffset.count, true);
  if (count === 0) throw new ReplicationError('EmptyBatch', 'batch carries no records');
  const payloadBytes = view.getUint32(BatchOffset.payloadBytes, true);
  const actual = body.length - BATCH_HEADER_BYTES;
  if (payloadBytes > BATCH_PAYLOAD_MAX_BYTES || payloadBytes < count * RECORD_HEADER_BYTES) {
    throw new ReplicationError('InvalidBatchSize', `batch claims ${payloadBytes} payload bytes for ${count} records`);
  }
  if (actual < payloadBytes) {
    throw new ReplicationError('TruncatedBatch', `batch payload has ${actual} of ${payloadBytes} bytes`);
  }
  if (actual > payloadBytes) {
    throw new ReplicationError('InvalidBatchSize', `batch carries ${actual - payloadBytes} bytes past its payload`);
  }
  const payload = body.subarray(BATCH_HEADER_BYTES);
  const expected = view.getUint32(BatchOffset.crc, true);
  const crc = batchCrc(body, payload);
  if (crc !== expected) {
    throw new ReplicationError('ChecksumMismatch', `batch CRC32C 0x${crc.toString(16)} does not match 0x${expected.toString(16)}`,
      { context: { expected, actual: crc } });
  }
  return {
    epoch: view.getUint32(BatchOffset.epoch, true),
    startLsn: readU64(view, BatchOffset.startLsn),
    count,
    primaryIdHash: view.getUint32(BatchOffset.primaryIdHash, true),
    firstTimestampMs: readU64(view, BatchOffset.firstTimestampMs),
    sentAtMs: readU64(view, BatchOffset.sentAtMs),
    payload,
  };
}

/**
 * Where each record of a batch starts: `offsets[i]` is the start of record i
 * and `offsets[count]` the payload length. One typed array per batch, no
 * per-record allocation.
 */
export interface RecordOffsets {
  offsets: Uint32Array;
  count: number;
}

/**
 * Splits a verified batch into record offsets and checks what the batch CRC
 * cannot: each record is whole, lengths add up to the payload, the count
 * matches, and LSNs run gap-free from `startLsn`. Record CRCs are not
 * re-checked here (the batch CRC covers the bytes; the log re-checks on
 * recovery). Throws `TruncatedEntry`, `InvalidBatchSize` or `LogGap`.
 */
export function splitRecords(batch: Batch): RecordOffsets {
  const { payload, count, startLsn } = batch;
  const view = viewOf(payload);
  const offsets = new Uint32Array(count + 1);
  let offset = 0;
  for (let i = 0; i < count; i++) {
    if (payload.length - offset < RECORD_HEADER_BYTES) {
      throw new ReplicationError('TruncatedEntry', `record ${i} of ${count} starts ${payload.length - offset} bytes before the payload ends`);
    }
    const length = view.getUint32(offset + RecordOffset.length, true);
    if (length < RECORD_HEADER_BYTES || offset + length > payload.length) {
      throw new ReplicationError('TruncatedEntry', `record ${i} of ${count} claims ${length} bytes at offset ${offset}`);
    }
    const lsn = readU64(view, offset + RecordOffset.lsn);
    if (lsn !== startLsn + i) {
      throw new ReplicationError('LogGap', `record ${i} has LSN ${lsn}, expected ${startLsn + i}`,
        { context: { expected: startLsn + i, actual: lsn } });
    }
    offsets[i] = offset;
    offset += length;
  }
  if (offset !== payload.length) {
    throw new ReplicationError('InvalidBatchSize', `${count} records end at byte ${offset} of a ${payload.length}-byte payload`);
  }
  offsets[count] = offset;
  return { offsets, count };
}

/**
 * Verifies every record's own CRC in a payload of whole records (used when
 * bytes come from a source the batch CRC does not cover, such as a file).
 * Returns the index of the first bad record, or -1 when all are good.
 */
export function firstBadRecord(payload: Uint8Array, split: RecordOffsets): number {
  const view = viewOf(payload);
  for (let i = 0; i < split.count; i++) {
    if (checkRecordAt(payload, split.offsets[i]!, view) < 0) return i;
  }
  return -1;
}
