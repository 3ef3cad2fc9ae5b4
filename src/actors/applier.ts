/**
 * Folds whole log records (a durable group on the primary, a received batch
 * on a replica) into the node's state: the space ledger (sequences, digests)
 * and the projection. One call per group or batch; per record it only reads
 * header fields and decodes the space and key strings. The record object
 * handed to the projection is reused between records (its fields, like the
 * payload view, are valid only during `apply`).
 *
 * @example
 * log.onDurable((bytes, firstLsn, count) => applier.applyRecords(bytes, firstLsn, count))
 */
import { ReplicationError } from '../errors.js';
import type { AppliedRecord, Projection } from '../store/reducer.js';
import { RECORD_HEADER_BYTES, RecordOffset } from '../wire/record.js';
import { readU64, viewOf } from '../wire/u64.js';
import type { SpaceLedger } from './spaceLedger.js';

const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });

export class Applier {
  readonly #ledger: SpaceLedger;
  readonly #projection: Projection;
  readonly #record: AppliedRecord = { lsn: 0, seq: 0, epoch: 0, timestampMs: 0, kind: 0, space: '', key: '', payload: new Uint8Array(0) };
  #appliedLsn: number;
  #lastSpaceBytes = new Uint8Array(0);
  #lastSpace = '';

  constructor(ledger: SpaceLedger, projection: Projection, appliedLsn: number) {
    this.#ledger = ledger;
    this.#projection = projection;
    this.#appliedLsn = appliedLsn;
  }

  /** LSN of the last record applied. */
  get appliedLsn(): number {
    return this.#appliedLsn;
  }

  /** Sets the applied position (after installing a snapshot taken at `lsn`). */
  resetTo(lsn: number): void {
    this.#appliedLsn = lsn;
  }

  /**
   * Applies `count` whole records from `bytes`, the first with `firstLsn`.
   * Records at or below the applied LSN are skipped (a group can be seen
   * twice across a restart); a gap throws `LogGap`.
   */
  applyRecords(bytes: Uint8Array, firstLsn: number, count: number): void {
    const view = viewOf(bytes);
    const record = this.#record;
    let offset = 0;
    for (let i = 0; i < count; i++) {
      const length = view.getUint32(offset + RecordOffset.length, true);
      const lsn = firstLsn + i;
      if (lsn > this.#appliedLsn) {
        if (lsn !== this.#appliedLsn + 1) {
          throw new ReplicationError('LogGap', `cannot apply LSN ${lsn}: applied up to ${this.#appliedLsn}`);
        }
        const spaceLength = bytes[offset + RecordOffset.spaceLength]!;
        const keyLength = view.getUint16(offset + RecordOffset.keyLength, true);
        const spaceStart = offset + RECORD_HEADER_BYTES;
        const keyStart = spaceStart + spaceLength;
        const payloadStart = keyStart + keyLength;
        record.lsn = lsn;
        record.seq = readU64(view, offset + RecordOffset.seq);
        record.timestampMs = readU64(view, offset + RecordOffset.timestampMs);
        record.epoch = view.getUint32(offset + RecordOffset.epoch, true);
        record.kind = bytes[offset + RecordOffset.kind]!;
        record.space = this.#space(bytes, spaceStart, keyStart);
        record.key = keyLength === 0 ? '' : utf8.decode(bytes.subarray(keyStart, payloadStart));
        record.payload = bytes.subarray(payloadStart, offset + length);
        this.#ledger.apply(record.space, record.seq, view.getUint32(offset + RecordOffset.crc, true));
        this.#projection.apply(record);
        this.#appliedLsn = lsn;
      }
      offset += length;
    }
  }

  /** Decodes a space name, reusing the last string when the bytes repeat. */
  #space(bytes: Uint8Array, start: number, end: number): string {
    const last = this.#lastSpaceBytes;
    if (end - start === last.length) {
      let same = true;
      for (let i = 0; i < last.length; i++) {
        if (bytes[start + i] !== last[i]) {
          same = false;
          break;
        }
      }
      if (same) return this.#lastSpace;
    }
    this.#lastSpaceBytes = bytes.slice(start, end);
    this.#lastSpace = utf8.decode(this.#lastSpaceBytes);
    return this.#lastSpace;
  }
}
