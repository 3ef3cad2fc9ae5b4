/**
 * The newest bytes of the log's last written segment, kept in memory so that
 * shippers read what was just appended without a file read (and without a
 * fresh zero-filled buffer per read). Bytes arrive when the log publishes
 * them, before they are durable; readers that must see only durable bytes
 * stop at the segment's durable end. Bytes already handed out are
 * never overwritten: appends go past them, and a full cache moves to a new
 * buffer, keeping its newest half.
 *
 * A cache nobody reads costs a copy of every byte written and a fresh buffer
 * per half capacity (external memory that drives the garbage collector). So
 * once a whole capacity of bytes has been added without a read (a replica's
 * log: nothing ships from it), the cache lets go of its buffer and copies
 * nothing until the next read or `want()`; that read goes to the file.
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
  /** Bytes added since the last read (or `want()`); past `#capacity` the cache is idle. */
  #unreadBytes = 0;

  /** `capacityBytes` 0 disables the cache. */
  constructor(capacityBytes: number) {
    this.#capacity = capacityBytes;
  }

  /** Records that `bytes` lie (or are being written) at `fileOffset` in `segment` (copied). */
  add(segment: Segment, fileOffset: number, bytes: Uint8Array): void {
    if (this.#capacity === 0 || bytes.length === 0) return;
    this.#unreadBytes += bytes.length;
    if (this.#unreadBytes > this.#capacity) {
      if (this.#segment !== undefined) this.clear();
      return;
    }
    if (segment !== this.#segment || fileOffset !== this.#base + this.#length) {
      this.#segment = segment;
      this.#base = fileOffset;
      this.#length = 0;
      this.#buffer = new Uint8Array(0); // never write over bytes handed out
    }
    if (this.#length + bytes.length > this.#buffer.length) {
      const keep = Math.min(this.#length, Math.max(0, (this.#capacity >> 1) - bytes.length));
      // Not zero-filled: only bytes [0, #length) are ever handed out, and each was written first.
      const next = new Uint8Array(Buffer.allocUnsafeSlow(Math.max(this.#capacity, keep + bytes.length)).buffer);
      next.set(this.#buffer.subarray(this.#length - keep, this.#length));
      this.#base += this.#length - keep;
      this.#buffer = next;
      this.#length = keep;
    }
    this.#buffer.set(bytes, this.#length);
    this.#length += bytes.length;
  }

  /** A reader is about to follow the tail: cache what is added from now on. */
  want(): void {
    this.#unreadBytes = 0;
  }

  /** The cached bytes of `segment` from file offset `offset` on, or `undefined` when not cached. */
  from(segment: Segment, offset: number): Uint8Array | undefined {
    this.#unreadBytes = 0;
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
