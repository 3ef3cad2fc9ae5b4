/**
 * The log record: the unit that is appended, fsynced, shipped and applied.
 * Its bytes are the same on the primary's disk, on the wire and on the
 * replica's disk. Fixed little-endian header (40 bytes):
 *
 * | offset | size | field                                        |
 * | ------ | ---- | -------------------------------------------- |
 * | 0      | 4    | length of the whole record                   |
 * | 4      | 4    | CRC32C over bytes [8, length)                |
 * | 8      | 8    | LSN                                          |
 * | 16     | 8    | per-space sequence                           |
 * | 24     | 8    | timestamp (ms since the epoch)               |
 * | 32     | 4    | epoch                                        |
 * | 36     | 1    | kind (see `RecordKind`)                      |
 * | 37     | 1    | space length in bytes (1..255, UTF-8)        |
 * | 38     | 2    | key length in bytes (0..1024, UTF-8)         |
 * | 40     | ...  | space, key, payload (msgpack, may be empty)  |
 *
 * @example
 * const n = encodeRecordInto(buf, 0, { lsn: 1, seq: 1, timestampMs: 0, epoch: 1,
 *   kind: RecordKind.Put, space: 'notes', key: 'm1' }, encodePayload({ id: 'm1' }))
 * readRecord(buf.subarray(0, n)).key // 'm1'
 */
import { ReplicationError } from '../errors.js';
import { crc32c } from './checksum.js';
import { readU64, viewOf, writeU64 } from './u64.js';

/** Bytes of the fixed record header. */
export const RECORD_HEADER_BYTES = 40;
/** Longest space name in UTF-8 bytes. */
export const SPACE_MAX_BYTES = 255;
/** Longest key in UTF-8 bytes. */
export const KEY_MAX_BYTES = 1024;
/** Largest record accepted by the codec (header + space + key + payload). */
export const RECORD_MAX_BYTES = 16 * 1024 * 1024;

/** Field offsets inside the record header (tests assert them). */
export const RecordOffset = {
  length: 0,
  crc: 4,
  lsn: 8,
  seq: 16,
  timestampMs: 24,
  epoch: 32,
  kind: 36,
  spaceLength: 37,
  keyLength: 38,
  body: 40,
} as const;

/** The header fields of a record, decoded. */
export interface RecordHeader {
  lsn: number;
  seq: number;
  timestampMs: number;
  epoch: number;
  kind: number;
  space: string;
  /** Memory id for puts and deletes; '' when the record has none. */
  key: string;
}

/** A decoded record: header fields plus a view of the payload bytes (not copied). */
export interface DecodedRecord extends RecordHeader {
  payload: Uint8Array;
}

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

/** Upper bound of the encoded size of a record with these strings and payload. */
export function recordSizeBound(space: string, key: string, payloadBytes: number): number {
  return RECORD_HEADER_BYTES + space.length * 3 + key.length * 3 + payloadBytes;
}

/**
 * Encodes one record into `target` at `offset` and returns its length.
 * `target` must have room for {@link recordSizeBound} bytes.
 */
export function encodeRecordInto(
  target: Uint8Array,
  offset: number,
  header: RecordHeader,
  payload: Uint8Array | undefined,
): number {
  const body = offset + RECORD_HEADER_BYTES;
  const spaceBytes = utf8.encodeInto(header.space, target.subarray(body, body + SPACE_MAX_BYTES + 1));
  if (spaceBytes.read !== header.space.length || spaceBytes.written === 0 || spaceBytes.written > SPACE_MAX_BYTES) {
    throw new ReplicationError('InvalidEntry', `space name must be 1..${SPACE_MAX_BYTES} UTF-8 bytes`);
  }
  const keyStart = body + spaceBytes.written;
  const keyBytes = utf8.encodeInto(header.key, target.subarray(keyStart, keyStart + KEY_MAX_BYTES + 1));
  if (keyBytes.read !== header.key.length || keyBytes.written > KEY_MAX_BYTES) {
    throw new ReplicationError('InvalidEntry', `key must be at most ${KEY_MAX_BYTES} UTF-8 bytes`);
  }
  let end = keyStart + keyBytes.written;
  if (payload !== undefined && payload.length > 0) {
    target.set(payload, end);
    end += payload.length;
  }
  const length = end - offset;
  if (length > RECORD_MAX_BYTES) {
    throw new ReplicationError('InvalidEntry', `record of ${length} bytes exceeds ${RECORD_MAX_BYTES}`);
  }
  const view = new DataView(target.buffer, target.byteOffset + offset, RECORD_HEADER_BYTES);
  view.setUint32(RecordOffset.length, length, true);
  writeU64(view, RecordOffset.lsn, header.lsn);
  writeU64(view, RecordOffset.seq, header.seq);
  writeU64(view, RecordOffset.timestampMs, header.timestampMs);
  view.setUint32(RecordOffset.epoch, header.epoch, true);
  view.setUint8(RecordOffset.kind, header.kind);
  view.setUint8(RecordOffset.spaceLength, spaceBytes.written);
  view.setUint16(RecordOffset.keyLength, keyBytes.written, true);
  view.setUint32(RecordOffset.crc, crc32c(target.subarray(offset + 8, end)), true);
  return length;
}

/** Encodes one record into a fresh buffer of exactly its size. */
export function encodeRecord(header: RecordHeader, payload?: Uint8Array): Uint8Array {
  const scratch = new Uint8Array(recordSizeBound(header.space, header.key, payload?.length ?? 0));
  const length = encodeRecordInto(scratch, 0, header, payload);
  return scratch.slice(0, length);
}

/**
 * Checks that a whole record starts at `offset` of `bytes`: its length field
 * is plausible and fits, and its CRC matches. Returns the record length, or a
 * negative number: -1 when the bytes end before the record does, -2 when the
 * length field is impossible, -3 when the CRC does not match.
 */
export function checkRecordAt(bytes: Uint8Array, offset: number, view: DataView = viewOf(bytes)): number {
  if (bytes.length - offset < RECORD_HEADER_BYTES) return -1;
  const length = view.getUint32(offset + RecordOffset.length, true);
  if (length < RECORD_HEADER_BYTES || length > RECORD_MAX_BYTES) return -2;
  if (offset + length > bytes.length) return -1;
  const spaceLength = bytes[offset + RecordOffset.spaceLength]!;
  const keyLength = view.getUint16(offset + RecordOffset.keyLength, true);
  if (spaceLength === 0 || RECORD_HEADER_BYTES + spaceLength + keyLength > length) return -2;
  const expected = view.getUint32(offset + RecordOffset.crc, true);
  return crc32c(bytes.subarray(offset + 8, offset + length)) === expected ? length : -3;
}

/** Reads the LSN of the record at `offset` (no checks). */
export function recordLsnAt(view: DataView, offset: number): number {
  return readU64(view, offset + RecordOffset.lsn);
}

/**
 * Decodes the record at the start of `bytes` (which must hold one whole,
 * verified record, e.g. a slice made by `splitRecords`). The payload is a view.
 */
export function readRecord(bytes: Uint8Array, view: DataView = viewOf(bytes), offset = 0): DecodedRecord {
  const length = view.getUint32(offset + RecordOffset.length, true);
  const spaceLength = bytes[offset + RecordOffset.spaceLength]!;
  const keyLength = view.getUint16(offset + RecordOffset.keyLength, true);
  const spaceStart = offset + RECORD_HEADER_BYTES;
  const keyStart = spaceStart + spaceLength;
  const payloadStart = keyStart + keyLength;
  return {
    lsn: readU64(view, offset + RecordOffset.lsn),
    seq: readU64(view, offset + RecordOffset.seq),
    timestampMs: readU64(view, offset + RecordOffset.timestampMs),
    epoch: view.getUint32(offset + RecordOffset.epoch, true),
    kind: bytes[offset + RecordOffset.kind]!,
    space: decodeUtf8(bytes.subarray(spaceStart, keyStart)),
    key: keyLength === 0 ? '' : decodeUtf8(bytes.subarray(keyStart, payloadStart)),
    payload: bytes.subarray(payloadStart, offset + length),
  };
}

function decodeUtf8(bytes: Uint8Array): string {
  try {
    return utf8Decoder.decode(bytes);
  } catch (cause) {
    throw new ReplicationError('TruncatedEntry', 'record holds a string that is not valid UTF-8', { cause });
  }
}
