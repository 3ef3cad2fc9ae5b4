/**
 * Recovery on open: reads every segment in LSN order, verifies every record,
 * and decides what a problem means. A torn tail of the last segment (a write
 * cut short by a crash, never acknowledged) is cut off and zeroed — even
 * when intact records follow the damage, as long as they all end within one
 * group commit's bytes of it (`tornWindowBytes`): a multi-page write can
 * reach the disk out of order, and no record of an unfinished group was
 * acknowledged. Anything else — intact records further on, a damaged older segment,
 * a missing segment — is corruption: the log refuses to open with an error
 * naming the file and byte offset, unless `repair` is set, in which case it
 * truncates there and reports exactly what it cut.
 */
import { ReplicationError } from '../errors.js';
import type { FileSystem } from './fileSystem.js';
import { joinPath } from './fileSystem.js';
import { checkRecordAt } from '../wire/record.js';
import { viewOf } from '../wire/u64.js';
import { type ScanProblem, findRecordAfter, isZero, scanSegment } from './scanSegment.js';
import { Segment } from './segment.js';
import { SPARE_SEGMENT_NAME, parseSegmentName, segmentName } from './segmentName.js';

/** What recovery found and did. */
export interface RecoveryReport {
  segments: number;
  records: number;
  /** A torn final write that was cut off (never acknowledged data). */
  tornTail: { file: string; offset: number; bytes: number } | undefined;
  /** Set only with `repair`: the corruption that was cut out and what was lost. */
  repaired:
    | { file: string; offset: number; reason: ScanProblem | 'missing-segment'; discardedFromLsn: number; removedSegments: string[] }
    | undefined;
}

/** Result of recovery: segments in LSN order, all durable as scanned. */
export interface Recovered {
  segments: Segment[];
  lastEpoch: number;
  lastTimestampMs: number;
  report: RecoveryReport;
}

const ZERO_CHUNK_BYTES = 1024 * 1024;

/**
 * Writes zeros over [from, to) of a file and makes them durable. Written
 * through an O_DSYNC handle one chunk at a time, so dirty pages never pile
 * up: one big fdatasync of many megabytes would stall the log's own syncs
 * (this runs in the background while the log is busy).
 */
export async function zeroRange(fs: FileSystem, path: string, from: number, to: number): Promise<void> {
  if (to <= from) return;
  const handle = await fs.open(path, { dsync: true });
  try {
    const zeros = new Uint8Array(Math.min(ZERO_CHUNK_BYTES, to - from));
    for (let at = from; at < to; at += zeros.length) {
      await handle.write(zeros.subarray(0, Math.min(zeros.length, to - at)), at);
    }
  } finally {
    await handle.close();
  }
}

function corruption(file: string, offset: number, reason: string, extra: Record<string, unknown>): ReplicationError {
  return new ReplicationError('Corruption', `log corrupted in ${file} at byte ${offset} (${reason})`, {
    context: { file, offset, reason, ...extra },
    suggestion: 'restore this node from a replica (or snapshot), or open the log with { repair: true } to cut the log at this point',
  });
}

/**
 * End offset of the furthest intact record (LSN >= `minLsn`) found at or
 * after `from`, following each chain of consecutive valid records; -1 when
 * there is none.
 */
function furthestIntactEnd(bytes: Uint8Array, from: number, minLsn: number): number {
  const view = viewOf(bytes);
  let furthest = -1;
  let at = findRecordAfter(bytes, from, minLsn);
  while (at >= 0) {
    let length = checkRecordAt(bytes, at, view);
    while (length > 0) {
      at += length;
      furthest = at;
      length = checkRecordAt(bytes, at, view);
    }
    at = findRecordAfter(bytes, at + 1, minLsn);
  }
  return furthest;
}

/** Scans every segment of `dir`; see the module comment for the rules. */
export async function recoverSegments(
  fs: FileSystem,
  dir: string,
  options: { repair: boolean; tornWindowBytes: number; indexStrideBytes?: number },
): Promise<Recovered> {
  const names = await fs.readdir(dir);
  if (names.includes(SPARE_SEGMENT_NAME)) await fs.unlink(joinPath(dir, SPARE_SEGMENT_NAME));
  const firsts = names.map(parseSegmentName).filter((n): n is number => n !== undefined).sort((a, b) => a - b);
  const report: RecoveryReport = { segments: 0, records: 0, tornTail: undefined, repaired: undefined };
  const segments: Segment[] = [];
  let lastEpoch = 0;
  let lastTimestampMs = 0;

  for (let i = 0; i < firsts.length; i++) {
    const firstLsn = firsts[i]!;
    const nextFirst = firsts[i + 1];
    const isLast = nextFirst === undefined;
    const bytes = (await fs.readFile(joinPath(dir, segmentName(firstLsn)))) ?? new Uint8Array(0);
    const scan = scanSegment(bytes, firstLsn, options.indexStrideBytes);
    const segment = new Segment(dir, firstLsn, scan.index);
    let cutAt: { offset: number; reason: ScanProblem | 'missing-segment' } | undefined;

    if (!isLast && scan.lastLsn !== nextFirst - 1) {
      // An older segment must run exactly up to the next one.
      const reason = scan.problem ?? (scan.lastLsn >= nextFirst ? 'lsn' : 'missing-segment');
      if (!options.repair) {
        throw corruption(segment.name, scan.endOffset, reason, { expectedLastLsn: nextFirst - 1, foundLastLsn: scan.lastLsn });
      }
      cutAt = { offset: scan.endOffset, reason };
    } else if (isLast && scan.problem !== undefined) {
      // Intact records after the damage are expected after a crash only when
      // they belong to the same unacknowledged group write (a later page
      // reached the disk, an earlier one did not): all of it lies within
      // one group's bytes of the damage. Anything further is corruption.
      const intactEnd = furthestIntactEnd(bytes, scan.endOffset + 1, scan.lastLsn + 1);
      const corrupt = intactEnd > scan.endOffset + options.tornWindowBytes;
      if (corrupt && !options.repair) {
        throw corruption(segment.name, scan.endOffset, scan.problem, { lastGoodLsn: scan.lastLsn, intactRecordsUntil: intactEnd });
      }
      if (corrupt) cutAt = { offset: scan.endOffset, reason: scan.problem };
      else report.tornTail = { file: segment.name, offset: scan.endOffset, bytes: bytes.length - scan.endOffset };
    }

    if (scan.endOffset < bytes.length && !isZero(bytes, scan.endOffset)) {
      await zeroRange(fs, segment.path, scan.endOffset, bytes.length);
    }
    segment.bytes = segment.durableBytes = scan.endOffset;
    segment.lastLsn = segment.durableLastLsn = scan.lastLsn;
    segment.fileBytes = bytes.length;
    segment.onDisk = true;
    segments.push(segment);
    report.records += scan.lastLsn - firstLsn + 1;
    if (scan.lastLsn >= firstLsn) {
      lastEpoch = scan.lastEpoch;
      lastTimestampMs = scan.lastTimestampMs;
    }

    if (cutAt !== undefined) {
      const removed = firsts.slice(i + 1).map((lsn) => new Segment(dir, lsn));
      for (const s of removed) await fs.unlink(s.path);
      if (removed.length > 0) await fs.syncDir(dir);
      report.repaired = {
        file: segment.name, offset: cutAt.offset, reason: cutAt.reason,
        discardedFromLsn: scan.lastLsn + 1, removedSegments: removed.map((s) => s.name),
      };
      break;
    }
  }
  report.segments = segments.length;
  return { segments, lastEpoch, lastTimestampMs, report };
}
