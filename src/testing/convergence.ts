/**
 * Whether a cluster has converged once faults stopped: every node up,
 * exactly one primary that every other node follows, identical positions
 * and per-space digests everywhere, and every replica Healthy with no lag.
 * `describe` says what is still missing, for the failure report.
 *
 * @example
 * const state = convergence(cluster); if (state.primary) checkers.final(state.primary)
 */
import type { ReplicationNode } from '../actors/replicationNode.js';
import type { SimCluster } from './cluster.js';

/** The converged primary, or why the cluster has not converged. */
export type ConvergenceState = { primary: ReplicationNode; missing?: undefined } | { primary?: undefined; missing: string };

export function convergence(cluster: SimCluster): ConvergenceState {
  const running = cluster.running();
  if (running.length !== cluster.nodes.length) return { missing: `nodes up: ${running.map((r) => r.id).join(',') || 'none'}` };
  const paused = running.filter((r) => r.clock.paused);
  if (paused.length > 0) return { missing: `paused: ${paused.map((r) => r.id).join(',')}` };
  const primaries = running.filter((r) => r.node.role === 'primary');
  if (primaries.length !== 1) return { missing: `primaries: ${primaries.map((r) => r.id).join(',') || 'none'}` };
  const primary = primaries[0]!.node;
  const head = primary.status();
  for (const r of running) {
    const s = r.node.status();
    if (r.node !== primary && s.primary !== head.id) return { missing: `${r.id} follows ${String(s.primary)}, not ${head.id}` };
    if (s.epoch !== head.epoch) return { missing: `${r.id} at epoch ${s.epoch}, primary at ${head.epoch}` };
    if (s.lsn !== head.lsn || s.appliedLsn !== head.lsn) return { missing: `${r.id} at lsn ${s.lsn} applied ${s.appliedLsn}, primary at ${head.lsn}` };
  }
  const spaces = primary.spaces().sort();
  for (const r of running) {
    const theirs = r.node.spaces().sort();
    if (theirs.join(',') !== spaces.join(',')) return { missing: `${r.id} has spaces ${theirs.join(',')}, primary ${spaces.join(',')}` };
    for (const space of spaces) {
      if (r.node.space(space).digest !== primary.space(space).digest) return { missing: `${r.id} digest of ${space} differs from the primary's` };
    }
  }
  for (const row of head.replicas) {
    if (row.status !== 'Healthy' || row.lagEntries !== 0) return { missing: `primary reports ${row.id} ${row.status} with lag ${row.lagEntries} entries` };
  }
  return { primary };
}
