/**
 * A sparse LSN -> byte offset index of one segment: one entry for the first
 * record at or after every `strideBytes` boundary, so a lookup reads at most
 * about one stride from disk. Kept in memory, rebuilt by recovery.
 */

/** Default distance between index entries. */
export const INDEX_STRIDE_BYTES = 64 * 1024;

export class SparseIndex {
  readonly #stride: number;
  #lsns: number[] = [];
  #offsets: number[] = [];
  #nextBoundary = 0;

  constructor(strideBytes = INDEX_STRIDE_BYTES) {
    this.#stride = strideBytes;
  }

  /** Notes that the record `lsn` starts at `offset` (records must come in order). */
  note(lsn: number, offset: number): void {
    if (offset < this.#nextBoundary) return;
    this.#lsns.push(lsn);
    this.#offsets.push(offset);
    this.#nextBoundary = (Math.floor(offset / this.#stride) + 1) * this.#stride;
  }

  /** The indexed record with the greatest LSN <= `lsn`, or `undefined` when none. */
  floor(lsn: number): { lsn: number; offset: number } | undefined {
    let lo = 0;
    let hi = this.#lsns.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.#lsns[mid]! <= lsn) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found < 0 ? undefined : { lsn: this.#lsns[found]!, offset: this.#offsets[found]! };
  }

  /** Forgets every entry for LSNs greater than `lsn`. */
  truncateAfter(lsn: number): void {
    let n = this.#lsns.length;
    while (n > 0 && this.#lsns[n - 1]! > lsn) n--;
    this.#lsns.length = n;
    this.#offsets.length = n;
    this.#nextBoundary = n === 0 ? 0 : (Math.floor(this.#offsets[n - 1]! / this.#stride) + 1) * this.#stride;
  }
}
