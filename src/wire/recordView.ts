/**
 * A {@link DecodedRecord} read in place from a buffer of whole, verified
 * records, for the hot apply loop: the header fields are plain numbers, the
 * key and the payload are made only when asked for (a string and a view per
 * record cost more than the rest of the header). A projection that knows it
 * can read the key's bytes where they lie (`source`, `keyStart`,
 * `keyLength`) instead of decoding it. One view is moved from record to
 * record, so what it returns is valid only until it moves.
 *
 * @example
 * const r = new RecordView()
 * r.moveTo(bytes, 0, lsn, 'notes') // the record at offset 0, space already decoded
 * r.key // 'm1' (decoded now)
 */
import type { DecodedRecord } from './record.js';
import { RECORD_HEADER_BYTES, RecordOffset } from './record.js';
import { readU64, viewOf } from './u64.js';

const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });
const EMPTY = new Uint8Array(0);

export class RecordView implements DecodedRecord {
  lsn = 0;
  seq = 0;
  epoch = 0;
  timestampMs = 0;
  kind = 0;
  space = '';
  /** The buffer the record lies in. */
  source: Uint8Array = EMPTY;
  /** Offset of the key's UTF-8 bytes in `source`. */
  keyStart = 0;
  /** Length of the key in bytes (0: no key). */
  keyLength = 0;
  /** End offset of the payload (and the record) in `source`. */
  payloadEnd = 0;
  #key: string | undefined;
  #payload: Uint8Array | undefined;

  /** The memory id of a put or delete, `${from}\u0000${to}` for a link, '' when none (decoded on first read). */
  get key(): string {
    this.#key ??= this.keyLength === 0 ? '' : utf8.decode(this.source.subarray(this.keyStart, this.keyStart + this.keyLength));
    return this.#key;
  }

  /** The msgpack payload, a view into `source` (made on first read). */
  get payload(): Uint8Array {
    this.#payload ??= this.source.subarray(this.keyStart + this.keyLength, this.payloadEnd);
    return this.#payload;
  }

  /**
   * Moves to the record at `offset` of `bytes` (whole and verified), whose
   * LSN is `lsn` and whose space the caller has decoded (it repeats from
   * record to record); returns the record's length.
   */
  moveTo(bytes: Uint8Array, offset: number, lsn: number, space: string, view: DataView = viewOf(bytes)): number {
    const length = view.getUint32(offset + RecordOffset.length, true);
    this.source = bytes;
    this.lsn = lsn;
    this.seq = readU64(view, offset + RecordOffset.seq);
    this.timestampMs = readU64(view, offset + RecordOffset.timestampMs);
    this.epoch = view.getUint32(offset + RecordOffset.epoch, true);
    this.kind = bytes[offset + RecordOffset.kind]!;
    this.space = space;
    this.keyStart = offset + RECORD_HEADER_BYTES + bytes[offset + RecordOffset.spaceLength]!;
    this.keyLength = view.getUint16(offset + RecordOffset.keyLength, true);
    this.payloadEnd = offset + length;
    this.#key = undefined;
    this.#payload = undefined;
    return length;
  }
}
