/**
 * The durable write-ahead log of one node (one replication group).
 *
 * - `append` encodes a record straight into the open group-commit buffer and
 *   returns its LSN at once; `sync()` resolves when everything appended so
 *   far is written and durable. Appends made while a flush is in
 *   flight form the next group (up to `groupMaxEntries` / `groupMaxBytes`),
 *   so an idle log flushes a lone write immediately and a busy one amortises
 *   one durable write (O_DSYNC, or write + fdatasync) over many records.
 * - `appendRecords` takes bytes of whole records from a primary (a replica's
 *   path) and writes the same bytes.
 * - Segments roll at `segmentBytes`; each new segment file is zero-filled and
 *   synced ahead of time (a spare), so appends overwrite preallocated blocks
 *   and `fdatasync` commits no file-size metadata.
 * - `read`/`cursor` read durable records from any LSN without loading the log
 *   into memory; `waitFlushed` follows the tail.
 * - Appended records are *published* at the end of the current microtask:
 *   their bytes go to the tail cache, where a cursor opened with
 *   `beyondDurable` may read them before they are durable (a primary ships
 *   records while its own fsync runs, as Raft leaders do).
 *
 * @example
 * const log = await openLog({ dir, fs: nodeFileSystem })
 * const lsn = log.append('notes', 'm1', RecordKind.Put, 1, encodePayload(memory), Date.now())
 * await log.sync() // lsn is durable
 */
import { ReplicationError } from '../errors.js';
import { MAX_SAFE_U64 } from '../types.js';
import { RECORD_HEADER_BYTES, RecordOffset, encodeRecordInto, recordSizeBound } from '../wire/record.js';
import { readU64, viewOf } from '../wire/u64.js';
import { type FileSystem, joinPath } from './fileSystem.js';
import { type RecoveryReport, recoverSegments, zeroRange } from './recover.js';
import { Segment } from './segment.js';
import { SPARE_SEGMENT_NAME } from './segmentName.js';
import { LsnWaiters } from './lsnWaiters.js';
import { TailCache } from './tailCache.js';
import { WriteGroup } from './writeGroup.js';

/** Options of {@link openLog}. */
export interface LogOptions {
  /** Directory of the segment files (created if missing). */
  dir: string;
  /** File-system port: `nodeFileSystem` or a simulated disk. */
  fs: FileSystem;
  /** Roll to a new segment file past this size. Default 64 MiB. */
  segmentBytes?: number;
  /** Zero-fill and sync segment files ahead of use. Default true. */
  preallocate?: boolean;
  /** Most records in one group commit. Default 1000. */
  groupMaxEntries?: number;
  /** Most bytes in one group commit. Default 4 MiB. */
  groupMaxBytes?: number;
  /**
   * How a group is made durable: `'dsync'` (default) writes through an
   * O_DSYNC handle, one operation per group; `'fdatasync'` writes, then calls
   * fdatasync. Same guarantee; dsync saves a thread-pool round trip, which
   * lets the next group's I/O start while writers of the last one run.
   */
  syncMethod?: 'dsync' | 'fdatasync';
  /** Cut corruption out instead of refusing to open (reports what was cut). Default false. */
  repair?: boolean;
  /** LSN the first record gets when the log is new. Default 1. */
  firstLsn?: number;
  /** Monotonic milliseconds, to time each group's durable write (reported to `onDurable`). Default: not timed (0). */
  monotonicNow?: () => number;
  /** Distance between sparse index entries. Default 64 KiB. */
  indexStrideBytes?: number;
  /** Newest bytes kept in memory for readers that follow the tail, published before durable (0: none). Default 8 MiB. */
  tailCacheBytes?: number;
}

/** Durable records read from the log: whole records, as they lie on disk. */
export interface LogRead {
  bytes: Uint8Array;
  firstLsn: number;
  lastLsn: number;
  count: number;
  firstTimestampMs: number;
}

/** Receives each durable group: its record bytes (valid only during the call), first LSN, count and write time. */
export type DurableListener = (records: Uint8Array, firstLsn: number, count: number, writeMs: number) => void;

/** What `truncateAfter` removed. */
export interface TruncateReport {
  fromLsn: number;
  toLsn: number;
  count: number;
}

const POOL_BUFFERS = 4;

/** Runs a listener; its exception is its own bug and must not fail the log nor starve other listeners. */
function guarded(fn: () => void): void {
  try {
    fn();
  } catch {
    // ignored on purpose
  }
}
const GROUP_MAX_BYTES_DEFAULT = 4 * 1024 * 1024;
const resolved = Promise.resolve();
const LOCATE_CHUNK_BYTES = 256 * 1024;

/** Opens (recovering) or creates the log in `options.dir`. */
export async function openLog(options: LogOptions): Promise<Log> {
  await options.fs.mkdirp(options.dir);
  const recovered = await recoverSegments(options.fs, options.dir, {
    repair: options.repair ?? false,
    tornWindowBytes: options.groupMaxBytes ?? GROUP_MAX_BYTES_DEFAULT,
    ...(options.indexStrideBytes === undefined ? {} : { indexStrideBytes: options.indexStrideBytes }),
  });
  const log = new Log(options, recovered.segments, recovered.lastEpoch, recovered.lastTimestampMs, recovered.report);
  await log.start();
  return log;
}

/** The write-ahead log. Create it with {@link openLog}. */
export class Log {
  /** What recovery found and did when the log was opened. */
  readonly recovery: RecoveryReport;
  /** Epoch stamped on records appended from now on. */
  epoch = 0;

  readonly #fs: FileSystem;
  readonly #dir: string;
  readonly #segmentBytes: number;
  readonly #preallocate: boolean;
  readonly #dsync: boolean;
  readonly #groupMaxEntries: number;
  readonly #groupMaxBytes: number;
  readonly #initialLsn: number;
  readonly #now: (() => number) | undefined;
  readonly #tail: TailCache;
  #segments: Segment[];
  #groups: WriteGroup[] = [];
  #pool: Uint8Array[] = [];
  #flushing = false;
  #flushScheduled = false;
  #idleWaiters: (() => void)[] = [];
  readonly #flushWaiters = new LsnWaiters();
  readonly #publishWaiters = new LsnWaiters();
  #flushListeners = new Set<(flushedLsn: number) => void>();
  #publishListeners = new Set<(publishedLsn: number) => void>();
  #publishScheduled = false;
  #durableListeners = new Set<DurableListener>();
  #dirDirty = false;
  #spare: Promise<boolean> | undefined;
  #lastLsn: number;
  #flushedLsn: number;
  #publishedLsn: number;
  #lastEpoch: number;
  #lastTimestampMs: number;
  #failure: ReplicationError | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;
  /** Bumped whenever records are removed from the tail, so cursors drop cached byte offsets. */
  #rewrites = 0;

  /** @internal use {@link openLog}. */
  constructor(options: LogOptions, segments: Segment[], lastEpoch: number, lastTimestampMs: number, report: RecoveryReport) {
    this.#fs = options.fs;
    this.#dir = options.dir;
    this.#segmentBytes = options.segmentBytes ?? 64 * 1024 * 1024;
    this.#preallocate = options.preallocate ?? true;
    this.#dsync = (options.syncMethod ?? 'dsync') === 'dsync';
    this.#groupMaxEntries = options.groupMaxEntries ?? 1000;
    this.#groupMaxBytes = options.groupMaxBytes ?? GROUP_MAX_BYTES_DEFAULT;
    this.#initialLsn = options.firstLsn ?? 1;
    this.#now = options.monotonicNow;
    this.#tail = new TailCache(options.tailCacheBytes ?? 8 * 1024 * 1024);
    this.#segments = segments;
    this.recovery = report;
    const last = segments[segments.length - 1];
    this.#lastLsn = this.#flushedLsn = this.#publishedLsn = last === undefined ? this.#initialLsn - 1 : last.lastLsn;
    this.#lastEpoch = lastEpoch;
    this.#lastTimestampMs = lastTimestampMs;
    this.epoch = lastEpoch;
  }

  /** @internal opens the active segment (creating the first one) and prepares a spare. */
  async start(): Promise<void> {
    let active = this.#segments[this.#segments.length - 1];
    if (active === undefined) {
      active = new Segment(this.#dir, this.#initialLsn);
      this.#segments.push(active);
    }
    await this.#materialize(active);
    if (this.#dirDirty) await this.#syncDir();
    this.#prepareSpare();
  }

  /**
   * Resolves once the next segment's file is preallocated (at once without
   * preallocation, or when it failed: the roll then creates the file).
   * Benchmarks wait for it so the one-off zero-fill at open is not measured.
   */
  async spareReady(): Promise<void> {
    await this.#spare?.catch(() => false);
  }

  /** First LSN still held (the next LSN when the log is empty). */
  get firstLsn(): number {
    return this.#segments[0]!.firstLsn;
  }

  /** LSN of the last record appended, durable or not (0 when none ever). */
  get lastLsn(): number {
    return this.#lastLsn;
  }

  /** LSN of the last durable record. */
  get flushedLsn(): number {
    return this.#flushedLsn;
  }

  /**
   * LSN of the last record published: its bytes are final and readable by a
   * `beyondDurable` cursor (durable soon, unless the process or disk fails
   * first). Between `flushedLsn` and `lastLsn`.
   */
  get publishedLsn(): number {
    return this.#publishedLsn;
  }

  /** Epoch of the last record appended (0 when the log holds none). */
  get lastEpoch(): number {
    return this.#lastEpoch;
  }

  /** Timestamp of the last record appended. */
  get lastTimestampMs(): number {
    return this.#lastTimestampMs;
  }

  /** Bytes the segment files take on disk (preallocated space included). */
  get diskBytes(): number {
    let total = 0;
    for (const s of this.#segments) total += Math.max(s.fileBytes, s.bytes);
    return total;
  }

  /** First LSN of every segment, oldest first (for retention decisions). */
  segmentStarts(): number[] {
    return this.#segments.map((s) => s.firstLsn);
  }

  /**
   * Appends one record stamped with the log's current `epoch` and returns its
   * LSN. The record is durable once `sync()` (or `waitFlushed(lsn)`) resolves.
   */
  append(space: string, key: string, kind: number, seq: number, payload: Uint8Array | undefined, timestampMs: number): number {
    this.#checkWritable();
    const lsn = this.#lastLsn + 1;
    if (lsn > MAX_SAFE_U64) throw new ReplicationError('LsnOverflow', 'the log reached LSN 2^53 - 1');
    const group = this.#groupFor(recordSizeBound(space, key, payload?.length ?? 0));
    const length = encodeRecordInto(group.buffer, group.used,
      { lsn, seq, timestampMs, epoch: this.epoch, kind, space, key }, payload);
    this.#place(group, length, lsn);
    this.#lastEpoch = this.epoch;
    this.#lastTimestampMs = timestampMs;
    this.#schedulePublish();
    return lsn;
  }

  /**
   * Appends whole records received from a primary, byte for byte. `bytes`
   * must hold `count` verified records starting at `lastLsn + 1`: the
   * framing (lengths) and the LSN of every record are checked before any
   * byte is taken, so a bad batch leaves the log unchanged.
   */
  appendRecords(bytes: Uint8Array, startLsn: number, count: number): void {
    this.#checkWritable();
    if (startLsn !== this.#lastLsn + 1) {
      throw new ReplicationError('LogGap', `records start at LSN ${startLsn}, the log ends at ${this.#lastLsn}`,
        { context: { expected: this.#lastLsn + 1, actual: startLsn } });
    }
    // Written so as not to round: startLsn - 1 === lastLsn <= 2^53 - 1.
    if (count > MAX_SAFE_U64 - this.#lastLsn) throw new ReplicationError('LsnOverflow', 'the log reached LSN 2^53 - 1');
    const view = viewOf(bytes);
    this.#checkRecords(bytes, view, startLsn, count);
    // Records are placed one by one (a group or segment may end between
    // them), but copied in runs: one copy per group the batch lands in.
    let run: WriteGroup | undefined;
    let runSrc = 0;
    let runDst = 0;
    let offset = 0;
    for (let i = 0; i < count; i++) {
      const length = view.getUint32(offset + RecordOffset.length, true);
      const group = this.#groupFor(length);
      if (group !== run) {
        run?.buffer.set(bytes.subarray(runSrc, offset), runDst);
        run = group;
        runSrc = offset;
        runDst = group.used;
      }
      this.#place(group, length, startLsn + i);
      if (i === count - 1) {
        this.#lastEpoch = view.getUint32(offset + RecordOffset.epoch, true);
        this.#lastTimestampMs = readU64(view, offset + RecordOffset.timestampMs);
      }
      offset += length;
    }
    run?.buffer.set(bytes.subarray(runSrc, offset), runDst);
    this.#schedulePublish();
  }

  /**
   * Resolves once every record appended so far is durable; rejects if the
   * write or fsync fails. Everyone who appended into the same group shares
   * one promise.
   */
  sync(): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    const last = this.#groups[this.#groups.length - 1];
    return last === undefined ? resolved : last.done();
  }

  /**
   * Walks `count` records of `bytes`: each length must be plausible and lie
   * within `bytes`, and record `i` must carry LSN `startLsn + i`. Without
   * this a zero length would place empty records and burn LSNs, and a short
   * buffer would throw half-way with some records already placed.
   */
  #checkRecords(bytes: Uint8Array, view: DataView, startLsn: number, count: number): void {
    let offset = 0;
    for (let i = 0; i < count; i++) {
      const length = offset + RECORD_HEADER_BYTES <= bytes.length ? view.getUint32(offset + RecordOffset.length, true) : 0;
      if (length < RECORD_HEADER_BYTES || offset + length > bytes.length) {
        throw new ReplicationError('TruncatedBatch', `record ${i + 1} of ${count} does not fit in ${bytes.length} bytes at offset ${offset}`,
          { context: { offset, length, count } });
      }
      const lsn = readU64(view, offset + RecordOffset.lsn);
      if (lsn !== startLsn + i) {
        throw new ReplicationError('LogGap', `record ${i + 1} of ${count} has LSN ${lsn}, expected ${startLsn + i}`,
          { context: { expected: startLsn + i, actual: lsn } });
      }
      offset += length;
    }
  }

  /** Resolves once `lsn` is durable (follows the tail). Rejects if the log fails or closes first. */
  waitFlushed(lsn: number): Promise<void> {
    return this.#waitUntil(this.#flushedLsn, this.#flushWaiters, lsn);
  }

  /** Resolves once `lsn` is published (see `publishedLsn`). Rejects if the log fails or closes first. */
  waitPublished(lsn: number): Promise<void> {
    return this.#waitUntil(this.#publishedLsn, this.#publishWaiters, lsn);
  }

  /** Resolves once `position` (released through `waiters`) reaches `lsn`. */
  #waitUntil(position: number, waiters: LsnWaiters, lsn: number): Promise<void> {
    if (position >= lsn) return Promise.resolve();
    if (this.#failure) return Promise.reject(this.#failure);
    // While closing, LSNs already appended are still being flushed.
    if (this.#closed && lsn > this.#lastLsn) return Promise.reject(this.#closedError());
    return waiters.wait(lsn);
  }

  /**
   * Calls `listener(records, firstLsn, count, writeMs)` with the bytes of every group
   * as soon as it is durable, in LSN order, before its writers resolve (so a
   * projection applied here is visible when `sync()` resolves). `records` is
   * valid only during the call; `writeMs` is how long its durable write took
   * (0 without `monotonicNow`). Returns an unsubscribe function.
   */
  onDurable(listener: DurableListener): () => void {
    this.#durableListeners.add(listener);
    return () => this.#durableListeners.delete(listener);
  }

  /** Calls `listener(publishedLsn)` each time appended records are published; returns an unsubscribe function. */
  onPublished(listener: (publishedLsn: number) => void): () => void {
    this.#publishListeners.add(listener);
    return () => this.#publishListeners.delete(listener);
  }

  /** Calls `listener(flushedLsn)` after every group commit; returns an unsubscribe function. */
  onFlushed(listener: (flushedLsn: number) => void): () => void {
    this.#flushListeners.add(listener);
    return () => this.#flushListeners.delete(listener);
  }

  /**
   * Reads durable whole records from `fromLsn`: at most `maxEntries` records
   * and about `maxBytes` bytes (always at least one record), from one
   * segment. `undefined` when `fromLsn` is past the flushed end. Throws
   * `LogTruncated` when `fromLsn` is before the first record held.
   */
  async read(fromLsn: number, maxBytes: number, maxEntries = Number.MAX_SAFE_INTEGER): Promise<LogRead | undefined> {
    if (fromLsn > this.#flushedLsn) return undefined;
    const segment = this.#segmentHolding(fromLsn);
    const offset = await this.#locate(segment, fromLsn);
    return offset === undefined ? undefined : this.#readFrom(segment, offset, fromLsn, maxBytes, maxEntries, false);
  }

  /**
   * A cursor that reads records in order from `fromLsn`: durable ones, or
   * with `beyondDurable` also published ones (see `publishedLsn`).
   */
  cursor(fromLsn: number, options: { beyondDurable?: boolean } = {}): LogCursor {
    this.#tail.want();
    return new LogCursor(this, fromLsn, options.beyondDurable ?? false);
  }

  /**
   * Removes every record after `lsn` (a divergent tail). Waits for in-flight
   * flushes; zeroes the bytes and deletes later segment files durably.
   */
  async truncateAfter(lsn: number): Promise<TruncateReport> {
    await this.#idle();
    this.#checkWritable();
    const toLsn = this.#lastLsn;
    if (lsn >= toLsn) return { fromLsn: lsn + 1, toLsn, count: 0 };
    if (lsn < this.firstLsn - 1) {
      throw new ReplicationError('LogTruncated', `cannot truncate after ${lsn}: the log starts at ${this.firstLsn}`);
    }
    const segment = this.#segmentHolding(lsn + 1);
    const cut = (await this.#locate(segment, lsn + 1))!; // idle: every record is durable
    let lastEpoch = 0;
    let lastTimestampMs = 0;
    if (lsn >= this.firstLsn) {
      const holder = this.#segmentHolding(lsn);
      const head = new Uint8Array(RECORD_HEADER_BYTES);
      await this.#readAt(holder, head, (await this.#locate(holder, lsn))!);
      lastEpoch = viewOf(head).getUint32(RecordOffset.epoch, true);
      lastTimestampMs = readU64(viewOf(head), RecordOffset.timestampMs);
    }
    // Later segments go first, newest first, and durably; only then is the
    // tail of `segment` cut. A crash part-way then leaves a contiguous log
    // that still ends with (part of) the old tail, which a retry cuts again.
    // Cutting first would leave a gap before the surviving later segments,
    // which recovery must report as corruption.
    const later = this.#segments.filter((s) => s.firstLsn > segment.firstLsn).reverse();
    for (const s of later) await this.#deleteSegment(s);
    if (later.length > 0) await this.#syncDir();
    this.#segments = this.#segments.filter((s) => !s.deleted);
    await this.#cutFile(segment, cut);
    segment.bytes = segment.durableBytes = cut;
    segment.lastLsn = segment.durableLastLsn = lsn;
    segment.index.truncateAfter(lsn);
    this.#lastLsn = this.#flushedLsn = this.#publishedLsn = lsn;
    this.#lastEpoch = lastEpoch;
    this.#lastTimestampMs = lastTimestampMs;
    this.#rewrites++;
    this.#tail.clear();
    return { fromLsn: lsn + 1, toLsn, count: toLsn - lsn };
  }

  /**
   * Drops the bytes of `segment`'s file from `cut` on. The file is first
   * shortened (one atomic size change, made durable) and only then zero-filled
   * back to its preallocated size: zeroing the old records in place could be
   * cut short by a crash and leave intact records after zeros, which recovery
   * must report as corruption.
   */
  async #cutFile(segment: Segment, cut: number): Promise<void> {
    const handle = await this.#fs.open(segment.path);
    let size: number;
    try {
      size = await handle.size();
      if (size <= cut) return;
      await handle.truncate(cut);
      await handle.datasync();
    } finally {
      await handle.close();
    }
    if (this.#preallocate) await zeroRange(this.#fs, segment.path, cut, size);
    segment.fileBytes = this.#preallocate ? size : cut;
  }

  /** Deletes whole segments that hold only records before `lsn` (never the active one). Returns how many. */
  async retainFrom(lsn: number): Promise<number> {
    const doomed = this.#segments.slice(0, -1).filter((s) => s.lastLsn < lsn && s.durableLastLsn === s.lastLsn);
    if (doomed.length === 0) return 0;
    for (const s of doomed) await this.#deleteSegment(s);
    await this.#syncDir();
    this.#segments = this.#segments.filter((s) => !s.deleted);
    return doomed.length;
  }

  /** Empties the log so that the next record is `lsn + 1` (after installing a snapshot at `lsn`). */
  async resetTo(lsn: number): Promise<void> {
    await this.#idle();
    this.#checkWritable();
    for (const s of this.#segments) await this.#deleteSegment(s);
    const fresh = new Segment(this.#dir, lsn + 1);
    this.#segments = [fresh];
    await this.#materialize(fresh);
    await this.#syncDir();
    this.#lastLsn = this.#flushedLsn = this.#publishedLsn = lsn;
    this.#lastEpoch = 0;
    this.#lastTimestampMs = 0;
    this.#rewrites++;
    this.#tail.clear();
    // Waiters for LSNs the reset jumped over would otherwise hang until the
    // next group commit; they wake now and find those LSNs gone (LogTruncated).
    this.#flushWaiters.release(lsn);
    this.#publishWaiters.release(lsn);
  }

  /** Stops accepting appends, flushes what was appended, closes every file. */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    // Refuse appends before waiting for the last flush: an append accepted
    // after the wait would be flushed into handles being closed, fail the
    // log with an IoError and lose the record.
    this.#closed = true;
    await this.#idle();
    await this.#spare?.catch(() => false);
    for (const s of this.#segments) {
      await s.handle?.close();
      s.handle = undefined;
    }
    const err = this.#closedError();
    this.#flushWaiters.rejectAll(err);
    this.#publishWaiters.rejectAll(err);
  }

  // ---- internals -------------------------------------------------------

  #checkWritable(): void {
    if (this.#failure) throw this.#failure;
    if (this.#closed) throw this.#closedError();
  }

  #closedError(): ReplicationError {
    return new ReplicationError('LogClosed', 'the log is closed');
  }

  /** The open group with room for `bound` more bytes, starting a new one when needed. */
  #groupFor(bound: number): WriteGroup {
    const open = this.#groups[this.#groups.length - 1];
    if (open !== undefined && !open.sealed && open.entries < this.#groupMaxEntries && open.free >= bound &&
        (open.used + bound <= this.#groupMaxBytes || open.entries === 0)) {
      return open;
    }
    if (open !== undefined) open.sealed = true;
    const pooledSize = Math.max(this.#groupMaxBytes, 64 * 1024);
    const buffer = bound <= pooledSize ? (this.#pool.pop() ?? new Uint8Array(pooledSize)) : new Uint8Array(bound);
    const group = new WriteGroup(buffer, buffer.length === pooledSize);
    this.#groups.push(group);
    this.#scheduleFlush();
    return group;
  }

  /** Maps `length` bytes just encoded at `group.used` to the active segment, rolling when it is full. */
  #place(group: WriteGroup, length: number, lsn: number): void {
    let segment = this.#segments[this.#segments.length - 1]!;
    if (segment.bytes > 0 && segment.bytes + length > this.#segmentBytes) {
      segment = new Segment(this.#dir, lsn);
      this.#segments.push(segment);
    }
    group.place(segment, length, lsn);
    segment.index.note(lsn, segment.bytes);
    segment.bytes += length;
    segment.lastLsn = lsn;
    this.#lastLsn = lsn;
  }

  #schedulePublish(): void {
    if (this.#publishScheduled) return;
    this.#publishScheduled = true;
    queueMicrotask(() => {
      this.#publishScheduled = false;
      this.#publish();
    });
  }

  /** Publishes every record appended so far (see `publishedLsn`). */
  #publish(): void {
    if (this.#publishedLsn === this.#lastLsn || this.#failure !== undefined) return;
    for (const group of this.#groups) this.#publishGroup(group);
    this.#publishedLsn = this.#lastLsn;
    this.#publishWaiters.release(this.#publishedLsn);
    for (const listener of this.#publishListeners) guarded(() => listener(this.#publishedLsn));
  }

  /** Copies the bytes `group` gained since it was last published into the tail cache. */
  #publishGroup(group: WriteGroup): void {
    if (group.published === group.used) return;
    for (const extent of group.extents) {
      const start = Math.max(extent.start, group.published);
      if (start < extent.end) {
        this.#tail.add(extent.segment, extent.fileOffset + (start - extent.start), group.buffer.subarray(start, extent.end));
      }
    }
    group.published = group.used;
  }

  #scheduleFlush(): void {
    if (this.#flushing || this.#flushScheduled) return;
    this.#flushScheduled = true;
    queueMicrotask(() => {
      this.#flushScheduled = false;
      void this.#flushLoop();
    });
  }

  /**
   * One group is written at a time, in order. As soon as group N+1's write
   * is issued, group N is completed (durable listeners, writers resolved):
   * its writers' CPU work then overlaps the next group's I/O instead of
   * alternating with it.
   */
  async #flushLoop(): Promise<void> {
    if (this.#flushing) return;
    this.#flushing = true;
    let written: WriteGroup | undefined;
    try {
      while (this.#groups.length > 0 && this.#failure === undefined) {
        const group = this.#groups[0]!;
        group.sealed = true;
        const writing = group.entries > 0 ? this.#writeGroup(group) : resolved;
        if (written !== undefined) this.#completeGroup(written);
        written = undefined;
        await writing;
        this.#groups.shift();
        written = group;
      }
      if (written !== undefined) this.#completeGroup(written);
    } catch (cause) {
      if (written !== undefined) this.#completeGroup(written);
      this.#fail(cause);
    } finally {
      this.#flushing = false;
      if (this.#groups.length === 0 || this.#failure) for (const w of this.#idleWaiters.splice(0)) w();
    }
  }

  async #writeGroup(group: WriteGroup): Promise<void> {
    const started = this.#now?.() ?? 0;
    // A group that spans a roll makes the older segment durable before the
    // next file is even created: otherwise a crash could keep records of the
    // new segment behind a torn tail of the old one, which recovery must
    // treat as corruption (a gap before a later segment).
    for (const extent of group.extents) {
      const segment = extent.segment;
      if (segment.handle === undefined) await this.#materialize(segment);
      await segment.handle!.write(group.buffer.subarray(extent.start, extent.end), extent.fileOffset);
      // A handle opened by a reader (no O_DSYNC) can become the write target
      // after truncateAfter: it still needs its fdatasync.
      if (!segment.dsyncHandle) await segment.handle!.datasync();
    }
    if (this.#dirDirty) await this.#syncDir();
    if (this.#now !== undefined) group.writeMs = this.#now() - started;
  }

  #completeGroup(group: WriteGroup): void {
    // Normally published a microtask after its appends, long before its
    // write completes; published here at the latest so the cache stays whole.
    this.#publishGroup(group);
    for (const extent of group.extents) {
      const segment = extent.segment;
      segment.durableBytes = extent.fileOffset + (extent.end - extent.start);
      segment.durableLastLsn = extent.lastLsn;
      segment.fileBytes = Math.max(segment.fileBytes, segment.durableBytes);
    }
    if (group.entries > 0) {
      this.#flushedLsn = group.lastLsn;
      const bytes = group.buffer.subarray(0, group.used);
      const firstLsn = group.lastLsn - group.entries + 1;
      for (const listener of this.#durableListeners) guarded(() => listener(bytes, firstLsn, group.entries, group.writeMs));
    }
    if (group.pooled && this.#pool.length < POOL_BUFFERS) this.#pool.push(group.buffer);
    group.resolve();
    this.#flushWaiters.release(this.#flushedLsn);
    if (group.entries === 0) return;
    for (const listener of this.#flushListeners) guarded(() => listener(this.#flushedLsn));
  }


  #fail(cause: unknown): void {
    const err = cause instanceof ReplicationError ? cause
      : new ReplicationError('IoError', 'the log failed to write or sync', { cause });
    this.#failure = new ReplicationError(err.code, `log write failed, the log is now read-only: ${err.message}`, {
      cause: err,
      suggestion: 'an fsync error cannot be retried safely; restart the node so recovery re-reads the log from disk',
    });
    for (const group of this.#groups.splice(0)) group.reject(this.#failure);
    this.#flushWaiters.rejectAll(this.#failure);
    this.#publishWaiters.rejectAll(this.#failure);
  }

  #idle(): Promise<void> {
    if (!this.#flushing && !this.#flushScheduled && this.#groups.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Opens a segment's file, creating it (from the spare when one is ready) if it is new. */
  async #materialize(segment: Segment): Promise<void> {
    if (!segment.onDisk) {
      const spareReady = this.#spare !== undefined && (await this.#spare.catch(() => false));
      this.#spare = undefined;
      if (spareReady) {
        await this.#fs.rename(joinPath(this.#dir, SPARE_SEGMENT_NAME), segment.path);
        segment.fileBytes = this.#segmentBytes;
      }
      segment.onDisk = true;
      this.#dirDirty = true;
    }
    segment.handle = await this.#fs.open(segment.path, { create: true, dsync: this.#dsync });
    segment.dsyncHandle = this.#dsync;
    if (this.#preallocate && segment.fileBytes < this.#segmentBytes) {
      await zeroRange(this.#fs, segment.path, Math.max(segment.fileBytes, segment.durableBytes), this.#segmentBytes);
      segment.fileBytes = this.#segmentBytes;
    }
    this.#prepareSpare();
  }

  /** Starts zero-filling the next segment's file in the background. */
  #prepareSpare(): void {
    if (!this.#preallocate || this.#spare !== undefined || this.#closed) return;
    const path = joinPath(this.#dir, SPARE_SEGMENT_NAME);
    this.#spare = (async () => {
      const handle = await this.#fs.open(path, { create: true });
      await handle.close();
      await zeroRange(this.#fs, path, 0, this.#segmentBytes);
      return true;
    })();
    this.#spare.catch(() => undefined);
  }

  async #syncDir(): Promise<void> {
    this.#dirDirty = false;
    await this.#fs.syncDir(this.#dir);
  }

  async #deleteSegment(segment: Segment): Promise<void> {
    segment.deleted = true;
    await this.#fs.unlink(segment.path);
    if (segment.reads === 0) {
      await segment.handle?.close();
      segment.handle = undefined;
    }
  }

  /** @internal how many times the tail was rewritten (truncateAfter, resetTo). */
  get rewrites(): number {
    return this.#rewrites;
  }

  /** @internal the segment that holds durable record `lsn`. */
  segmentHolding(lsn: number): Segment {
    return this.#segmentHolding(lsn);
  }

  #segmentHolding(lsn: number): Segment {
    if (lsn < this.firstLsn) {
      throw new ReplicationError('LogTruncated', `LSN ${lsn} is no longer in the log (it starts at ${this.firstLsn})`,
        { suggestion: 'the reader needs a snapshot', context: { lsn, firstLsn: this.firstLsn } });
    }
    let lo = 0;
    let hi = this.#segments.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.#segments[mid]!.firstLsn <= lsn) lo = mid;
      else hi = mid - 1;
    }
    return this.#segments[lo]!;
  }

  /**
   * @internal byte offset of record `lsn` in `segment`; `undefined` when the
   * records before it are neither durable nor in the tail cache yet.
   */
  async locate(segment: Segment, lsn: number): Promise<number | undefined> {
    return this.#locate(segment, lsn);
  }

  async #locate(segment: Segment, lsn: number): Promise<number | undefined> {
    if (lsn === segment.lastLsn + 1) return segment.bytes;
    const floor = segment.index.floor(lsn);
    if (floor === undefined) throw new ReplicationError('LogTruncated', `LSN ${lsn} is not in segment ${segment.name}`);
    let offset = floor.offset;
    let at = floor.lsn;
    const chunk = new Uint8Array(LOCATE_CHUNK_BYTES);
    const view = viewOf(chunk);
    while (at < lsn) {
      const n = await this.#knownBytesAt(segment, chunk, offset);
      if (n === 0) return undefined;
      let pos = 0;
      while (at < lsn && pos + 4 <= n) {
        const length = view.getUint32(pos, true);
        if (length < RECORD_HEADER_BYTES) throw new ReplicationError('Corruption', `bad record length in ${segment.name} at ${offset + pos}`);
        pos += length;
        at++;
      }
      if (pos === 0) throw new ReplicationError('Corruption', `cannot walk ${segment.name} at ${offset}`);
      // `pos` may pass the chunk's end when the last record walked continues
      // beyond it; either way it is the start of the next record.
      offset += pos;
    }
    return offset;
  }

  /**
   * Reads into `buffer` the bytes of `segment` at `position` that are known:
   * from the tail cache, else from the file up to the durable end (past it
   * the file may not hold them yet). 0 when none are known.
   */
  async #knownBytesAt(segment: Segment, buffer: Uint8Array, position: number): Promise<number> {
    const cached = this.#tail.from(segment, position);
    if (cached !== undefined) {
      const n = Math.min(cached.length, buffer.length);
      buffer.set(cached.subarray(0, n));
      return n;
    }
    const durable = segment.durableBytes - position;
    if (durable <= 0) return 0;
    const n = await this.#readAt(segment, buffer, position);
    return Math.min(n, durable);
  }

  async #readAt(segment: Segment, buffer: Uint8Array, position: number): Promise<number> {
    if (segment.deleted) throw new ReplicationError('LogTruncated', `segment ${segment.name} was removed by retention`);
    segment.reads++;
    try {
      if (segment.handle === undefined) {
        segment.handle = await this.#fs.open(segment.path);
        segment.dsyncHandle = false;
      }
      return await segment.handle.read(buffer, position);
    } finally {
      segment.reads--;
      if (segment.deleted && segment.reads === 0 && segment.handle !== undefined) {
        const handle = segment.handle;
        segment.handle = undefined;
        await handle.close();
      }
    }
  }

  /**
   * @internal reads whole records of `segment` from byte `offset` (record
   * `lsn`): durable ones, or with `beyondDurable` also published ones.
   */
  async readFrom(segment: Segment, offset: number, lsn: number, maxBytes: number, maxEntries: number, beyondDurable: boolean): Promise<LogRead | undefined> {
    return this.#readFrom(segment, offset, lsn, maxBytes, maxEntries, beyondDurable);
  }

  async #readFrom(segment: Segment, offset: number, lsn: number, maxBytes: number, maxEntries: number, beyondDurable: boolean): Promise<LogRead | undefined> {
    const limit = Math.max(maxBytes, RECORD_HEADER_BYTES);
    const cached = this.#tail.from(segment, offset);
    if (cached !== undefined) {
      // The cache holds published bytes; a durable read stops at the durable end.
      const readable = beyondDurable ? cached : cached.subarray(0, Math.max(0, segment.durableBytes - offset));
      if (readable.length === 0) return undefined;
      const firstLength = viewOf(readable).getUint32(0, true);
      return wholeRecords(readable, Math.min(readable.length, Math.max(limit, firstLength)), lsn, maxEntries, segment, offset);
    }
    const available = segment.durableBytes - offset;
    if (available <= 0) return undefined;
    let buffer = new Uint8Array(Math.min(limit, available));
    let n = await this.#readAt(segment, buffer, offset);
    const firstLength = viewOf(buffer).getUint32(0, true);
    if (firstLength > n) {
      buffer = new Uint8Array(firstLength);
      n = await this.#readAt(segment, buffer, offset);
    }
    return wholeRecords(buffer, n, lsn, maxEntries, segment, offset);
  }
}

/** The whole records among the first `n` bytes of `buffer` (record `lsn` first), at most `maxEntries` (at least one). */
function wholeRecords(buffer: Uint8Array, n: number, lsn: number, maxEntries: number, segment: Segment, offset: number): LogRead {
  const view = viewOf(buffer);
  let pos = 0;
  let count = 0;
  // `count === 0`: always at least one record, as documented, even for
  // maxEntries < 1 (which would otherwise be reported as Corruption).
  while ((count < maxEntries || count === 0) && pos + RECORD_HEADER_BYTES <= n) {
    const length = view.getUint32(pos, true);
    if (length < RECORD_HEADER_BYTES || pos + length > n) break;
    pos += length;
    count++;
  }
  if (count === 0) throw new ReplicationError('Corruption', `cannot read a whole record of ${segment.name} at ${offset}`);
  return {
    bytes: buffer.subarray(0, pos),
    firstLsn: lsn,
    lastLsn: lsn + count - 1,
    count,
    firstTimestampMs: readU64(view, RecordOffset.timestampMs),
  };
}

/**
 * Reads durable records in order, remembering where it is so sequential
 * reads never search the index.
 *
 * @example
 * const cursor = log.cursor(1)
 * for (;;) { const r = await cursor.next(1 << 20); if (!r) { await cursor.waitForMore(); continue } ship(r) }
 */
export class LogCursor {
  readonly #log: Log;
  readonly #beyondDurable: boolean;
  #nextLsn: number;
  #segment: Segment | undefined;
  #offset = 0;
  /** `log.rewrites` when `#segment`/`#offset` were found. */
  #rewrites = 0;

  constructor(log: Log, fromLsn: number, beyondDurable: boolean) {
    this.#log = log;
    this.#nextLsn = fromLsn;
    this.#beyondDurable = beyondDurable;
  }

  /** LSN of the next record this cursor returns. */
  get position(): number {
    return this.#nextLsn;
  }

  /** Moves the cursor to `lsn`. */
  seek(lsn: number): void {
    this.#nextLsn = lsn;
    this.#segment = undefined;
  }

  /**
   * The next records (see `Log.read`), or `undefined` at the end the cursor
   * may read to (durable, or published with `beyondDurable`).
   */
  async next(maxBytes: number, maxEntries?: number): Promise<LogRead | undefined> {
    if (this.#nextLsn > this.#end()) return undefined;
    let segment = this.#segment;
    // After truncateAfter the same LSN may come back at another offset, so a
    // cached offset is only trusted while the tail was not rewritten.
    if (segment === undefined || segment.deleted || !segment.holds(this.#nextLsn, this.#beyondDurable) ||
        this.#rewrites !== this.#log.rewrites) {
      this.#rewrites = this.#log.rewrites;
      segment = this.#log.segmentHolding(this.#nextLsn);
      const offset = await this.#log.locate(segment, this.#nextLsn);
      if (offset === undefined) return undefined; // not durable, no longer cached: waitForMore waits for durability
      this.#offset = offset;
      this.#segment = segment;
    }
    const read = await this.#log.readFrom(segment, this.#offset, this.#nextLsn, maxBytes, maxEntries ?? Number.MAX_SAFE_INTEGER, this.#beyondDurable);
    if (read === undefined) {
      this.#segment = undefined;
      return undefined;
    }
    this.#offset += read.bytes.length;
    this.#nextLsn = read.lastLsn + 1;
    return read;
  }

  /** Resolves when a record at the cursor's position can be read. */
  waitForMore(): Promise<void> {
    // A published record that `next` could not read (its bytes left the
    // cache before they were durable) becomes readable once durable.
    return this.#nextLsn > this.#end() ? this.#endWait() : this.#log.waitFlushed(this.#nextLsn);
  }

  #end(): number {
    return this.#beyondDurable ? this.#log.publishedLsn : this.#log.flushedLsn;
  }

  #endWait(): Promise<void> {
    return this.#beyondDurable ? this.#log.waitPublished(this.#nextLsn) : this.#log.waitFlushed(this.#nextLsn);
  }
}
