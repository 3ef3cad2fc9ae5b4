/**
 * The node's Prometheus metrics, on the registry the host passes in (a fresh
 * one by default), named `engram_<subsystem>_<metric>_<unit>`. Labels are
 * per replica or per reason; per-space labels are never added (cardinality).
 *
 * @example
 * const metrics = new NodeMetrics(register); metrics.walFsyncSeconds.observe(0.0004)
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Every metric of one node. */
export class NodeMetrics {
  readonly lagMilliseconds: Gauge<'replica'>;
  readonly lagEntries: Gauge<'replica'>;
  readonly replicaStatus: Gauge<'replica' | 'status'>;
  readonly batchesSent: Counter<'replica'>;
  readonly entriesSent: Counter<'replica'>;
  readonly bytesSent: Counter<'replica'>;
  readonly batchEntries: Histogram;
  readonly acks: Counter<'replica'>;
  readonly failures: Counter<'replica' | 'reason'>;
  readonly protocolErrors: Counter<'code'>;
  readonly catchups: Counter<'replica'>;
  readonly snapshotsSent: Counter<'replica'>;
  readonly snapshotsInstalled: Counter;
  readonly epoch: Gauge;
  readonly promotions: Counter;
  readonly handovers: Counter<'outcome'>;
  readonly discardedEntries: Counter;
  readonly failoverSeconds: Histogram;
  readonly appliedLsn: Gauge;
  readonly flushedLsn: Gauge;
  readonly walFsyncSeconds: Histogram;
  readonly writeSeconds: Histogram<'ack'>;

  constructor(register: Registry) {
    const registers = [register];
    this.lagMilliseconds = new Gauge({ name: 'engram_replication_lag_milliseconds', help: 'Age of the oldest entry the replica has not applied (0 when caught up)', labelNames: ['replica'], registers });
    this.lagEntries = new Gauge({ name: 'engram_replication_lag_entries', help: 'Primary flushed LSN minus the replica applied LSN', labelNames: ['replica'], registers });
    this.replicaStatus = new Gauge({ name: 'engram_replication_replica_status', help: '1 for the replica current status (Healthy, Lagging, Degraded, Failed), 0 otherwise', labelNames: ['replica', 'status'], registers });
    this.batchesSent = new Counter({ name: 'engram_replication_batches_sent_total', help: 'BATCH frames sent', labelNames: ['replica'], registers });
    this.entriesSent = new Counter({ name: 'engram_replication_entries_sent_total', help: 'Log records sent', labelNames: ['replica'], registers });
    this.bytesSent = new Counter({ name: 'engram_replication_bytes_sent_total', help: 'Batch payload bytes sent', labelNames: ['replica'], registers });
    this.batchEntries = new Histogram({ name: 'engram_replication_batch_entries', help: 'Records per BATCH', buckets: [1, 10, 50, 100, 250, 500, 1000, 5000], registers });
    this.acks = new Counter({ name: 'engram_replication_acks_total', help: 'ACK frames received', labelNames: ['replica'], registers });
    this.failures = new Counter({ name: 'engram_replication_failures_total', help: 'Replication stream failures by reason', labelNames: ['replica', 'reason'], registers });
    this.protocolErrors = new Counter({ name: 'engram_replication_protocol_errors_total', help: 'Frames refused on the replication port, by error code', labelNames: ['code'], registers });
    this.catchups = new Counter({ name: 'engram_replication_catchups_total', help: 'Catch-ups from the log started', labelNames: ['replica'], registers });
    this.snapshotsSent = new Counter({ name: 'engram_replication_snapshots_sent_total', help: 'Snapshots sent to a replica', labelNames: ['replica'], registers });
    this.snapshotsInstalled = new Counter({ name: 'engram_replication_snapshots_installed_total', help: 'Snapshots installed on this node', registers });
    this.epoch = new Gauge({ name: 'engram_replication_epoch', help: 'Current epoch of this node', registers });
    this.promotions = new Counter({ name: 'engram_replication_promotions_total', help: 'Times this node became primary', registers });
    this.handovers = new Counter({ name: 'engram_replication_handovers_total', help: 'Planned switchovers (node.handover) started on this node, by outcome (completed, failed)', labelNames: ['outcome'], registers });
    this.discardedEntries = new Counter({ name: 'engram_replication_discarded_entries_total', help: 'Log records discarded on rejoin (divergent tail)', registers });
    this.failoverSeconds = new Histogram({ name: 'engram_replication_failover_seconds', help: 'From the last heartbeat of the old primary to this node becoming primary', buckets: [0.25, 0.5, 1, 1.5, 2, 3, 5, 10], registers });
    this.appliedLsn = new Gauge({ name: 'engram_replication_applied_lsn', help: 'Last LSN applied to the projection', registers });
    this.flushedLsn = new Gauge({ name: 'engram_wal_flushed_lsn', help: 'Last durable LSN of the local log', registers });
    this.walFsyncSeconds = new Histogram({ name: 'engram_wal_fsync_seconds', help: 'Durable write of one group commit (O_DSYNC write, or write + fdatasync)', buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1], registers });
    this.writeSeconds = new Histogram({ name: 'engram_write_latency_seconds', help: 'node.write latency until acknowledged', labelNames: ['ack'], buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1], registers });
  }
}
