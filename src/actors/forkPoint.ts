/**
 * Where two logs part ways, from their epoch histories alone. Each history
 * lists `(epoch, startLsn)` in order: records `[startLsn, next startLsn)`
 * were written in `epoch`. Two logs agree on LSN `L` when both hold `L` and
 * wrote it in the same epoch (one primary per epoch, so same epoch = same
 * record). They agree on a prefix; the fork point is its last LSN.
 *
 * @example
 * // we led epoch 2 from LSN 90 to 120; the new primary's epoch 3 began at 100
 * forkPoint([{epoch: 1, startLsn: 1}, {epoch: 2, startLsn: 90}], 120,
 *           [{epoch: 1, startLsn: 1}, {epoch: 3, startLsn: 100}], 150) // 89
 */
import type { EpochStart } from '../types.js';

/** Epoch in which LSN `lsn` was written according to `history` (0 when before it). */
export function epochAt(history: readonly EpochStart[], lsn: number): number {
  let epoch = 0;
  for (const e of history) {
    if (e.startLsn > lsn) break;
    epoch = e.epoch;
  }
  return epoch;
}

/** The last LSN on which a log (`ours`, ending at `ourLast`) agrees with another (`theirs`, ending at `theirLast`). */
export function forkPoint(ours: readonly EpochStart[], ourLast: number, theirs: readonly EpochStart[], theirLast: number): number {
  const limit = Math.min(ourLast, theirLast);
  // Every LSN where either history changes epoch starts a range with one epoch on each side.
  const bounds = [...new Set([...ours, ...theirs].map((e) => e.startLsn).filter((l) => l >= 1 && l <= limit))].sort((a, b) => a - b);
  if (bounds[0] !== 1 && limit >= 1) bounds.unshift(1);
  let agreed = 0;
  for (let i = 0; i < bounds.length; i++) {
    const start = bounds[i]!;
    const end = (bounds[i + 1] ?? limit + 1) - 1;
    if (epochAt(ours, start) !== epochAt(theirs, start)) break;
    agreed = end;
  }
  return Math.min(agreed, limit);
}
