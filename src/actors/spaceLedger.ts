/**
 * Per-space bookkeeping every node folds from the applied log, whatever the
 * projection: the last applied per-space sequence and a digest of the
 * applied records. Equal applied logs give equal digests; any difference
 * (a record missing, extra, reordered or changed) gives a different one with
 * overwhelming probability. The digest chains each record's CRC32C through
 * two 32-bit mixing lanes (64 bits; not cryptographic).
 *
 * @example
 * ledger.apply('notes', seq, recordCrc); ledger.digest('notes') // '9f2c...'
 */
import { ReplicationError } from '../errors.js';
import { decodePayload, encodePayload } from '../wire/payload.js';

interface SpaceEntry {
  lastSeq: number;
  records: number;
  h1: number;
  h2: number;
}

const SEED_1 = 0x811c9dc5;
const SEED_2 = 0x2545f491;

export class SpaceLedger {
  #spaces = new Map<string, SpaceEntry>();
  /** The entry of the space last applied to (records come in runs of one space). */
  #last: SpaceEntry | undefined;
  #lastName = '';

  /** Folds one applied record of `space` with per-space `seq` and record CRC `crc`. */
  apply(space: string, seq: number, crc: number): void {
    let e = space === this.#lastName ? this.#last : this.#spaces.get(space);
    if (e === undefined) {
      e = { lastSeq: 0, records: 0, h1: SEED_1, h2: SEED_2 };
      this.#spaces.set(space, e);
    }
    this.#last = e;
    this.#lastName = space;
    e.lastSeq = seq;
    e.records++;
    let h1 = Math.imul(e.h1 ^ crc, 0x9e3779b1);
    h1 = (h1 << 13) | (h1 >>> 19);
    let h2 = Math.imul((e.h2 + crc) | 0, 0x85ebca77) ^ h1;
    h2 = (h2 << 17) | (h2 >>> 15);
    e.h1 = h1 >>> 0;
    e.h2 = h2 >>> 0;
  }

  /** Last applied per-space sequence (0 when none). */
  lastSeq(space: string): number {
    return this.#spaces.get(space)?.lastSeq ?? 0;
  }

  /** Records applied to `space`. */
  records(space: string): number {
    return this.#spaces.get(space)?.records ?? 0;
  }

  /** 16 hex digits; the same for every node that applied the same records of `space`. */
  digest(space: string): string {
    const e = this.#spaces.get(space);
    const h1 = e?.h1 ?? SEED_1;
    const h2 = e?.h2 ?? SEED_2;
    return h1.toString(16).padStart(8, '0') + h2.toString(16).padStart(8, '0');
  }

  /** Names of every space seen. */
  spaces(): string[] {
    return [...this.#spaces.keys()];
  }

  /** The ledger as bytes (part of a node snapshot). */
  snapshot(): Uint8Array {
    const rows: [string, number, number, number, number][] = [];
    for (const [space, e] of this.#spaces) rows.push([space, e.lastSeq, e.records, e.h1, e.h2]);
    return encodePayload(rows).slice();
  }

  /** Replaces the ledger with a snapshot; `Corruption` on bad bytes. */
  restore(bytes: Uint8Array): void {
    const rows = decodePayload(bytes);
    const next = new Map<string, SpaceEntry>();
    if (!Array.isArray(rows)) throw new ReplicationError('Corruption', 'space ledger snapshot is not a list');
    for (const row of rows) {
      if (!Array.isArray(row) || row.length !== 5 || typeof row[0] !== 'string' || !row.slice(1).every((n) => Number.isSafeInteger(n) && n >= 0)) {
        throw new ReplicationError('Corruption', 'space ledger snapshot has a malformed row');
      }
      next.set(row[0], { lastSeq: row[1], records: row[2], h1: row[3], h2: row[4] });
    }
    this.#spaces = next;
    this.#last = undefined;
    this.#lastName = '';
  }
}
