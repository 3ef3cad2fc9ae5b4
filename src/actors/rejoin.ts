/**
 * Rejoining a primary whose history diverges from this node's log: the
 * records after the fork point (an old primary's unreplicated tail, written
 * in an epoch the new primary superseded) are copied to a quarantine file,
 * cut from the log, and the state is rebuilt from the snapshot and the log up
 * to the fork. Nothing is silently deleted.
 *
 * @example
 * const cut = await rejoinPrimary(state, hello, { fs, dataDir, emptyProjection, onDiscard: (range) => events.emit('truncated', range) })
 * if (cut) rebuildCaches()
 */
import { ReplicationError } from '../errors.js';
import { type FileSystem, joinPath } from '../log/fileSystem.js';
import type { HelloMessage } from '../wire/messages.js';
import { forkPoint } from './forkPoint.js';
import type { LocalState } from './localState.js';

/** What a rejoin discarded. */
export interface DiscardedRange {
  /** First and last LSN removed from the log. */
  fromLsn: number;
  toLsn: number;
  count: number;
  /** File holding the removed records, byte for byte. */
  quarantineFile: string;
}

const COPY_CHUNK_BYTES = 4 * 1024 * 1024;

/**
 * Cuts this node's log back to where it agrees with the primary that sent
 * `hello`; returns what was discarded, or `undefined` when nothing was.
 */
export async function rejoinPrimary(
  state: LocalState,
  hello: HelloMessage,
  io: {
    fs: FileSystem;
    dataDir: string;
    emptyProjection: Uint8Array;
    /**
     * Called once the records to cut are safe in quarantine, before the cut:
     * the discard is reported even if a later step fails (a retry then finds
     * nothing left to cut).
     */
    onDiscard: (range: DiscardedRange) => void;
  },
): Promise<DiscardedRange | undefined> {
  const last = hello.epochHistory[hello.epochHistory.length - 1];
  if (last === undefined || last.epoch !== hello.epoch) {
    throw new ReplicationError('MalformedMessage', `HELLO of epoch ${hello.epoch} carries an epoch history that does not end in it`);
  }
  await state.log.sync();
  const ourLast = state.log.lastLsn;
  // Agreement comes from the histories alone, not from how far the primary
  // says its log goes: records of an epoch the primary also has are never cut.
  // Records claimed past the log (NodeMeta.claimedLsn) count as held.
  const agreed = forkPoint(state.meta.epochHistory, Math.max(ourLast, state.meta.claimedLsn), hello.epochHistory, Number.MAX_SAFE_INTEGER);
  // Claimed before anything is cut: if the state has to be rebuilt from
  // nothing, or a crash strikes part-way, the node still votes with what it
  // held up to the fork.
  const claim = agreed < ourLast || state.meta.claimedLsn > 0 ? agreed : 0;
  if (claim !== state.meta.claimedLsn) await state.saveMeta({ claimedLsn: claim });
  const fork = Math.min(agreed, ourLast);
  if (fork >= ourLast) return undefined;
  const quarantineFile = await quarantine(state, io.fs, io.dataDir, fork + 1, ourLast);
  const range = { fromLsn: fork + 1, toLsn: ourLast, count: ourLast - fork, quarantineFile };
  io.onDiscard(range);
  if (fork >= state.log.firstLsn - 1) await state.log.truncateAfter(fork);
  else await state.log.resetTo(fork);
  await state.rebuildTo(fork, io.emptyProjection);
  await state.saveMeta({
    epochHistory: state.meta.epochHistory.filter((e) => e.startLsn <= fork),
    claimedLsn: state.log.lastLsn >= state.meta.claimedLsn ? 0 : state.meta.claimedLsn, // the log holds it all again
  });
  return range;
}

/** Copies records [fromLsn, toLsn] (those still in the log) to `quarantine/<from>-<to>.wal`, durably. */
async function quarantine(state: LocalState, fs: FileSystem, dataDir: string, fromLsn: number, toLsn: number): Promise<string> {
  const dir = joinPath(dataDir, 'quarantine');
  await fs.mkdirp(dir);
  const path = joinPath(dir, `${fromLsn}-${toLsn}.wal`);
  const handle = await fs.open(path, { create: true });
  try {
    const cursor = state.log.cursor(Math.max(fromLsn, state.log.firstLsn));
    let at = 0;
    for (let read = await cursor.next(COPY_CHUNK_BYTES); read !== undefined; read = await cursor.next(COPY_CHUNK_BYTES)) {
      await handle.write(read.bytes, at);
      at += read.bytes.length;
    }
    await handle.datasync();
  } finally {
    await handle.close();
  }
  await fs.syncDir(dir);
  return path;
}
