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
import { readU64, viewOf } from './u64.js';

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
// ignoreBOM: a space or key that starts with U+FEFF must come back unchanged.
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const TWO_32 = 0x1_0000_0000;
/** Strings up to this many UTF-16 units try the ASCII byte loop first. */
const ASCII_FAST_MAX = 64;

/** Upper bound of the encoded size of a record with these strings and payload. */
export function recordSizeBound(space: string, key: string, payloadBytes: number): number {
  return RECORD_HEADER_BYTES + space.length * 3 + key.length * 3 + payloadBytes;
}

/**
 * Encodes one record into `target` at `offset` and returns its length.
 * `target` must have room for {@link recordSizeBound} bytes (a `RangeError`
 * otherwise). Throws `InvalidEntry` for an empty or over-long space, an
 * over-long key, a kind outside 0..255 or an over-large record, and
 * `LsnOverflow` for an LSN, sequence or timestamp outside 0..2^53-1 or an
 * epoch outside 0..2^32-1.
 *
 * Hot path (one call per appended entry): no DataView and no per-call objects
 * beyond the one view handed to the CRC; short ASCII strings are copied byte
 * by byte instead of going through `TextEncoder`.
 */
export function encodeRecordInto(
  target: Uint8Array,
  offset: number,
  header: RecordHeader,
  payload: Uint8Array | undefined,
): number {
  const { lsn, seq, timestampMs, epoch, kind } = header;
  checkU64(lsn, 'LSN');
  checkU64(seq, 'sequence');
  checkU64(timestampMs, 'timestamp');
  if (epoch >>> 0 !== epoch) {
    throw new ReplicationError('LsnOverflow', `epoch ${epoch} is not a u32 the record header can carry (0..2^32-1)`);
  }
  if ((kind & 0xff) !== kind) {
    throw new ReplicationError('InvalidEntry', `record kind ${kind} is not an integer in 0..255`);
  }
  if (!(offset >= 0 && offset + RECORD_HEADER_BYTES <= target.length)) {
    throw new RangeError(`no room for a record header at offset ${offset} of a ${target.length}-byte buffer`);
  }
  const body = offset + RECORD_HEADER_BYTES;
  const spaceLength = writeUtf8(target, body, header.space, SPACE_MAX_BYTES);
  if (spaceLength <= 0) {
    throw new ReplicationError('InvalidEntry', `space name must be 1..${SPACE_MAX_BYTES} UTF-8 bytes`,
      { context: { space: header.space.slice(0, 64) } });
  }
  const keyStart = body + spaceLength;
  const keyLength = writeUtf8(target, keyStart, header.key, KEY_MAX_BYTES);
  if (keyLength < 0) {
    throw new ReplicationError('InvalidEntry', `key must be at most ${KEY_MAX_BYTES} UTF-8 bytes`,
      { context: { key: header.key.slice(0, 64) } });
  }
  let end = keyStart + keyLength;
  if (payload !== undefined && payload.length > 0) {
    if (end - offset + payload.length > RECORD_MAX_BYTES) {
      throw new ReplicationError('InvalidEntry', `record of ${end - offset + payload.length} bytes exceeds ${RECORD_MAX_BYTES}`);
    }
    target.set(payload, end);
    end += payload.length;
  }
  const length = end - offset;
  const t = target;
  const o = offset;
  putU32(t, o + RecordOffset.length, length);
  putU64(t, o + RecordOffset.lsn, lsn);
  putU64(t, o + RecordOffset.seq, seq);
  putU64(t, o + RecordOffset.timestampMs, timestampMs);
  putU32(t, o + RecordOffset.epoch, epoch);
  t[o + RecordOffset.kind] = kind;
  t[o + RecordOffset.spaceLength] = spaceLength;
  t[o + RecordOffset.keyLength] = keyLength;
  t[o + RecordOffset.keyLength + 1] = keyLength >>> 8;
  putU32(t, o + RecordOffset.crc, crc32c(t.subarray(o + 8, end)));
  return length;
}

function checkU64(value: number, field: string): void {
  if (!(Number.isSafeInteger(value) && value >= 0)) {
    throw new ReplicationError('LsnOverflow', `${field} ${value} is not a u64 the library can carry (0..2^53-1)`);
  }
}

function putU32(t: Uint8Array, o: number, v: number): void {
  t[o] = v;
  t[o + 1] = v >>> 8;
  t[o + 2] = v >>> 16;
  t[o + 3] = v >>> 24;
}

/** `v` must be a safe non-negative integer (checked by the caller). */
function putU64(t: Uint8Array, o: number, v: number): void {
  const lo = v >>> 0;
  putU32(t, o, lo);
  putU32(t, o + 4, (v - lo) / TWO_32);
}

/**
 * Writes `s` as UTF-8 at `at` and returns the byte count, or -1 when it needs
 * more than `max` bytes. Throws `RangeError` when `target` ends first.
 */
function writeUtf8(target: Uint8Array, at: number, s: string, max: number): number {
  const n = s.length;
  if (n <= ASCII_FAST_MAX && at + n <= target.length) {
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      target[at + i] = c;
    }
    if (i === n) return n <= max ? n : -1;
  }
  const room = target.subarray(at, at + max + 1);
  const r = utf8.encodeInto(s, room);
  if (r.read === n) return r.written <= max ? r.written : -1;
  if (room.length > max) return -1; // more than max bytes: too long
  throw new RangeError(`no room for a ${n}-character string at offset ${at} of a ${target.length}-byte buffer`);
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
