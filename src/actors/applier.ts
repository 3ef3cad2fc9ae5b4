/**
 * Folds whole log records (a durable group on the primary, a received batch
 * on a replica) into the node's state: the space ledger (sequences, digests)
 * and the projection. One call per group or batch; per record it only reads
 * header fields (space names are decoded once and then found by their
 * bytes, {@link SpaceNames}). The record handed to the projection is one
 * {@link RecordView} moved from record to record: its key and payload are
 * made only if read, and are valid only during `apply`.
 *
 * @example
 * log.onDurable((bytes, firstLsn, count) => applier.applyRecords(bytes, firstLsn, count))
 */
import { ReplicationError } from '../errors.js';
import type { Projection } from '../store/reducer.js';
import { RECORD_HEADER_BYTES, RecordOffset } from '../wire/record.js';
import { RecordView } from '../wire/recordView.js';
import { viewOf } from '../wire/u64.js';
import type { SpaceLedger } from './spaceLedger.js';
import { SpaceNames } from './spaceNames.js';

export class Applier {
  readonly #ledger: SpaceLedger;
  readonly #projection: Projection;
  readonly #record = new RecordView();
  #appliedLsn: number;
  readonly #spaces = new SpaceNames();

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
        const spaceStart = offset + RECORD_HEADER_BYTES;
        const space = this.#spaces.decode(bytes, spaceStart, spaceStart + bytes[offset + RecordOffset.spaceLength]!);
        record.moveTo(bytes, offset, lsn, space, view);
        this.#ledger.apply(space, record.seq, view.getUint32(offset + RecordOffset.crc, true));
        this.#projection.apply(record);
        this.#appliedLsn = lsn;
      }
      offset += length;
    }
  }
}
