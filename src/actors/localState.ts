/**
 * Everything a node keeps on its own disk, opened and recovered together:
 * the log, the metadata file (epoch, vote, epoch history), the latest
 * snapshot, and the state folded from them (space ledger + projection).
 * On open the snapshot is restored and the log replayed after it.
 *
 * @example
 * const state = await openLocalState({ dir, fs, nodeId: 'n1', clusterId: 'demo', projection, segmentBytes })
 */
import { ReplicationError } from '../errors.js';
import { type FileSystem, joinPath } from '../log/fileSystem.js';
import { type Log, openLog } from '../log/log.js';
import { readMetaFile, writeMetaFile } from '../log/metaFile.js';
import type { Projection } from '../store/reducer.js';
import type { EpochStart } from '../types.js';
import { Applier } from './applier.js';
import { type NodeSnapshot, decodeNodeSnapshot, encodeNodeSnapshot } from './nodeSnapshot.js';
import { SpaceLedger } from './spaceLedger.js';

/** The node metadata persisted in `meta.json`. */
export interface NodeMeta {
  nodeId: string;
  clusterId: string;
  /** Highest epoch this node has seen. */
  epoch: number;
  /** Epoch in which `votedFor` was granted (0 when never). */
  votedEpoch: number;
  votedFor: string | null;
  /** `(epoch, startLsn)` of every epoch this node's log holds records of, oldest first. */
  epochHistory: EpochStart[];
  /**
   * Records up to this LSN were durable here but had to be dropped (a rejoin
   * cut below a local snapshot, so the state was rebuilt from nothing). The
   * node still votes as if it held them, so its vote never helps elect a log
   * that lacks them, and it stands for no election until its log reaches
   * this LSN again. 0 when none.
   */
  claimedLsn: number;
}

const SNAPSHOT_FILE = 'snapshot.bin';
const SNAPSHOT_TEMP = 'snapshot.bin.tmp';
const READ_CHUNK_BYTES = 4 * 1024 * 1024;

/** Options of {@link openLocalState}. */
export interface LocalStateOptions {
  dir: string;
  fs: FileSystem;
  nodeId: string;
  clusterId: string;
  projection: Projection;
  segmentBytes: number;
  /** Monotonic ms for timing group commits (metrics). */
  monotonicNow?: () => number;
}

export class LocalState {
  readonly log: Log;
  readonly ledger: SpaceLedger;
  readonly projection: Projection;
  readonly applier: Applier;
  meta: NodeMeta;
  /** LSN of the snapshot on disk (0 when none). */
  snapshotLsn: number;
  readonly #fs: FileSystem;
  readonly #dir: string;

  #metaWrite: Promise<void> = Promise.resolve();
  #rewrite: Promise<unknown> = Promise.resolve();

  constructor(fs: FileSystem, dir: string, log: Log, meta: NodeMeta, ledger: SpaceLedger, projection: Projection, snapshotLsn: number) {
    this.#fs = fs;
    this.#dir = dir;
    this.log = log;
    this.meta = meta;
    this.ledger = ledger;
    this.projection = projection;
    this.snapshotLsn = snapshotLsn;
    this.applier = new Applier(ledger, projection, snapshotLsn);
  }

  /**
   * Writes new metadata atomically. Writes run one after another, each
   * patching what the previous one wrote (two at once would race on the
   * temp file and lose each other's fields), and the epoch and the voted
   * epoch never go down.
   */
  saveMeta(patch: Partial<NodeMeta>): Promise<void> {
    const write = this.#metaWrite.then(async () => {
      const next = { ...this.meta, ...patch };
      next.epoch = Math.max(this.meta.epoch, next.epoch);
      if (next.votedEpoch < this.meta.votedEpoch) {
        next.votedEpoch = this.meta.votedEpoch;
        next.votedFor = this.meta.votedFor;
      }
      await writeMetaFile(this.#fs, this.#dir, next);
      this.meta = next;
    });
    this.#metaWrite = write.catch(() => undefined);
    return write;
  }

  /**
   * Runs `operation` once every operation started earlier through here has
   * finished. Whatever rewrites the log's history or the snapshot file goes
   * through it (retention, a rejoin's cut and rebuild, a snapshot install):
   * retention deciding from a snapshot that a rebuild is about to discard
   * would delete segments the rebuild still has to replay.
   */
  exclusive<T>(operation: () => Promise<T>): Promise<T> {
    const run = this.#rewrite.then(operation);
    this.#rewrite = run.catch(() => undefined);
    return run;
  }

  /** Epoch of the record at `lsn` according to the epoch history (0 for LSN 0). */
  epochOf(lsn: number): number {
    let epoch = 0;
    for (const e of this.meta.epochHistory) if (e.startLsn <= lsn) epoch = e.epoch;
    return lsn === 0 ? 0 : epoch;
  }

  /** The current state as node-snapshot bytes (at the applied LSN). */
  takeSnapshot(): { lsn: number; bytes: Uint8Array } {
    const lsn = this.applier.appliedLsn;
    const bytes = encodeNodeSnapshot({
      lsn, epoch: this.epochOf(lsn), epochHistory: this.meta.epochHistory,
      ledger: this.ledger.snapshot(), projection: this.projection.snapshot(),
    });
    return { lsn, bytes };
  }

  /** Takes a snapshot and writes it durably (temp, sync, rename, sync dir). */
  async persistSnapshot(): Promise<number> {
    const { lsn, bytes } = this.takeSnapshot();
    await this.#writeSnapshotFile(bytes);
    this.snapshotLsn = lsn;
    return lsn;
  }

  /**
   * Replaces the whole state with a snapshot received from a primary: state
   * restored, log emptied to continue at `lsn + 1`, snapshot and metadata
   * persisted. The epoch history becomes the sender's current one
   * (`primaryHistory`, from SNAPSHOT_BEGIN), not the one inside the
   * snapshot: a snapshot taken before the sender's latest epoch began lacks
   * it, and the records that follow it belong to that epoch.
   */
  async installSnapshot(bytes: Uint8Array, primaryHistory: EpochStart[]): Promise<NodeSnapshot> {
    const snapshot = decodeNodeSnapshot(bytes);
    this.projection.restore(snapshot.projection);
    this.ledger.restore(snapshot.ledger);
    await this.#writeSnapshotFile(bytes);
    await this.log.resetTo(snapshot.lsn);
    this.applier.resetTo(snapshot.lsn);
    this.snapshotLsn = snapshot.lsn;
    await this.saveMeta({ epochHistory: primaryHistory, epoch: Math.max(this.meta.epoch, snapshot.epoch) });
    return snapshot;
  }

  /**
   * Rebuilds the ledger and projection from scratch up to `lsn` (after a
   * truncation): from the snapshot file when it does not reach past `lsn`,
   * else from empty, then replays the log. Records the log no longer holds
   * are dropped (`resetTo`), to be received again from the primary. The log
   * is reset before a snapshot past `lsn` is deleted: a crash in between
   * leaves a snapshot past the log's end, which opening repairs.
   */
  async rebuildTo(lsn: number, emptyProjection: Uint8Array): Promise<void> {
    const path = joinPath(this.#dir, SNAPSHOT_FILE);
    const bytes = await this.#fs.readFile(path);
    const snapshot = bytes === undefined ? undefined : decodeNodeSnapshot(bytes);
    const usable = snapshot !== undefined && snapshot.lsn <= lsn;
    const from = usable ? snapshot.lsn : 0;
    this.projection.restore(usable ? snapshot.projection : emptyProjection);
    this.ledger.restore(usable ? snapshot.ledger : new SpaceLedger().snapshot());
    this.snapshotLsn = from;
    if (from + 1 < this.log.firstLsn) await this.log.resetTo(from);
    if (snapshot !== undefined && !usable) {
      await this.#fs.unlink(path); // it describes history that was just discarded
      await this.#fs.syncDir(this.#dir);
    }
    this.applier.resetTo(from);
    const cursor = this.log.cursor(from + 1);
    for (let read = await cursor.next(READ_CHUNK_BYTES); read !== undefined && read.firstLsn <= lsn; read = await cursor.next(READ_CHUNK_BYTES)) {
      this.applier.applyRecords(read.bytes, read.firstLsn, read.count);
    }
  }

  async #writeSnapshotFile(bytes: Uint8Array): Promise<void> {
    const temp = joinPath(this.#dir, SNAPSHOT_TEMP);
    await this.#fs.unlink(temp);
    const handle = await this.#fs.open(temp, { create: true });
    try {
      for (let at = 0; at < bytes.length; at += READ_CHUNK_BYTES) {
        await handle.write(bytes.subarray(at, Math.min(bytes.length, at + READ_CHUNK_BYTES)), at);
      }
      await handle.datasync();
    } finally {
      await handle.close();
    }
    await this.#fs.rename(temp, joinPath(this.#dir, SNAPSHOT_FILE));
    await this.#fs.syncDir(this.#dir);
  }

  async close(): Promise<void> {
    await this.log.close();
  }
}

function parseMeta(value: unknown, nodeId: string, clusterId: string): NodeMeta | undefined {
  if (value === undefined) return undefined;
  const m = value as Partial<NodeMeta>;
  if (m.nodeId !== nodeId || m.clusterId !== clusterId) {
    throw new ReplicationError('InvalidConfig', `data directory belongs to node '${String(m.nodeId)}' of cluster '${String(m.clusterId)}', not '${nodeId}' of '${clusterId}'`, {
      suggestion: 'point each node at its own data directory',
    });
  }
  return {
    nodeId, clusterId, epoch: m.epoch ?? 0, votedEpoch: m.votedEpoch ?? 0, votedFor: m.votedFor ?? null,
    epochHistory: Array.isArray(m.epochHistory) ? m.epochHistory : [], claimedLsn: m.claimedLsn ?? 0,
  };
}

/** Opens (recovering) or creates a node's local state in `dir`. */
export async function openLocalState(options: LocalStateOptions): Promise<LocalState> {
  const { fs, dir } = options;
  await fs.mkdirp(dir);
  const meta = parseMeta(await readMetaFile(fs, dir), options.nodeId, options.clusterId) ?? {
    nodeId: options.nodeId, clusterId: options.clusterId, epoch: 0, votedEpoch: 0, votedFor: null, epochHistory: [], claimedLsn: 0,
  };
  const ledger = new SpaceLedger();
  const emptyProjection = options.projection.snapshot(); // the projection as given: nothing applied yet
  let snapshotLsn = 0;
  const snapshotBytes = await fs.readFile(joinPath(dir, SNAPSHOT_FILE));
  if (snapshotBytes !== undefined) {
    const snapshot = decodeNodeSnapshot(snapshotBytes);
    options.projection.restore(snapshot.projection);
    ledger.restore(snapshot.ledger);
    snapshotLsn = snapshot.lsn;
  }
  const log = await openLog({
    dir: joinPath(dir, 'wal'), fs, segmentBytes: options.segmentBytes, firstLsn: snapshotLsn + 1,
    ...(options.monotonicNow === undefined ? {} : { monotonicNow: options.monotonicNow }),
  });
  if (log.firstLsn > snapshotLsn + 1) {
    await log.close();
    throw new ReplicationError('Corruption', `the log starts at LSN ${log.firstLsn} but the snapshot ends at ${snapshotLsn}: records are missing`, {
      suggestion: 'restore this node from a replica',
    });
  }
  const state = new LocalState(fs, dir, log, meta, ledger, options.projection, snapshotLsn);
  log.epoch = meta.epoch;
  if (snapshotLsn > log.lastLsn) {
    // A rejoin cut the log below the snapshot and crashed before deleting it:
    // finish it (the records it claimed were recorded before the cut).
    await state.rebuildTo(log.lastLsn, emptyProjection);
    return state;
  }
  const cursor = log.cursor(Math.max(snapshotLsn + 1, log.firstLsn));
  for (let read = await cursor.next(READ_CHUNK_BYTES); read !== undefined; read = await cursor.next(READ_CHUNK_BYTES)) {
    state.applier.applyRecords(read.bytes, read.firstLsn, read.count);
  }
  return state;
}
