/**
 * The newest bytes of the log's last written segment, kept in memory so that
 * shippers read what was just appended without a file read (and without a
 * fresh zero-filled buffer per read). Bytes arrive when the log publishes
 * them, before they are durable; readers that must see only durable bytes
 * stop at the segment's durable end. Bytes already handed out are
 * never overwritten: appends go past them, and a full cache moves to a new
 * buffer, keeping its newest half.
 *
 * @example
 * cache.add(segment, fileOffset, bytes)              // as records are published
 * const bytes = cache.from(segment, offset)          // undefined: read the file
 */
import type { Segment } from './segment.js';

export class TailCache {
  readonly #capacity: number;
  #buffer = new Uint8Array(0);
  #segment: Segment | undefined;
  /** File offset, in `#segment`, of `#buffer[0]`. */
  #base = 0;
  #length = 0;

  /** `capacityBytes` 0 disables the cache. */
  constructor(capacityBytes: number) {
    this.#capacity = capacityBytes;
  }

  /** Records that `bytes` lie (or are being written) at `fileOffset` in `segment` (copied). */
  add(segment: Segment, fileOffset: number, bytes: Uint8Array): void {
    if (this.#capacity === 0 || bytes.length === 0) return;
    if (segment !== this.#segment || fileOffset !== this.#base + this.#length) {
      this.#segment = segment;
      this.#base = fileOffset;
      this.#length = 0;
      this.#buffer = new Uint8Array(0); // never write over bytes handed out
    }
    if (this.#length + bytes.length > this.#buffer.length) {
      const keep = Math.min(this.#length, Math.max(0, (this.#capacity >> 1) - bytes.length));
      const next = new Uint8Array(Math.max(this.#capacity, keep + bytes.length));
      next.set(this.#buffer.subarray(this.#length - keep, this.#length));
      this.#base += this.#length - keep;
      this.#buffer = next;
      this.#length = keep;
    }
    this.#buffer.set(bytes, this.#length);
    this.#length += bytes.length;
  }

  /** The cached bytes of `segment` from file offset `offset` on, or `undefined` when not cached. */
  from(segment: Segment, offset: number): Uint8Array | undefined {
    if (segment !== this.#segment || segment.deleted || offset < this.#base || offset >= this.#base + this.#length) return undefined;
    return this.#buffer.subarray(offset - this.#base, this.#length);
  }

  /** Forgets everything (the tail was rewritten). */
  clear(): void {
    this.#segment = undefined;
    this.#length = 0;
    this.#buffer = new Uint8Array(0);
  }
}
