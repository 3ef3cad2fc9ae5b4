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
import type { AnyActorRef } from 'xstate';
import { type HandoverRefusal, type PromotionContext, type PromotionEffect, type PromotionSnapshot, majorityOf, promotionRole } from '../machines/promotion.js';
import type { HelloMessage } from '../wire/messages.js';
import { Ballot } from './elections.js';
import { HandoverRun, type HandoverResult } from './handover.js';
import { type RecordParts, checkSpaceName, customRecordParts, memoryRecordParts } from './entries.js';
import { rejoinPrimary } from './rejoin.js';
import { retainLog } from './retention.js';
import { type LocalState, openLocalState } from './localState.js';
import { NodeMetrics } from './metrics.js';
import { type NodeEventMap, NodeEvents, type ReplicaStatus } from './nodeEvents.js';
import { nodeLogics } from './nodeLogics.js';
import { type Logger, type NodeOptions, type ResolvedNodeOptions, resolveNodeOptions, silentLogger } from './nodeOptions.js';
import { type NodeLogics, type NodeSystem, createNodeSystem } from './nodeSystem.js';
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
/** A timeout that never fires in practice (~4 days) yet stays a valid timer even x1.5. */
const NEVER_MS = 2 ** 28;
/** What a refused handover's message says, by the promotion machine's reason. */
const handoverRefusals: Record<HandoverRefusal, string> = {
  notPrimary: 'this node is not the primary',
  leaseLost: 'this primary has not heard from a majority within its lease',
  handoverRunning: 'a handover is already running',
  self: 'the target is this node',
};

/** The ports a node runs on: the real ones (`createNode`) or a simulation's. */
export interface NodePorts {
  fs: FileSystem;
  transport: Transport;
  clock: Clock;
  random: Random;
  /**
   * Replaces the node's machine logics once their effects are provided
   * (`machine.provide()` on top). Only for tests that hand a node a
   * deliberately broken guard or action and expect the simulation's checkers
   * to catch it; hosts leave it unset.
   */
  adaptLogics?: (logics: NodeLogics) => NodeLogics;
}

function adapted(ports: NodePorts, logics: NodeLogics): NodeLogics {
  return ports.adaptLogics === undefined ? logics : ports.adaptLogics(logics);
}

/**
 * Creates a node on the given ports, recovers its state from `dataDir`, and
 * starts it. Hosts call `createNode` (real disk, TCP, clock); simulations
 * call this with simulated ports.
 */
export async function openNode(options: NodeOptions, ports: NodePorts): Promise<ReplicationNode> {
  const resolved = resolveNodeOptions(options);
  const projection = resolved.projection ?? new MemoryStore();
  const emptyProjection = projection.snapshot(); // before any recovery: the state to rebuild from when history is cut
  const state = await openLocalState({
    dir: resolved.dataDir, fs: ports.fs, nodeId: resolved.id,
    clusterId: resolved.cluster.clusterId, projection, segmentBytes: resolved.tuning.segmentBytes,
    monotonicNow: () => performance.now(),
  });
  const node = new ReplicationNode(resolved, state, ports, emptyProjection);
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
  /** Ship records once published rather than once durable (NodeOptions.shipBeforeDurable). */
  readonly #shipBeforeDurable: boolean;
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
  /** The newest metadata write issued through #saveMeta: it settles after every earlier one (LocalState orders them). */
  #metaWrites: Promise<void> = Promise.resolve();
  #retentionTimer: unknown;
  #quorumTimer: unknown;
  #promotion: AnyActorRef | undefined;
  #leaseOk = true;
  #transition: Promise<void> = Promise.resolve();
  readonly #ballot: Ballot;
  /** The promotion machine's refusal of the command being sent (refusePromotion / refuseHandover), see {@link #command}. */
  #refusal: { primaryId: string | null; reason: string } | undefined;
  /** The planned switchover this primary runs, until it settles. */
  #handover: HandoverRun | undefined;
  #roleWaiters = new Set<() => void>();
  #lastQuorumSentMs = -Infinity;
  #lastQuorumContactMs = -Infinity;
  #lastHeartbeatSentMs = -Infinity;
  readonly #emptyProjection: Uint8Array;
  #retaining = false;
  #closing: Promise<void> | undefined;

  /** @internal use `createNode` or {@link openNode}. */
  constructor(options: ResolvedNodeOptions, state: LocalState, ports: NodePorts, emptyProjection: Uint8Array) {
    this.#ports = ports;
    this.#emptyProjection = emptyProjection;
    this.id = options.id;
    this.#options = options;
    this.#shipBeforeDurable = options.shipBeforeDurable ?? true;
    this.#state = state;
    this.#logger = options.logger ?? silentLogger;
    this.#events = new NodeEvents(this.#logger);
    this.#clock = ports.clock;
    this.register = options.register ?? new Registry();
    this.metrics = new NodeMetrics(this.register);
    this.#role = 'replica'; // until the promotion machine says otherwise
    this.#ballot = new Ballot({
      nodeId: this.id, clusterId: options.cluster.clusterId,
      peers: options.cluster.nodes.filter((n) => n.id !== this.id),
      roundTimeoutMs: Math.max(100, Math.floor(options.tuning.electionRoundMs / 2)),
      transport: ports.transport, clock: ports.clock, random: ports.random,
      logPosition: () => this.#logPosition(),
      meta: () => state.meta,
      metaWritten: () => this.#metaWrites,
      consult: (event) => {
        this.#ensurePromotion();
        this.#sendPromotion(event);
      },
    });
    this.#system = createNodeSystem({
      clock: this.#clock,
      logics: adapted(ports, nodeLogics({
        shipper: (id) => this.#shippers.get(id),
        receiver: (id) => this.#receivers.get(id),
        healthChanged: (replica, change) => this.#onHealthChange(replica, change),
        lagAlert: (replica, alert) => this.#events.emit('lagAlert', { replica, ...alert }),
        effectFailed: (where, err) => this.#reportError(`effect ${where} failed`, err),
        promotion: (effect) => this.#onPromotionEffect(effect),
      })),
      ...(options.inspect === undefined ? {} : { inspect: options.inspect }),
      onError: (err) => this.#reportError('actor error', err),
    });
  }

  /** @internal listens, starts the promotion machine (which bootstraps or follows), and waits for the role. */
  async start(): Promise<void> {
    const state = this.#state;
    const t = this.#options.tuning;
    state.log.onDurable((bytes, firstLsn, count, writeMs) => this.#onDurable(bytes, firstLsn, count, writeMs));
    if (this.#shipBeforeDurable) state.log.onPublished(() => this.#notifyShippers());
    state.log.epoch = state.meta.epoch;
    this.metrics.epoch.set(state.meta.epoch);
    this.metrics.appliedLsn.set(state.applier.appliedLsn);
    this.metrics.flushedLsn.set(state.log.flushedLsn);
    this.#listener = await this.#ports.transport.listen(this.#options.self.replication, (conn) => this.#accept(conn));
    // A node that never joined an epoch has nothing to elect for: it waits for
    // the bootstrap primary and starts its promotion machine on first contact.
    if (state.meta.epoch > 0 || this.#options.role === 'primary') this.#ensurePromotion();
    await this.#transition;
    this.#scheduleQuorumCheck();
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
    const queued = this.#state.log.lastLsn - this.#state.log.flushedLsn;
    if (queued + entries.length > this.#options.tuning.writeQueueMaxEntries) {
      throw new ReplicationError('Overloaded', `${queued} entries are waiting for the disk; refusing ${entries.length} more`, {
        context: { queued, limit: this.#options.tuning.writeQueueMaxEntries },
        suggestion: 'retry after the pending writes complete (await earlier writes), or raise tuning.writeQueueMaxEntries',
      });
    }
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

  /**
   * Asks this node to become primary: starts an election and resolves if it
   * wins within `timeoutMs` (else `PromotionRefused`). Refused at once while
   * a healthy primary is reachable, unless `force`: a forced election is
   * granted even by nodes that hear that primary (the primary itself steps
   * down when it grants), which fences it. Forced or not, it needs a
   * majority's votes, each given once per epoch and only to a log at least as
   * complete as the voter's, so it never makes two primaries of an epoch.
   *
   * @example
   * await replica.promote({ force: true }) // { epoch: 3 }
   */
  async promote(options: { force?: boolean; timeoutMs?: number } = {}): Promise<{ epoch: number }> {
    if (this.#closing !== undefined) throw new ReplicationError('Closed', `node ${this.id} is closed`);
    this.#ensurePromotion();
    if (this.#role === 'primary') return { epoch: this.#state.meta.epoch };
    const refusal = this.#command({ type: 'promote', force: options.force === true, nowMs: this.#clock.now(), jitter: this.#ports.random.next() });
    if (refusal !== undefined) {
      throw new ReplicationError('PromotionRefused', `promotion of ${this.id} refused: ${refusal.reason}${refusal.primaryId ? ` (primary ${refusal.primaryId} is reachable)` : ''}`, {
        context: { ...refusal }, suggestion: `for a planned switchover call handover({ to: '${this.id}' }) on the primary (no write lost); promote({ force: true }) fences the current primary (it still needs a majority's votes)`,
      });
    }
    await this.#transition;
    if (!this.#isPrimary()) await this.#waitForRole(options.timeoutMs ?? 3 * this.#options.tuning.electionRoundMs);
    return { epoch: this.#state.meta.epoch };
  }

  /**
   * Planned switchover: hands the primary role to replica `to` (default: the
   * streaming replica with the highest flushed LSN) without losing a write
   * or waiting for a failover timeout. Writes are refused (`NotPrimary`)
   * from the call on; once `to` has flushed every record this node holds,
   * it stands with a forced election, which this node grants, stepping
   * down. Resolves when `to` is heard as the primary of the new epoch.
   * Rejects with `HandoverFailed` (its `context.reason` says why) when this
   * node is not a primary holding its lease, `to` is unknown or not
   * streaming, or `to` did not catch up and take over within `timeoutMs`
   * (default `failoverTimeoutMs`). After such a timeout this node stays
   * primary (writing again once a majority is heard) unless a HANDOVER may
   * still reach `to`: then it steps down, since `to` may yet stand. Settles
   * within twice `timeoutMs` (docs/guarantees.md).
   *
   * @example
   * await primary.handover({ to: 'n2' }) // { primary: 'n2', epoch: 3, lsn: 18234 }
   */
  async handover(options: { to?: string; timeoutMs?: number } = {}): Promise<HandoverResult> {
    if (this.#closing !== undefined) throw new ReplicationError('Closed', `node ${this.id} is closed`);
    const timeoutMs = options.timeoutMs ?? this.#options.tuning.failoverTimeoutMs;
    const to = options.to ?? this.#handoverTarget();
    const refuse = (reason: string, message: string): never => {
      this.metrics.handovers.inc({ outcome: 'failed' });
      throw new ReplicationError('HandoverFailed', `handover from ${this.id} refused: ${message}`, {
        context: { reason, to: to ?? null, primary: this.status().primary },
        suggestion: reason === 'notPrimary' || reason === 'leaseLost' ? 'call handover() on the primary (status().primary)' : 'name a replica that status().replicas shows streaming and Healthy',
      });
    };
    if (!this.#isPrimary()) return refuse('notPrimary', `${this.id} is not the primary`);
    if (to === undefined) return refuse('noTarget', 'no replica is streaming');
    const shipper = this.#shippers.get(to);
    if (to !== this.id && shipper === undefined) return refuse('unknownTarget', `${to} is not a replica of this cluster`);
    if (shipper !== undefined && !shipper.streaming) return refuse('targetUnreachable', `no stream to ${to} is up`);
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new ReplicationError('InvalidConfig', `handover timeoutMs must be > 0, got ${timeoutMs}`);
    this.#ensurePromotion();
    const refusal = this.#command({ type: 'handover', to, timeoutMs, nowMs: this.#clock.now() });
    if (refusal !== undefined) return refuse(refusal.reason, handoverRefusals[refusal.reason as HandoverRefusal]);
    const run = this.#handover;
    if (run === undefined) return refuse('notPrimary', `${this.id} is not the primary`);
    return run.done;
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
      primary: this.#role === 'primary' ? this.id : this.#primaryId ?? this.#promotionContext()?.primaryId ?? null,
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
    if (this.#quorumTimer !== undefined) this.#clock.clearTimeout(this.#quorumTimer);
    for (const w of this.#roleWaiters) w();
    this.#handover?.fail('closed', `node ${this.id} closed`);
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
    for (const s of this.#shippers.values()) if ((stage === 'flushed' ? s.flushedLsn : s.appliedLsn) >= lsn) n++;
    return n;
  }

  #onProgress(): void {
    this.#handover?.progress();
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
      const primary = this.status().primary;
      throw new ReplicationError('NotPrimary', `node ${this.id} is a replica; write to the primary${primary ? ` (${primary})` : ''}`, {
        context: { primary },
        suggestion: 'send writes to the node whose status().role is primary',
      });
    }
    // The machine, not the run, says whether a handover is under way: a run that failed early leaves it HandingOver until its timer.
    const handoverTo = this.#promotionContext()?.handoverTo ?? null;
    if (handoverTo !== null) {
      throw new ReplicationError('NotPrimary', `node ${this.id} is handing the primary role over to ${handoverTo} and refuses writes`, {
        context: { primary: null, handoverTo },
        suggestion: `retry against ${handoverTo} once it is primary (status().primary)`,
      });
    }
    if (!this.#leaseOk) {
      throw new ReplicationError('NotPrimary', `node ${this.id} has not heard from a majority within its ${this.#options.tuning.leaseMs} ms lease and refuses writes`, {
        context: { primary: null },
        suggestion: 'a new primary may be elected; retry against status().primary',
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
    if (!this.#shipBeforeDurable) this.#notifyShippers();
  }

  /** New records may be shipped: wakes every shipper. */
  #notifyShippers(): void {
    for (const s of this.#shippers.values()) s.notifyNewRecords();
  }

  #startPrimary(): void {
    this.#primaryId = this.id;
    this.#stopShippers();
    for (const replica of this.#options.cluster.nodes) {
      if (replica.id === this.id) continue;
      const session = new ShipperSession(this.#shipperHost(), replica);
      this.#shippers.set(replica.id, session);
      this.metrics.replicaStatus.set({ replica: replica.id, status: 'Healthy' }, 1);
      session.start();
    }
  }

  #stopShippers(): void {
    for (const [id, session] of this.#shippers) {
      session.stop();
      this.#system.stop(`shipper:${id}`);
      this.#system.stop(`health:${id}`);
    }
    this.#shippers.clear();
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
      shippableLsn: () => (this.#shipBeforeDurable ? state.log.publishedLsn : state.log.flushedLsn),
      cursor: (fromLsn: number) => state.log.cursor(fromLsn, { beyondDurable: this.#shipBeforeDurable }),
      timestampOf: async (lsn: number) => {
        try {
          return (await state.log.read(Math.max(lsn, state.log.firstLsn), 64, 1))?.firstTimestampMs;
        } catch {
          return undefined;
        }
      },
      takeSnapshot: () => state.takeSnapshot(),
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
      onProgress: () => {
        this.#onProgress();
        this.#checkQuorum();
      },
      higherEpochSeen: (epoch: number, from: string) => this.#sendPromotion({ type: 'epoch.higher', epoch, from, jitter: this.#ports.random.next() }),
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
      receiptAckDelayMs: t.receiptAckDelayMs,
      clock: this.#ports.clock,
      // The epoch this node has adopted, even while its metadata write is in flight:
      // a frame of an older epoch must be refused from the moment a newer one is seen.
      localEpoch: () => Math.max(state.meta.epoch, state.log.epoch),
      positions: () => ({
        receivedLsn: state.log.lastLsn, flushedLsn: state.log.flushedLsn, appliedLsn: state.applier.appliedLsn,
        lastEpoch: state.log.lastEpoch || state.epochOf(state.log.lastLsn), epochHistory: state.meta.epochHistory,
      }),
      appendRecords: (payload, startLsn, count) => state.log.appendRecords(payload, startLsn, count),
      whenDurable: () => state.log.sync(),
      adoptEpoch: (epoch, from) => this.#sendPromotion({ type: 'epoch.higher', epoch, from, jitter: this.#ports.random.next() }),
      followPrimary: (hello) => this.#followPrimary(hello),
      primaryHeard: (from, epoch) => this.#primaryHeard(from, epoch),
      handoverRequested: (from, epoch, lsn) => this.#handoverRequested(from, epoch, lsn),
      voteRequested: (request) => {
        // A restarted replica asks for (pre-)votes within a failover timeout: on the primary, that is the
        // sign to dial it now rather than after the rest of a backoff that may have reached 60 s.
        this.#shippers.get(request.candidateId)?.replicaSeen();
        return this.#ballot.answer(request);
      },
      acceptsStreams: () => this.#role === 'replica',
      installSnapshot: async (bytes, epochHistory) => {
        const snapshot = await state.exclusive(() => state.installSnapshot(bytes, epochHistory));
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

  /**
   * Persists metadata changes one at a time, in order. A failure is
   * reported (and `#metaWrites` still settles); a caller that must not go on
   * without the write awaits the returned promise, which rejects then.
   */
  #saveMeta(patch: Parameters<LocalState['saveMeta']>[0]): Promise<void> {
    const state = this.#state;
    if (patch.epoch !== undefined) {
      state.log.epoch = patch.epoch;
      this.metrics.epoch.set(patch.epoch);
    }
    // LocalState runs metadata writes in order: the newest one settles after every earlier one.
    const write = state.saveMeta(patch);
    this.#metaWrites = write.catch((err: unknown) => this.#reportError('writing metadata', err));
    return write;
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

  // ---- failover: the promotion machine and what feeds it ----

  #sendPromotion(event: Record<string, unknown> & { type: string }): void {
    if (this.#promotion === undefined && (event.type === 'heartbeat' || event.type === 'epoch.higher')) this.#ensurePromotion();
    this.#promotion?.send(event);
  }

  /** Starts the promotion machine (once) from the persisted epoch and vote. */
  #ensurePromotion(): void {
    if (this.#promotion !== undefined || this.#closing !== undefined) return;
    const t = this.#options.tuning;
    const meta = this.#state.meta;
    this.#promotion = this.#system.spawn('promotion', 'promotion', {
      nodeId: this.id,
      clusterSize: this.#options.cluster.nodes.length,
      initialRole: this.#options.role === 'primary' ? 'primary' : 'follower',
      epoch: meta.epoch,
      votedEpoch: meta.votedEpoch,
      // Without automatic failover no one else can be elected, so there is no lease to keep either.
      // (Both stay far below the 2^31 - 1 ms timer limit even with election jitter.)
      failoverTimeoutMs: this.#options.autoFailover === false ? NEVER_MS : t.failoverTimeoutMs,
      leaseMs: this.#options.autoFailover === false ? NEVER_MS - 1 : t.leaseMs,
      electionRoundMs: t.electionRoundMs,
      jitter: this.#ports.random.next(),
    });
  }

  #isPrimary(): boolean {
    return this.#role === 'primary';
  }

  /** The promotion machine holds this node primary of `epoch`. */
  #primaryOf(epoch: number): boolean {
    const snapshot = this.#promotion?.getSnapshot() as PromotionSnapshot | undefined;
    return snapshot !== undefined && promotionRole(snapshot) === 'Primary' && snapshot.context.epoch === epoch;
  }

  #promotionContext(): PromotionContext | undefined {
    return (this.#promotion?.getSnapshot() as PromotionSnapshot | undefined)?.context;
  }

  /** Sends a command (promote, handover) to the promotion machine; returns its refusal, if it refused (it answers at once). */
  #command(event: Record<string, unknown> & { type: 'promote' | 'handover' }): { primaryId: string | null; reason: string } | undefined {
    this.#refusal = undefined;
    this.#sendPromotion(event);
    return this.#refusal as { primaryId: string | null; reason: string } | undefined;
  }

  /** Runs `step` after every earlier role transition, in order; errors are reported, never thrown. */
  #queueTransition(what: string, step: () => Promise<void>): void {
    this.#transition = this.#transition.then(step).catch((err: unknown) => this.#reportError(what, err));
  }

  #onPromotionEffect(effect: PromotionEffect): void {
    switch (effect.type) {
      case 'adoptEpoch':
        this.#saveMeta({ epoch: Math.max(effect.params.epoch, this.#state.meta.epoch) });
        return;
      case 'rejectStale':
        return; // the receiver machine already answers a stale frame with ERROR StaleEpoch
      case 'requestPreVotes':
        // Nothing to persist: a pre-vote claims no epoch and records no vote.
        if (!this.#mayStand()) return;
        this.#ballot.ask(effect.params.epoch, 'preVote', (from, epoch, granted) => this.#sendPromotion({ type: 'prevote.reply', from, epoch, granted }));
        return;
      case 'answerPreVote':
        this.#ballot.decide(effect.params.granted, effect.params.granted ? effect.params.epoch : effect.params.currentEpoch);
        return;
      case 'startElection': {
        const { epoch, force } = effect.params;
        this.#saveMeta({ epoch, votedEpoch: epoch, votedFor: this.id });
        void this.#metaWrites.then(() => {
          // A vote for itself that never reached the disk could be cast again after a crash: no election on it.
          if (!this.#ballot.persisted(epoch, this.id) || !this.#mayStand()) return;
          this.#ballot.ask(epoch, force ? 'forcedVote' : 'vote', (from, replyEpoch, granted) => this.#sendPromotion({ type: 'vote.reply', from, epoch: replyEpoch, granted, jitter: this.#ports.random.next() }));
        });
        return;
      }
      case 'grantVote':
        this.#ballot.decide(true, effect.params.epoch);
        this.#saveMeta({ epoch: Math.max(this.#state.meta.epoch, effect.params.epoch), votedEpoch: effect.params.epoch, votedFor: effect.params.candidateId });
        return;
      case 'refuseVote':
        this.#ballot.decide(false, effect.params.currentEpoch);
        return;
      case 'becomePrimary': {
        const { epoch, via, forced } = effect.params;
        const heard = this.#promotionContext()?.lastHeardMs ?? null;
        this.#queueTransition('becoming primary', async () => {
          await this.#metaWrites;
          const state = this.#state;
          await state.log.sync();
          // The machine may have stepped down (a higher epoch) while this waited: then there is nothing to become.
          if (!this.#primaryOf(epoch)) return;
          // Epochs this log holds no record of are left out: an adopted history may name an epoch that
          // starts past our last LSN (we had not received its records yet), and ours must stay ordered.
          const last = state.log.lastLsn;
          const history = [...state.meta.epochHistory.filter((e) => e.epoch < epoch && e.startLsn <= last), { epoch, startLsn: last + 1 }];
          await state.saveMeta({ epoch, epochHistory: history });
          if (!this.#primaryOf(epoch)) return; // stepped down during the write: the next primary's HELLO replaces that history
          state.log.epoch = epoch;
          this.metrics.epoch.set(epoch);
          for (const r of [...this.#receivers.values()]) r.close(); // stop following anyone
          this.#assignedSeq.clear();
          this.#leaseOk = true;
          // A handover this node started in an earlier epoch is over: it leads again.
          this.#handover?.fail('otherPrimary', `${this.id} was elected primary of epoch ${epoch} itself`);
          this.#role = 'primary';
          this.#startPrimary();
          const failoverMs = via === 'election' && heard !== null ? this.#clock.now() - heard : null;
          if (via !== 'bootstrap') this.metrics.promotions.inc();
          if (failoverMs !== null) this.metrics.failoverSeconds.observe(failoverMs / 1000);
          this.#logger.info('became primary', { epoch, via });
          this.#events.emit('promoted', { epoch, via, forced, failoverMs });
          for (const w of this.#roleWaiters) w();
        });
        return;
      }
      case 'leaseLost':
        this.#leaseOk = false;
        this.#logger.warn('lease lost: no majority heard, refusing writes', { epoch: effect.params.epoch });
        this.#events.emit('error', { code: 'NotPrimary', message: `lease lost in epoch ${effect.params.epoch}: refusing writes until a majority is heard` });
        return;
      case 'leaseRegained':
        this.#leaseOk = true;
        return;
      case 'stepDown': {
        const { epoch, reason, primaryId } = effect.params;
        const wasPrimary = this.#role === 'primary';
        this.#role = 'replica';
        this.#leaseOk = true;
        this.#primaryId = primaryId;
        this.#handover?.steppedDown();
        if (wasPrimary) {
          this.#stopShippers();
          for (const w of this.#ackWaiters) {
            this.#clock.clearTimeout(w.timer);
            w.reject(new ReplicationError('NotPrimary', `node ${this.id} stepped down (${reason}) before LSN ${w.lsn} reached ${w.replicas} replicas`));
          }
          this.#ackWaiters.clear();
        }
        this.#logger.warn('stepped down', { epoch, reason, primaryId });
        this.#events.emit('demoted', { epoch, reason, primary: primaryId });
        return;
      }
      case 'refusePromotion':
        this.#refusal = { primaryId: effect.params.primaryId, reason: effect.params.reason };
        return;
      case 'beginHandover': {
        const { to, epoch, timeoutMs } = effect.params;
        const run = new HandoverRun({
          clock: this.#clock,
          durableLastLsn: async () => {
            await this.#state.log.sync();
            return this.#state.log.lastLsn;
          },
          flushedOn: (id) => this.#shippers.get(id)?.flushedLsn ?? 0,
          sendHandover: (id, e, lsn) => this.#shippers.get(id)?.sendHandover(e, lsn) ?? false,
          streamTo: (id) => this.#shippers.get(id)?.stream,
          handoverInFlight: (inFlight) => this.#sendPromotion({ type: inFlight ? 'handover.sent' : 'handover.ignored' }),
        }, to, epoch, timeoutMs);
        this.#handover = run;
        this.#logger.info('handing over', { to, epoch });
        const finished = (outcome: 'completed' | 'failed') => {
          if (this.#handover === run) this.#handover = undefined;
          this.metrics.handovers.inc({ outcome });
        };
        run.done.then(() => finished('completed'), () => finished('failed'));
        run.start();
        return;
      }
      case 'endHandover': {
        // Not sent: the machine is LeaseLost, and writes resume on the next quorum.contact.
        // Sent: the target may still stand, and the machine steps down (stepDown follows).
        const { to, sent } = effect.params;
        this.#leaseOk = false;
        this.#handover?.fail('timeout', sent
          ? `${to} did not take over within the timeout after HANDOVER; this node steps down (${to} may still stand, or an election follows)`
          : `${to} did not catch up within the timeout; this node stays primary`);
        return;
      }
      case 'refuseHandover':
        this.#refusal = { primaryId: effect.params.primaryId, reason: effect.params.reason };
        return;
      case 'reportSplitBrain':
        this.#reportError('split brain', new ReplicationError('StaleEpoch', `another node (${effect.params.from}) claims to be primary of epoch ${effect.params.epoch}`));
        return;
    }
  }

  /** Epoch of this node's last log record (from the record, else from the epoch history). */
  #lastLogEpoch(): number {
    const log = this.#state.log;
    return log.lastEpoch || this.#state.epochOf(log.lastLsn);
  }

  /** The log position votes compare: the log's last record, or the records claimed past it (NodeMeta.claimedLsn). */
  #logPosition(): { lastEpoch: number; lastLsn: number } {
    const { log, meta } = this.#state;
    if (meta.claimedLsn > log.lastLsn) return { lastEpoch: this.#state.epochOf(meta.claimedLsn), lastLsn: meta.claimedLsn };
    return { lastEpoch: this.#lastLogEpoch(), lastLsn: log.lastLsn };
  }

  /** A node whose log lacks records it still claims must not lead: it would start an epoch without them. */
  #mayStand(): boolean {
    const { log, meta } = this.#state;
    if (log.lastLsn >= meta.claimedLsn) return true;
    this.#logger.warn('not standing for election: the log lacks records this node held before a rejoin reset it', { lastLsn: log.lastLsn, claimedLsn: meta.claimedLsn });
    return false;
  }

  /** A heartbeat (or batch) from the primary: tell the promotion machine, at most every few ms. */
  #primaryHeard(from: string, epoch: number): void {
    this.#handover?.primaryHeard(from, epoch);
    const now = this.#clock.now();
    if (now - this.#lastHeartbeatSentMs < 20) return;
    this.#lastHeartbeatSentMs = now;
    this.#primaryId = from;
    this.#sendPromotion({ type: 'heartbeat', from, epoch, nowMs: now, jitter: this.#ports.random.next() });
  }

  /**
   * HANDOVER from the primary: stand now with a forced election, if this
   * node holds every record the primary named (the primary waited for our
   * flushed ACK, so it does) and may stand at all.
   */
  #handoverRequested(from: string, epoch: number, lsn: number): void {
    if (this.#state.log.flushedLsn < lsn || !this.#mayStand()) {
      this.#logger.warn('HANDOVER ignored: this node lacks records the primary holds', { from, epoch, lsn, flushedLsn: this.#state.log.flushedLsn });
      return;
    }
    this.#logger.info('standing for election: the primary hands over', { from, epoch, lsn });
    this.#sendPromotion({ type: 'handover.request', from, epoch, nowMs: this.#clock.now(), jitter: this.#ports.random.next() });
  }

  /** The streaming, non-Failed replica with the highest flushed LSN: the default handover target. */
  #handoverTarget(): string | undefined {
    let best: ShipperSession | undefined;
    for (const s of this.#shippers.values()) {
      if (s.streaming && s.status !== 'Failed' && (best === undefined || s.flushedLsn > best.flushedLsn)) best = s;
    }
    return best?.replica.id;
  }

  /** Before answering a primary's HELLO: cut a divergent tail, then adopt its epoch history. */
  async #followPrimary(hello: HelloMessage): Promise<void> {
    await this.#transition;
    const cut = await this.#state.exclusive(() => rejoinPrimary(this.#state, hello, {
      fs: this.#ports.fs, dataDir: this.#options.dataDir, emptyProjection: this.#emptyProjection,
      onDiscard: (range) => {
        this.metrics.discardedEntries.inc(range.count);
        this.#logger.warn('discarded a divergent tail', { ...range });
        this.#events.emit('truncated', range);
      },
    }));
    if (cut !== undefined) {
      this.#assignedSeq.clear();
      this.metrics.appliedLsn.set(this.#state.applier.appliedLsn);
    }
    this.#primaryId = hello.fromId;
    // Records of the primary's epochs may be appended only under its history, on disk: a failed
    // write rejects here, and the HELLO is not answered (the primary retries the handshake).
    if (JSON.stringify(hello.epochHistory) !== JSON.stringify(this.#state.meta.epochHistory)) await this.#saveMeta({ epochHistory: hello.epochHistory });
    await this.#metaWrites;
  }

  /** On the primary: tell the promotion machine when a majority (this node included) was heard within the lease. */
  #checkQuorum(): void {
    if (this.#role !== 'primary') return;
    const now = this.#clock.now();
    const leaseMs = this.#options.tuning.leaseMs;
    // When a majority (this node included) was last heard: the oldest of the newest contacts that make one.
    const needed = majorityOf(this.#options.cluster.nodes.length) - 1;
    const contacts = [...this.#shippers.values()].map((s) => s.lastContactMs).sort((a, b) => b - a);
    const majorityMs = needed === 0 ? now : contacts[needed - 1] ?? -Infinity;
    // Each quorum.contact re-arms the full lease, so only contact newer than the last one used counts:
    // re-sending old contact would stretch the lease up to leaseMs past it, beyond failoverTimeoutMs.
    if (now - majorityMs <= leaseMs && majorityMs > this.#lastQuorumContactMs && now - this.#lastQuorumSentMs >= leaseMs / 8) {
      this.#lastQuorumSentMs = now;
      this.#lastQuorumContactMs = majorityMs;
      this.#sendPromotion({ type: 'quorum.contact', nowMs: now });
    }
  }

  #scheduleQuorumCheck(): void {
    this.#quorumTimer = this.#clock.setTimeout(() => {
      this.#checkQuorum();
      if (this.#closing === undefined) this.#scheduleQuorumCheck();
    }, Math.max(10, Math.floor(this.#options.tuning.leaseMs / 8)));
  }

  #waitForRole(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = () => {
        this.#clock.clearTimeout(timer);
        this.#roleWaiters.delete(done);
        if (this.#role === 'primary') resolve();
        else reject(new ReplicationError('PromotionRefused', `${this.id} did not win an election within ${timeoutMs} ms`, { suggestion: 'a majority must be reachable, and each voter grants only a log at least as complete as its own: promote the replica with the highest status().lsn, or wait until this one has caught up' }));
      };
      const timer = this.#clock.setTimeout(done, timeoutMs);
      this.#roleWaiters.add(done);
    });
  }

  // ---- retention ----

  #scheduleRetention(): void {
    this.#retentionTimer = this.#clock.setTimeout(() => {
      void this.#retain().finally(() => {
        if (this.#closing === undefined) this.#scheduleRetention();
      });
    }, RETENTION_CHECK_MS);
  }

  /** Runs {@link retainLog} (one run at a time), keeping what every replica has not flushed yet. */
  async #retain(): Promise<void> {
    if (this.#retaining || this.#closing !== undefined) return;
    this.#retaining = true;
    try {
      const state = this.#state;
      await state.exclusive(() => retainLog(state, [...this.#shippers.values()].map((s) => s.flushedLsn), this.#options.tuning));
    } catch (err) {
      this.#reportError('retention', err);
    } finally {
      this.#retaining = false;
    }
  }
}
