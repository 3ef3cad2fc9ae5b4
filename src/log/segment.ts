/**
 * In-memory state of one segment file: where its records start and end,
 * what of it is durable, its sparse index and its open handle.
 */
import type { FileHandle } from './fileSystem.js';
import { joinPath } from './fileSystem.js';
import { segmentName } from './segmentName.js';
import { SparseIndex } from './sparseIndex.js';

export class Segment {
  readonly firstLsn: number;
  readonly name: string;
  readonly path: string;
  readonly index: SparseIndex;
  /** Open handle; `undefined` until the file exists and is opened. */
  handle: FileHandle | undefined;
  /** True when `handle` was opened with O_DSYNC (its writes need no fdatasync). */
  dsyncHandle = false;
  /** Bytes of records appended, durable or not. */
  bytes = 0;
  /** Bytes of records known durable. */
  durableBytes = 0;
  /** LSN of the last record appended (firstLsn - 1 when empty). */
  lastLsn: number;
  /** LSN of the last durable record. */
  durableLastLsn: number;
  /** Size of the file on disk (preallocated size or data size). */
  fileBytes = 0;
  /** Reads in flight; a deleted segment's handle closes when they end. */
  reads = 0;
  /** False until the segment's file has been created. */
  onDisk = false;
  deleted = false;

  constructor(dir: string, firstLsn: number, index = new SparseIndex()) {
    this.firstLsn = firstLsn;
    this.name = segmentName(firstLsn);
    this.path = joinPath(dir, this.name);
    this.index = index;
    this.lastLsn = firstLsn - 1;
    this.durableLastLsn = firstLsn - 1;
  }

  /** True when `lsn` is a durable record of this segment, or with `orAppended` any record appended to it. */
  holds(lsn: number, orAppended: boolean): boolean {
    return lsn >= this.firstLsn && lsn <= (orAppended ? this.lastLsn : this.durableLastLsn);
  }
}
