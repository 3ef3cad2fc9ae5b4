/**
 * Log retention: which whole segments a node may delete, and deleting them
 * behind a durable snapshot. The node runs it every second.
 *
 * @example
 * await retainLog(state, replicas.map((r) => r.flushedLsn), { retentionMaxBytes: 1 << 30, segmentBytes: 64 << 20 })
 */
import type { LocalState } from './localState.js';

/**
 * Once the log holds a quarter of `retentionMaxBytes`, deletes log segments
 * nobody needs: below every replica's flushed LSN (`replicaFlushed`, Failed
 * replicas included: one back after a short outage catches up from the log,
 * not by snapshot) and covered by a durable local snapshot. Past
 * `retentionMaxBytes` it deletes just enough of the oldest segments to get
 * back under the cap, even if a slow replica still needs them (it then
 * catches up by snapshot): one dead replica cannot fill the disk.
 */
export async function retainLog(
  state: LocalState,
  replicaFlushed: readonly number[],
  tuning: { retentionMaxBytes: number; segmentBytes: number },
): Promise<void> {
  const log = state.log;
  const starts = log.segmentStarts();
  // Deleting segments needs a snapshot covering them, which costs about the
  // size of the state: only bother once the log holds a quarter of the cap.
  if (starts.length < 2 || log.diskBytes < tuning.retentionMaxBytes / 4) return;
  let keepFrom = state.applier.appliedLsn + 1;
  for (const flushed of replicaFlushed) keepFrom = Math.min(keepFrom, flushed + 1);
  const excess = log.diskBytes - tuning.retentionMaxBytes;
  if (excess > 0) {
    const overCap = Math.min(starts.length - 1, Math.ceil(excess / tuning.segmentBytes));
    keepFrom = Math.min(state.applier.appliedLsn + 1, Math.max(keepFrom, starts[overCap]!));
  }
  const deletable = starts.filter((_, i) => i < starts.length - 1 && starts[i + 1]! <= keepFrom).length;
  if (deletable === 0) return;
  const upTo = starts[deletable]!; // first LSN that stays
  if (state.snapshotLsn < upTo - 1) await state.persistSnapshot();
  await log.retainFrom(Math.min(upTo, state.snapshotLsn + 1));
}
