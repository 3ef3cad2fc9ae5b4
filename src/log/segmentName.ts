/**
 * Segment files are named by their first LSN, zero-padded to 20 digits so
 * that names sort in LSN order: `00000000000000000001.wal`.
 */

const SUFFIX = '.wal';
const PATTERN = /^(\d{20})\.wal$/;

/** File name of the segment whose first record has `firstLsn`. */
export function segmentName(firstLsn: number): string {
  return String(firstLsn).padStart(20, '0') + SUFFIX;
}

/** The first LSN encoded in a segment file name, or `undefined` for other files. */
export function parseSegmentName(name: string): number | undefined {
  const m = PATTERN.exec(name);
  if (m === null) return undefined;
  const lsn = Number(m[1]);
  return Number.isSafeInteger(lsn) && lsn >= 1 ? lsn : undefined;
}

/** Name of the zero-filled file prepared ahead of the next segment roll. */
export const SPARE_SEGMENT_NAME = 'spare.wal.tmp';
