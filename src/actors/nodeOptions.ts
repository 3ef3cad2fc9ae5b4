/**
 * Options of `createNode`, their defaults, and validation that names the bad
 * field (`InvalidConfig`).
 *
 * @example
 * const resolved = resolveNodeOptions({ id: 'n1', dataDir: '/data/n1', cluster, role: 'primary' })
 */
import type { Registry } from 'prom-client';
import type { InspectionEvent, Observer } from 'xstate';
import { ReplicationError } from '../errors.js';
import type { FileSystem } from '../log/fileSystem.js';
import type { Clock, Random, Transport } from '../ports.js';
import type { Projection } from '../store/reducer.js';
import type { AckMode } from '../types.js';

/** One node of the cluster configuration. */
export interface ClusterNode {
  id: string;
  /** `host:port` of its replication listener. */
  replication: string;
  /** `host:port` of its HTTP API (CLI only). */
  http?: string;
}

/** The cluster: one replication group. */
export interface ClusterConfig {
  clusterId: string;
  nodes: ClusterNode[];
}

/** Injectable logger; the library is silent without one. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** Tuning knobs, each bounded, with units in the name. */
export interface Tuning {
  /** Most records in one BATCH. */
  batchMaxEntries: number;
  /** Most payload bytes in one BATCH. */
  batchMaxBytes: number;
  /** Most unacknowledged batches in flight per replica. */
  windowBatches: number;
  /** Most unacknowledged bytes in flight per replica. */
  windowBytes: number;
  /** Primary -> replica heartbeat period (keeps time lag right when idle). */
  heartbeatIntervalMs: number;
  connectTimeoutMs: number;
  handshakeTimeoutMs: number;
  keepAliveMs: number;
  /** Reconnect backoff steps (jittered). */
  backoffScheduleMs: number[];
  /** Health thresholds (DESIGN §7). */
  laggingLagMs: number;
  degradedLagMs: number;
  severeLagMs: number;
  failuresToFail: number;
  healthGraceMs: number;
  /** Segment file size of the node's log. */
  segmentBytes: number;
  /** Log size past which retention stops waiting for slow replicas (they get a snapshot). */
  retentionMaxBytes: number;
  /** Bytes per SNAPSHOT_CHUNK frame. */
  snapshotChunkBytes: number;
  /** Received-but-not-durable bytes past which a replica stops reading its socket. */
  receiverPendingMaxBytes: number;
  /**
   * A replica acknowledges a batch's receipt in its durable ACK when the
   * flush takes less than this, else in a receipt ACK of its own (0: always
   * at once). Write lags below it are reported as the flush lag.
   */
  receiptAckDelayMs: number;
  /** Largest frame accepted. */
  frameMaxBytes: number;
  /** How long a write with ack 'one' | 'quorum' | 'all' waits for replicas before `AckTimeout`. */
  ackTimeoutMs: number;
  /** Entries appended but not yet durable past which writes are refused with `Overloaded` (back-pressure). */
  writeQueueMaxEntries: number;
  /** Replicas start an election after this long without hearing the primary (randomised up to +50%). */
  failoverTimeoutMs: number;
  /** A primary that has not heard from a majority for this long refuses writes; must be < failoverTimeoutMs. */
  leaseMs: number;
  /** A candidate that neither wins nor hears a primary retries after this (randomised). */
  electionRoundMs: number;
}

/** Defaults of every tuning knob. */
export const defaultTuning: Tuning = {
  batchMaxEntries: 1000,
  batchMaxBytes: 1024 * 1024,
  windowBatches: 16,
  windowBytes: 16 * 1024 * 1024,
  heartbeatIntervalMs: 250,
  connectTimeoutMs: 2000,
  handshakeTimeoutMs: 5000,
  keepAliveMs: 10_000,
  backoffScheduleMs: [100, 1000, 10_000, 60_000],
  laggingLagMs: 100,
  degradedLagMs: 1000,
  severeLagMs: 5000,
  failuresToFail: 3,
  healthGraceMs: 500,
  segmentBytes: 64 * 1024 * 1024,
  retentionMaxBytes: 1024 * 1024 * 1024,
  snapshotChunkBytes: 1024 * 1024,
  receiverPendingMaxBytes: 64 * 1024 * 1024,
  receiptAckDelayMs: 2,
  frameMaxBytes: 64 * 1024 * 1024 + 4096,
  ackTimeoutMs: 5000,
  writeQueueMaxEntries: 100_000,
  failoverTimeoutMs: 1500,
  leaseMs: 1000,
  electionRoundMs: 1000,
};

/** Tuning knobs for which 0 means something ("at once"); every other knob must be positive. */
const ZERO_ALLOWED: ReadonlySet<string> = new Set(['receiptAckDelayMs']);

/** Options of `createNode`. */
export interface NodeOptions {
  /** This node's id; must be one of `cluster.nodes`. */
  id: string;
  /** Directory of the node's log, metadata and snapshots. */
  dataDir: string;
  cluster: ClusterConfig;
  /**
   * Role when the data directory is new: the one `'primary'` bootstraps the
   * cluster at epoch 1. A node that restarts ignores it: it reads its epoch,
   * follows whoever holds the highest one, or takes part in an election.
   */
  role: 'primary' | 'replica';
  /** Elect a new primary automatically when the primary is lost. Default true. */
  autoFailover?: boolean;
  /**
   * As primary, ship records to replicas while its own fsync of them runs
   * (as Raft leaders do) instead of after it. No acknowledgement changes:
   * every mode still waits for the primary's own fsync. A replica may then
   * hold records its primary never made durable (the primary crashed
   * first); no client was told they were written, and a rejoin discards
   * them unless the election keeps them (docs/guarantees.md). Default true.
   */
  shipBeforeDurable?: boolean;
  /** Default write acknowledgement mode. */
  ack?: AckMode;
  tuning?: Partial<Tuning>;
  /** prom-client registry for the metrics (default: a fresh one). */
  register?: Registry;
  /** xstate inspection observer (e.g. from `@statelyai/inspect`). */
  inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void);
  logger?: Logger;
  /** The projection (default: the memory store). */
  projection?: Projection;
  /** Ports, real by default (`createNode`). */
  fs?: FileSystem;
  transport?: Transport;
  clock?: Clock;
  random?: Random;
}

/** `NodeOptions` with every tuning knob resolved. */
export type ResolvedNodeOptions = Omit<NodeOptions, 'tuning'> & { tuning: Tuning; self: ClusterNode };

function bad(field: string, message: string): ReplicationError {
  return new ReplicationError('InvalidConfig', `${field}: ${message}`, { context: { field } });
}

const ADDRESS = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

/** Checks `options` and fills in defaults; throws `InvalidConfig` naming the first bad field. */
export function resolveNodeOptions(options: NodeOptions): ResolvedNodeOptions {
  if (typeof options.id !== 'string' || options.id.length === 0) throw bad('id', 'must be a non-empty string');
  if (typeof options.dataDir !== 'string' || options.dataDir.length === 0) throw bad('dataDir', 'must be a directory path');
  if (options.role !== 'primary' && options.role !== 'replica') throw bad('role', "must be 'primary' or 'replica'");
  const cluster = options.cluster;
  if (typeof cluster !== 'object' || cluster === null) throw bad('cluster', 'must be an object');
  if (typeof cluster.clusterId !== 'string' || cluster.clusterId.length === 0) throw bad('cluster.clusterId', 'must be a non-empty string');
  if (!Array.isArray(cluster.nodes) || cluster.nodes.length === 0) throw bad('cluster.nodes', 'must list at least one node');
  const ids = new Set<string>();
  cluster.nodes.forEach((n, i) => {
    if (typeof n?.id !== 'string' || n.id.length === 0) throw bad(`cluster.nodes[${i}].id`, 'must be a non-empty string');
    if (ids.has(n.id)) throw bad(`cluster.nodes[${i}].id`, `duplicate node id '${n.id}'`);
    ids.add(n.id);
    const m = ADDRESS.exec(String(n.replication));
    if (m === null || Number(m[2]) > 65535) throw bad(`cluster.nodes[${i}].replication`, `'${n.replication}' is not host:port`);
  });
  const self = cluster.nodes.find((n) => n.id === options.id);
  if (self === undefined) throw bad('id', `'${options.id}' is not one of cluster.nodes`);
  if (options.ack !== undefined && !['local', 'one', 'quorum', 'all'].includes(options.ack)) {
    throw bad('ack', "must be 'local', 'one', 'quorum' or 'all'");
  }
  const tuning: Tuning = { ...defaultTuning, ...options.tuning };
  for (const [key, value] of Object.entries(tuning)) {
    if (key === 'backoffScheduleMs') {
      if (!Array.isArray(value) || value.length === 0 || !value.every((v) => Number.isFinite(v) && v >= 0)) {
        throw bad(`tuning.${key}`, 'must be a non-empty list of delays in ms');
      }
    } else if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (value === 0 && !ZERO_ALLOWED.has(key))) {
      throw bad(`tuning.${key}`, ZERO_ALLOWED.has(key) ? 'must be a number >= 0' : 'must be a positive number');
    }
  }
  if (tuning.leaseMs >= tuning.failoverTimeoutMs) throw bad('tuning.leaseMs', 'must be shorter than tuning.failoverTimeoutMs (a primary must stop writing before anyone may replace it)');
  if (tuning.batchMaxBytes > tuning.windowBytes) throw bad('tuning.batchMaxBytes', 'must not exceed tuning.windowBytes');
  if (tuning.batchMaxBytes + 4096 > tuning.frameMaxBytes) throw bad('tuning.batchMaxBytes', 'must fit in tuning.frameMaxBytes');
  return { ...options, tuning, self };
}

/** The logger used when none is given: says nothing. */
export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};
