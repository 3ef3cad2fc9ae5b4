/**
 * Shapes shared by every layer: log sequence numbers and the limits on them.
 * LSNs, epochs and per-space sequences are u64 on disk and on the wire and
 * plain, safe-integer JS numbers everywhere else.
 */

/** A log sequence number: global, gap-free, starting at 1. 0 means "none". */
export type Lsn = number;

/** A promotion epoch: every primary term has a higher one. */
export type Epoch = number;

/** The largest LSN, epoch or sequence the library accepts (2^53 - 1). */
export const MAX_SAFE_U64 = Number.MAX_SAFE_INTEGER;

/** One `(epoch, startLsn)` pair of a node's epoch history: the epoch began at `startLsn`. */
export interface EpochStart {
  readonly epoch: Epoch;
  readonly startLsn: Lsn;
}

/** Write acknowledgement modes (DESIGN §6). */
export type AckMode = 'local' | 'one' | 'quorum' | 'all';

/** Record kinds understood by the default memory-store projection. */
export const RecordKind = {
  /** A host entry handled by a custom reducer; payload is the msgpack of the entry. */
  Entry: 0,
  /** Put a memory; key = memory id; payload = the memory. */
  Put: 1,
  /** Delete a memory; key = memory id; no payload. */
  Delete: 2,
  /** Link two memories; payload = `{ from, to, weight? }`. */
  Link: 3,
  /** Written by a new primary when its epoch begins; no payload. */
  EpochStart: 4,
} as const;

/** A record kind number (0..255). */
export type RecordKind = (typeof RecordKind)[keyof typeof RecordKind];
