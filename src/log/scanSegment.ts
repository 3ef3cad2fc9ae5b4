/**
 * Scans the bytes of one segment file: verifies every record's length, CRC
 * and LSN in order, builds the sparse index, and says where valid data ends
 * and why. Pure: recovery decides what a problem means.
 */
import { RecordOffset, checkRecordAt, recordLsnAt } from '../wire/record.js';
import { readU64, viewOf } from '../wire/u64.js';
import { SparseIndex } from './sparseIndex.js';

/** Why a scan stopped before the end of the file. */
export type ScanProblem = 'truncated' | 'bad-length' | 'checksum' | 'lsn';

/** What a scan found. */
export interface SegmentScan {
  /** Byte offset just past the last valid record. */
  endOffset: number;
  /** LSN of the last valid record, or `firstLsn - 1` when there is none. */
  lastLsn: number;
  /** Epoch of the last valid record (0 when none). */
  lastEpoch: number;
  /** Timestamp of the last valid record (0 when none). */
  lastTimestampMs: number;
  index: SparseIndex;
  /** Set when bytes at `endOffset` are neither a valid record nor zero fill. */
  problem: ScanProblem | undefined;
}

/** Scans `bytes`, the contents of a segment whose first record has `firstLsn`. */
export function scanSegment(bytes: Uint8Array, firstLsn: number, indexStrideBytes?: number): SegmentScan {
  const view = viewOf(bytes);
  const index = new SparseIndex(indexStrideBytes);
  let offset = 0;
  let lsn = firstLsn;
  let lastEpoch = 0;
  let lastTimestampMs = 0;
  let problem: ScanProblem | undefined;
  while (offset < bytes.length) {
    if (bytes.length - offset >= 4 && view.getUint32(offset, true) === 0) {
      if (!isZero(bytes, offset)) problem = 'bad-length';
      break;
    }
    const length = checkRecordAt(bytes, offset, view);
    if (length < 0) {
      problem = length === -1 ? 'truncated' : length === -2 ? 'bad-length' : 'checksum';
      if (problem === 'truncated' && isZero(bytes, offset)) problem = undefined;
      break;
    }
    if (recordLsnAt(view, offset) !== lsn) {
      problem = 'lsn';
      break;
    }
    index.note(lsn, offset);
    lastEpoch = view.getUint32(offset + RecordOffset.epoch, true);
    lastTimestampMs = readU64(view, offset + RecordOffset.timestampMs);
    offset += length;
    lsn++;
  }
  return { endOffset: offset, lastLsn: lsn - 1, lastEpoch, lastTimestampMs, index, problem };
}

/** True when every byte from `from` to the end is zero. */
export function isZero(bytes: Uint8Array, from: number): boolean {
  let i = from;
  while (i < bytes.length && (bytes.byteOffset + i) % 8 !== 0) if (bytes[i++] !== 0) return false;
  const words = Math.floor((bytes.length - i) / 8);
  // Only build the wide view when there is a whole word: when the bytes end
  // before an 8-byte boundary, `i` is unaligned and even an empty
  // Float64Array over it throws a RangeError.
  if (words > 0) {
    const wide = new Float64Array(bytes.buffer, bytes.byteOffset + i, words);
    for (let w = 0; w < words; w++) if (wide[w] !== 0 || Object.is(wide[w], -0)) return false;
  }
  for (i += words * 8; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}

/**
 * Looks for a valid record with an LSN in [minLsn, minLsn + 2^24) anywhere at
 * or after `from`: if a damaged record is followed by intact ones, the damage
 * is corruption in the middle of the log, not a torn tail. Returns its offset
 * or -1.
 */
export function findRecordAfter(bytes: Uint8Array, from: number, minLsn: number): number {
  const view = viewOf(bytes);
  const last = bytes.length - RecordOffset.body;
  for (let offset = from; offset <= last; offset++) {
    const length = view.getUint32(offset, true);
    if (length < RecordOffset.body || offset + length > bytes.length) continue;
    const lo = view.getUint32(offset + RecordOffset.lsn, true);
    const hi = view.getUint32(offset + RecordOffset.lsn + 4, true);
    const lsn = hi * 0x1_0000_0000 + lo;
    if (lsn < minLsn || lsn >= minLsn + 0x100_0000) continue;
    if (checkRecordAt(bytes, offset, view) > 0) return offset;
  }
  return -1;
}
