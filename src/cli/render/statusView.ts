/**
 * A node's status as text: a header line (id, role, epoch, positions,
 * primary) and, on a primary, one row per replica with its positions, lag
 * and health, like PostgreSQL's `pg_stat_replication`.
 *
 * @example
 * console.log(statusView(await api.status()))
 */
import type { NodeStatus } from '../../actors/replicationNode.js';
import type { ReplicaProgress } from '../../actors/shipperSession.js';
import { type Cell, formatTable } from './table.js';

/** Column headers of the replica table. */
const REPLICA_HEADERS = ['replica', 'status', 'sent_lsn', 'flushed_lsn', 'applied_lsn', 'lag_entries', 'lag_ms', 'write_lag_ms', 'flush_lag_ms', 'apply_lag_ms', 'last_contact_ms', 'failures'];

/** One replica as a table row (same order as `REPLICA_HEADERS`). */
function replicaRow(r: ReplicaProgress): Cell[] {
  return [r.id, r.status, r.sentLsn, r.flushedLsn, r.appliedLsn, r.lagEntries, r.lagMs, r.writeLagMs, r.flushLagMs, r.applyLagMs, r.lastContactAgoMs, r.failures];
}

/** The header line of a node's status. */
export function statusLine(s: NodeStatus): string {
  return `node ${s.id}  role ${s.role}  epoch ${s.epoch}  lsn ${s.lsn}  applied ${s.appliedLsn}  primary ${s.primary ?? '(unknown)'}`;
}

/** Header line plus the replica table (or a note when the node has none). */
export function statusView(s: NodeStatus): string {
  if (s.replicas.length === 0) return `${statusLine(s)}\n${s.role === 'primary' ? '(no replicas)' : '(a replica: replica rows are on the primary)'}`;
  return `${statusLine(s)}\n\n${formatTable(REPLICA_HEADERS, s.replicas.map(replicaRow))}`;
}
