/**
 * One group commit: the encoded bytes of consecutive records gathered in one
 * buffer, mapped onto the segment files they belong to, written with one
 * write per segment and made durable with one `fdatasync` per segment.
 * Everyone waiting on the group resolves together.
 */
import type { Segment } from './segment.js';

/** A range of the group's buffer that goes to one segment at one file offset. */
export interface Extent {
  segment: Segment;
  fileOffset: number;
  start: number;
  end: number;
  lastLsn: number;
}

export class WriteGroup {
  readonly buffer: Uint8Array;
  /** Whether `buffer` came from (and returns to) the log's pool. */
  readonly pooled: boolean;
  used = 0;
  /** Bytes of `buffer` already published to the log's tail cache. */
  published = 0;
  entries = 0;
  lastLsn = 0;
  /** How long the durable write took (ms; 0 when not timed). */
  writeMs = 0;
  /** No more records may join once the flush has started. */
  sealed = false;
  readonly extents: Extent[] = [];
  #promise: Promise<void> | undefined;
  #resolve: (() => void) | undefined;
  #reject: ((err: unknown) => void) | undefined;

  constructor(buffer: Uint8Array, pooled: boolean) {
    this.buffer = buffer;
    this.pooled = pooled;
  }

  /** Room left in the buffer. */
  get free(): number {
    return this.buffer.length - this.used;
  }

  /** Records `length` bytes just placed at `used` as the record `lsn` of `segment`. */
  place(segment: Segment, length: number, lsn: number): void {
    const last = this.extents[this.extents.length - 1];
    if (last !== undefined && last.segment === segment) {
      last.end += length;
      last.lastLsn = lsn;
    } else {
      this.extents.push({ segment, fileOffset: segment.bytes, start: this.used, end: this.used + length, lastLsn: lsn });
    }
    this.used += length;
    this.entries++;
    this.lastLsn = lsn;
  }

  /** A promise that settles when the group is durable (created on first use). */
  done(): Promise<void> {
    if (this.#promise === undefined) {
      this.#promise = new Promise<void>((resolve, reject) => {
        this.#resolve = resolve;
        this.#reject = reject;
      });
    }
    return this.#promise;
  }

  resolve(): void {
    this.#resolve?.();
  }

  reject(err: unknown): void {
    this.#reject?.(err);
  }
}
