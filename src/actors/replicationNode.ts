/**
 * A replication node: the embeddable unit a host app creates. On the primary
 * it appends writes to its log (group commit), applies them to the
 * projection, and streams them to every replica; on a replica it receives,
 * verifies, persists, applies and acknowledges. Either way it reports
 * positions, lag and replica health, emits events and exports metrics.
 *
 * @example
 * const node = await createNode({ id: 'n1', dataDir: '/data/n1', role: 'primary', cluster: {
 *   clusterId: 'demo', nodes: [{ id: 'n1', replication: '127.0.0.1:7101' }, { id: 'n2', replication: '127.0.0.1:7102' }] } })
 * const { lsn } = await node.write('notes', { id: 'm1', text: 'hello' })
 * node.status().replicas // [{ id: 'n2', status: 'Healthy', appliedLsn: ..., lagMs: ... }]
 */
import { Registry } from 'prom-client';
import { ReplicationError, isReplicationError } from '../errors.js';
import type { FileSystem } from '../log/fileSystem.js';
import type { Clock, Connection, Listener, Random, Transport } from '../ports.js';
import { MemoryStore } from '../store/memoryStore.js';
import type { AckMode } from '../types.js';
import { encodePayload } from '../wire/payload.js';
import { type RecordParts, checkSpaceName, customRecordParts, memoryRecordParts } from './entries.js';
import { type LocalState, openLocalState } from './localState.js';
import { NodeMetrics } from './metrics.js';
import { type NodeEventMap, NodeEvents, type ReplicaStatus } from './nodeEvents.js';
import { nodeLogics } from './nodeLogics.js';
import { type Logger, type NodeOptions, type ResolvedNodeOptions, resolveNodeOptions, silentLogger } from './nodeOptions.js';
import { type NodeSystem, createNodeSystem } from './nodeSystem.js';
import { ReceiverSession } from './receiverSession.js';
import { type ReplicaProgress, ShipperSession } from './shipperSession.js';

/** Options of one write. */
export interface WriteOptions {
  /**
   * When the write resolves: `'local'` (this primary fsynced, the default),
   * `'one'` (and one replica), `'quorum'` (a majority of the configured nodes,
   * this one included), `'all'` (every replica). Rejects with `AckTimeout`
   * after `tuning.ackTimeoutMs` saying which level was reached; never a
   * silent fallback to fewer copies.
   */
  ack?: AckMode;
}

/** Options of `waitFor`. */
export interface WaitForOptions {
  /** How many replicas (not counting this node) must have reached the LSN. */
  replicas: number;
  /** Which replica position counts. Default `'flushed'`. */
  stage?: 'flushed' | 'applied';
  /** Reject with `AckTimeout` after this long. Default `tuning.ackTimeoutMs`. */
  timeoutMs?: number;
}

interface AckWaiter {
  lsn: number;
  replicas: number;
  stage: 'flushed' | 'applied';
  resolve: (reached: number) => void;
  reject: (err: unknown) => void;
  timer: unknown;
}

/** What a write returns once durable. */
export interface WriteResult {
  /** LSN of the (last) record written. */
  lsn: number;
  /** Per-space sequence of the (last) record written. */
  seq: number;
  /** Records written. */
  count: number;
}

/** A space's summary: equal on every node that applied the same log. */
export interface SpaceSummary {
  space: string;
  count: number;
  lastSeq: number;
  digest: string;
}

/** `node.status()`. */
export interface NodeStatus {
  id: string;
  role: 'primary' | 'replica';
  epoch: number;
  /** Last durable LSN of this node's log. */
  lsn: number;
  appliedLsn: number;
  /** Id of the primary this node follows (itself on the primary), or null when unknown. */
  primary: string | null;
  /** On the primary: one row per replica. */
  replicas: ReplicaProgress[];
}

const RETENTION_CHECK_MS = 1000;

/** The ports a node runs on: the real ones (`createNode`) or a simulation's. */
export interface NodePorts {
  fs: FileSystem;
  transport: Transport;
  clock: Clock;
  random: Random;
}

/**
 * Creates a node on the given ports, recovers its state from `dataDir`, and
 * starts it. Hosts call `createNode` (real disk, TCP, clock); simulations
 * call this with simulated ports.
 */
export async function openNode(options: NodeOptions, ports: NodePorts): Promise<ReplicationNode> {
  const resolved = resolveNodeOptions(options);
  const projection = resolved.projection ?? new MemoryStore();
  const state = await openLocalState({
    dir: resolved.dataDir, fs: ports.fs, nodeId: resolved.id,
    clusterId: resolved.cluster.clusterId, projection, segmentBytes: resolved.tuning.segmentBytes,
    monotonicNow: () => performance.now(),
  });
  const node = new ReplicationNode(resolved, state, ports);
  try {
    await node.start();
  } catch (err) {
    await node.close();
    throw err;
  }
  return node;
}

/** A running node. Create it with `createNode` (or {@link openNode}). */
export class ReplicationNode {
  readonly id: string;
  readonly metrics: NodeMetrics;
  /** The prom-client registry holding this node's metrics. */
  readonly register: Registry;
  readonly #options: ResolvedNodeOptions;
  readonly #state: LocalState;
  readonly #events: NodeEvents;
  readonly #logger: Logger;
  readonly #system: NodeSystem;
  readonly #clock: Clock;
  readonly #ports: NodePorts;
  #role: 'primary' | 'replica';
  #primaryId: string | null = null;
  #listener: Listener | undefined;
  #shippers = new Map<string, ShipperSession>();
  #receivers = new Map<string, ReceiverSession>();
  #receiverCount = 0;
  #assignedSeq = new Map<string, number>();
  #ackWaiters = new Set<AckWaiter>();
  #metaWrites: Promise<void> = Promise.resolve();
  #retentionTimer: unknown;
  #retaining = false;
  #closing: Promise<void> | undefined;

  /** @internal use `createNode` or {@link openNode}. */
  constructor(options: ResolvedNodeOptions, state: LocalState, ports: NodePorts) {
    this.#ports = ports;
    this.id = options.id;
    this.#options = options;
    this.#state = state;
    this.#logger = options.logger ?? silentLogger;
    this.#events = new NodeEvents(this.#logger);
    this.#clock = ports.clock;
    this.register = options.register ?? new Registry();
    this.metrics = new NodeMetrics(this.register);
    this.#role = options.role;
    this.#system = createNodeSystem({
      clock: this.#clock,
      logics: nodeLogics({
        shipper: (id) => this.#shippers.get(id),
        receiver: (id) => this.#receivers.get(id),
        healthChanged: (replica, change) => this.#onHealthChange(replica, change),
        lagAlert: (replica, alert) => this.#events.emit('lagAlert', { replica, ...alert }),
        effectFailed: (where, err) => this.#reportError(`effect ${where} failed`, err),
      }),
      ...(options.inspect === undefined ? {} : { inspect: options.inspect }),
      onError: (err) => this.#reportError('actor error', err),
    });
  }

  /** @internal bootstraps the epoch, listens, and starts the role. */
  async start(): Promise<void> {
    const state = this.#state;
    state.log.onDurable((bytes, firstLsn, count, writeMs) => this.#onDurable(bytes, firstLsn, count, writeMs));
    if (this.#role === 'primary' && state.meta.epoch === 0) {
      const epoch = 1;
      await state.saveMeta({ epoch, epochHistory: [{ epoch, startLsn: state.log.lastLsn + 1 }] });
    }
    state.log.epoch = state.meta.epoch;
    this.metrics.epoch.set(state.meta.epoch);
    this.metrics.appliedLsn.set(state.applier.appliedLsn);
    this.metrics.flushedLsn.set(state.log.flushedLsn);
    this.#listener = await this.#ports.transport.listen(this.#options.self.replication, (conn) => this.#accept(conn));
    if (this.#role === 'primary') this.#startPrimary();
    this.#scheduleRetention();
  }

  /** This node's role. */
  get role(): 'primary' | 'replica' {
    return this.#role;
  }

  /** The address the replication listener is bound to (`host:port`). */
  get replicationAddress(): string {
    return this.#listener?.address ?? this.#options.self.replication;
  }

  /**
   * Writes one entry to `space`; resolves once it is durable per the ack mode
   * (and applied, so this node's reads see it).
   */
  async write(space: string, entry: unknown, options: WriteOptions = {}): Promise<WriteResult> {
    return this.writeMany(space, [entry], options);
  }

  /** Writes entries to `space` in order, in one group commit. */
  async writeMany(space: string, entries: readonly unknown[], options: WriteOptions = {}): Promise<WriteResult> {
    const started = performance.now();
    const ack = options.ack ?? this.#options.ack ?? 'local';
    this.#checkWritable();
    const replicasNeeded = this.#replicasFor(ack);
    checkSpaceName(space);
    if (entries.length === 0) throw new ReplicationError('InvalidEntry', 'writeMany needs at least one entry');
    const toParts = this.#state.projection instanceof MemoryStore ? memoryRecordParts : customRecordParts;
    const parts: RecordParts[] = entries.map(toParts);
    const log = this.#state.log;
    const now = this.#clock.now();
    let seq = this.#assignedSeq.get(space) ?? this.#state.ledger.lastSeq(space);
    let lsn = 0;
    for (const p of parts) {
      seq++;
      lsn = log.append(space, p.key, p.kind, seq, p.value === undefined ? undefined : encodePayload(p.value), now);
    }
    this.#assignedSeq.set(space, seq);
    await log.sync();
    if (replicasNeeded > 0) await this.waitFor(lsn, { replicas: replicasNeeded });
    this.metrics.writeSeconds.observe({ ack }, (performance.now() - started) / 1000);
    return { lsn, seq, count: parts.length };
  }

  /**
   * Resolves (with how many replicas reached it) once `replicas` replicas have
   * flushed (or applied) `lsn`, like Redis WAIT; rejects with `AckTimeout`
   * naming how many did.
   *
   * @example
   * const { lsn } = await node.write('notes', memory); await node.waitFor(lsn, { replicas: 2, timeoutMs: 1000 })
   */
  waitFor(lsn: number, options: WaitForOptions): Promise<number> {
    const stage = options.stage ?? 'flushed';
    const reached = this.#replicasAt(lsn, stage);
    if (reached >= options.replicas) return Promise.resolve(reached);
    if (options.replicas > this.#shippers.size) {
      return Promise.reject(new ReplicationError('AckTimeout', `cannot wait for ${options.replicas} replicas: the cluster has ${this.#shippers.size}`));
    }
    return new Promise((resolve, reject) => {
      const waiter: AckWaiter = { lsn, replicas: options.replicas, stage, resolve, reject, timer: undefined };
      waiter.timer = this.#clock.setTimeout(() => {
        this.#ackWaiters.delete(waiter);
        const got = this.#replicasAt(lsn, stage);
        reject(new ReplicationError('AckTimeout',
          `LSN ${lsn} is durable on this node and ${stage} on ${got} of the ${options.replicas} replicas required after ${options.timeoutMs ?? this.#options.tuning.ackTimeoutMs} ms`,
          { context: { lsn, stage, reached: got, required: options.replicas }, suggestion: 'the write is durable locally; check replica health (status().replicas)' }));
      }, options.timeoutMs ?? this.#options.tuning.ackTimeoutMs);
      this.#ackWaiters.add(waiter);
    });
  }

  /** A memory of the default memory store, decoded; `undefined` when absent. */
  read(space: string, id: string): unknown {
    const projection = this.#state.projection;
    if (!(projection instanceof MemoryStore)) {
      throw new ReplicationError('InvalidConfig', 'read() needs the default memory store projection');
    }
    return projection.read(space, id);
  }

  /** `{ space, count, lastSeq, digest }` of a space. */
  space(space: string): SpaceSummary {
    const s = this.#state;
    return { space, count: s.projection.count(space), lastSeq: s.ledger.lastSeq(space), digest: s.ledger.digest(space) };
  }

  /** Names of every space this node has applied records of. */
  spaces(): string[] {
    return this.#state.ledger.spaces();
  }

  /** Role, epoch, positions, and on the primary one row per replica. */
  status(): NodeStatus {
    const s = this.#state;
    return {
      id: this.id, role: this.#role, epoch: s.meta.epoch, lsn: s.log.flushedLsn, appliedLsn: s.applier.appliedLsn,
      primary: this.#role === 'primary' ? this.id : this.#primaryId,
      replicas: [...this.#shippers.values()].map((x) => x.progress()),
    };
  }

  /** Subscribes to a node event; returns the unsubscribe function. Listener errors never break the node. */
  on<E extends keyof NodeEventMap>(event: E, listener: NodeEventMap[E]): () => void {
    return this.#events.on(event, listener);
  }

  /** Stops accepting writes, drains the log, closes every connection, and closes the log. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    if (this.#retentionTimer !== undefined) this.#clock.clearTimeout(this.#retentionTimer);
    for (const w of this.#ackWaiters) {
      this.#clock.clearTimeout(w.timer);
      w.reject(new ReplicationError('Closed', `node ${this.id} closed before LSN ${w.lsn} reached ${w.replicas} replicas`));
    }
    this.#ackWaiters.clear();
    for (const s of this.#shippers.values()) s.stop();
    for (const r of [...this.#receivers.values()]) r.close();
    await this.#listener?.close().catch(() => undefined);
    await this.#metaWrites.catch(() => undefined);
    await this.#state.close().catch((err: unknown) => this.#reportError('closing the log', err));
    this.#system.shutdown();
  }

  // ---- internals ----

  /** Replicas (besides this node) an ack mode needs. */
  #replicasFor(ack: AckMode): number {
    const nodes = this.#options.cluster.nodes.length;
    switch (ack) {
      case 'local':
        return 0;
      case 'one':
        return Math.min(1, nodes - 1);
      case 'quorum':
        return Math.floor(nodes / 2); // a majority counting this node
      case 'all':
        return nodes - 1;
      default:
        throw new ReplicationError('InvalidConfig', `unknown ack mode '${String(ack)}'`, { suggestion: "use 'local', 'one', 'quorum' or 'all'" });
    }
  }

  /** How many replicas have reached `lsn` at `stage`. */
  #replicasAt(lsn: number, stage: 'flushed' | 'applied'): number {
    let n = 0;
    for (const s of this.#shippers.values()) {
      const p = s.progress();
      if ((stage === 'flushed' ? p.flushedLsn : p.appliedLsn) >= lsn) n++;
    }
    return n;
  }

  #onProgress(): void {
    for (const w of this.#ackWaiters) {
      const reached = this.#replicasAt(w.lsn, w.stage);
      if (reached >= w.replicas) {
        this.#ackWaiters.delete(w);
        this.#clock.clearTimeout(w.timer);
        w.resolve(reached);
      }
    }
  }

  #checkWritable(): void {
    if (this.#closing !== undefined) throw new ReplicationError('Closed', `node ${this.id} is closed`);
    if (this.#role !== 'primary') {
      throw new ReplicationError('NotPrimary', `node ${this.id} is a replica; write to the primary${this.#primaryId ? ` (${this.#primaryId})` : ''}`, {
        context: { primary: this.#primaryId },
        suggestion: 'send writes to the node whose status().role is primary',
      });
    }
  }

  #onDurable(bytes: Uint8Array, firstLsn: number, count: number, writeMs: number): void {
    this.metrics.walFsyncSeconds.observe(writeMs / 1000);
    try {
      this.#state.applier.applyRecords(bytes, firstLsn, count);
    } catch (err) {
      this.#reportError('applying records', err);
    }
    const flushed = firstLsn + count - 1;
    this.metrics.flushedLsn.set(flushed);
    this.metrics.appliedLsn.set(this.#state.applier.appliedLsn);
    for (const r of this.#receivers.values()) r.onDurable(flushed);
    for (const s of this.#shippers.values()) s.notifyFlushed();
  }

  #startPrimary(): void {
    this.#primaryId = this.id;
    for (const replica of this.#options.cluster.nodes) {
      if (replica.id === this.id) continue;
      const session = new ShipperSession(this.#shipperHost(), replica);
      this.#shippers.set(replica.id, session);
      this.metrics.replicaStatus.set({ replica: replica.id, status: 'Healthy' }, 1);
      session.start();
    }
  }

  #shipperHost() {
    const state = this.#state;
    const t = this.#options.tuning;
    return {
      nodeId: this.id,
      clusterId: this.#options.cluster.clusterId,
      tuning: t,
      transport: this.#ports.transport,
      clock: this.#clock,
      random: this.#ports.random,
      metrics: this.metrics,
      epoch: () => state.meta.epoch,
      epochHistory: () => state.meta.epochHistory,
      firstLsn: () => state.log.firstLsn,
      flushedLsn: () => state.log.flushedLsn,
      cursor: (fromLsn: number) => state.log.cursor(fromLsn),
      timestampOf: async (lsn: number) => {
        try {
          return (await state.log.read(Math.max(lsn, state.log.firstLsn), 64, 1))?.firstTimestampMs;
        } catch {
          return undefined;
        }
      },
      takeSnapshot: () => state.takeSnapshot(),
      waitFlushed: (lsn: number) => state.log.waitFlushed(lsn),
      spawnShipper: (session: ShipperSession) => ({
        health: this.#system.spawn('health', `health:${session.replica.id}`, {
          laggingLagMs: t.laggingLagMs, degradedLagMs: t.degradedLagMs, severeLagMs: t.severeLagMs,
          failuresToFail: t.failuresToFail, graceMs: t.healthGraceMs, nowMs: this.#clock.now(),
        }),
        shipper: this.#system.spawn('shipper', `shipper:${session.replica.id}`, {
          replicaId: session.replica.id, handshakeTimeoutMs: t.handshakeTimeoutMs, backoffScheduleMs: t.backoffScheduleMs,
          failuresToOpenCircuit: t.failuresToFail,
        }),
      }),
      onError: (replica: string, code: string, message: string) => this.#events.emit('error', { code, message, replica }),
      onSnapshotSent: (replica: string, lsn: number, bytes: number) => this.#events.emit('snapshot', { replica, lsn, bytes, direction: 'sent' }),
      onProgress: () => this.#onProgress(),
    };
  }

  #accept(connection: Connection): void {
    const id = `receiver:${++this.#receiverCount}`;
    const state = this.#state;
    const t = this.#options.tuning;
    const session = new ReceiverSession(id, {
      nodeId: this.id,
      clusterId: this.#options.cluster.clusterId,
      frameMaxBytes: t.frameMaxBytes,
      snapshotMaxBytes: 4 * 1024 * 1024 * 1024 - 1,
      pendingMaxBytes: t.receiverPendingMaxBytes,
      localEpoch: () => state.meta.epoch,
      positions: () => ({
        receivedLsn: state.log.lastLsn, flushedLsn: state.log.flushedLsn, appliedLsn: state.applier.appliedLsn,
        lastEpoch: state.log.lastEpoch || state.epochOf(state.log.lastLsn), epochHistory: state.meta.epochHistory,
      }),
      appendRecords: (payload, startLsn, count) => state.log.appendRecords(payload, startLsn, count),
      whenDurable: () => state.log.sync(),
      adoptEpoch: (epoch) => this.#saveMeta({ epoch }),
      followPrimary: (primaryId, epochHistory) => {
        this.#primaryId = primaryId;
        if (JSON.stringify(epochHistory) !== JSON.stringify(state.meta.epochHistory)) this.#saveMeta({ epochHistory });
      },
      acceptsStreams: () => this.#role === 'replica',
      installSnapshot: async (bytes) => {
        const snapshot = await state.installSnapshot(bytes);
        this.#assignedSeq.clear();
        this.metrics.snapshotsInstalled.inc();
        this.metrics.appliedLsn.set(state.applier.appliedLsn);
        this.#events.emit('snapshot', { lsn: snapshot.lsn, bytes: bytes.length, direction: 'installed' });
      },
      countProtocolError: (code, message) => {
        this.metrics.protocolErrors.inc({ code });
        this.#events.emit('error', { code, message });
        this.#logger.warn('refused a replication frame', { code, message });
      },
      spawnReceiver: (s) => this.#system.spawn('receiver', s.id, { nodeId: this.id, helloTimeoutMs: t.handshakeTimeoutMs }),
      closed: (s) => {
        this.#receivers.delete(s.id);
        queueMicrotask(() => this.#system.stop(s.id));
      },
    }, connection);
    this.#receivers.set(id, session);
  }

  /** Persists metadata changes one at a time, in order. */
  #saveMeta(patch: Parameters<LocalState['saveMeta']>[0]): void {
    const state = this.#state;
    if (patch.epoch !== undefined) {
      state.log.epoch = patch.epoch;
      this.metrics.epoch.set(patch.epoch);
    }
    this.#metaWrites = this.#metaWrites.then(() => state.saveMeta(patch)).catch((err: unknown) => this.#reportError('writing metadata', err));
  }

  #onHealthChange(replica: string, change: { from: string; to: string; reason: string }): void {
    const session = this.#shippers.get(replica);
    const to = change.to as ReplicaStatus;
    if (session !== undefined) session.status = to;
    for (const status of ['Healthy', 'Lagging', 'Degraded', 'Failed'] as const) {
      this.metrics.replicaStatus.set({ replica, status }, status === to ? 1 : 0);
    }
    this.#events.emit('replicaStatus', { replica, from: change.from as ReplicaStatus, to, why: change.reason });
  }

  #reportError(what: string, err: unknown): void {
    const code = isReplicationError(err) ? err.code : 'IoError';
    const message = `${what}: ${err instanceof Error ? err.message : String(err)}`;
    this.#logger.error(message, { code });
    this.#events.emit('error', { code, message });
  }

  // ---- retention ----

  #scheduleRetention(): void {
    this.#retentionTimer = this.#clock.setTimeout(() => {
      void this.#retain().finally(() => {
        if (this.#closing === undefined) this.#scheduleRetention();
      });
    }, RETENTION_CHECK_MS);
  }

  /**
   * Deletes log segments nobody needs: below every non-Failed replica's
   * flushed LSN and covered by a durable local snapshot. Past
   * `retentionMaxBytes` it deletes just enough of the oldest segments to get
   * back under the cap, even if a slow replica still needs them (it then
   * catches up by snapshot): one dead replica cannot fill the disk.
   */
  async #retain(): Promise<void> {
    if (this.#retaining || this.#closing !== undefined) return;
    this.#retaining = true;
    try {
      const state = this.#state;
      const log = state.log;
      const starts = log.segmentStarts();
      if (starts.length < 2) return;
      let keepFrom = state.applier.appliedLsn + 1;
      for (const s of this.#shippers.values()) {
        if (s.status !== 'Failed') keepFrom = Math.min(keepFrom, s.progress().flushedLsn + 1);
      }
      const excess = log.diskBytes - this.#options.tuning.retentionMaxBytes;
      if (excess > 0) {
        const overCap = Math.min(starts.length - 1, Math.ceil(excess / this.#options.tuning.segmentBytes));
        keepFrom = Math.min(state.applier.appliedLsn + 1, Math.max(keepFrom, starts[overCap]!));
      }
      const deletable = starts.filter((_, i) => i < starts.length - 1 && starts[i + 1]! <= keepFrom).length;
      if (deletable === 0) return;
      const upTo = starts[deletable]!; // first LSN that stays
      if (state.snapshotLsn < upTo - 1) await state.persistSnapshot();
      await log.retainFrom(Math.min(upTo, state.snapshotLsn + 1));
    } catch (err) {
      this.#reportError('retention', err);
    } finally {
      this.#retaining = false;
    }
  }
}
