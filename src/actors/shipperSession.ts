/**
 * The primary's stream to one replica. The `shipperMachine` decides the
 * phase (connect, handshake, snapshot, catch up, stream, back off); this
 * session performs it: dials, speaks HELLO, ships log ranges as BATCH frames
 * within a window bounded in batches and bytes (pipelined, socket
 * back-pressure respected), turns ACKs into positions and lag, and feeds the
 * replica-health machine one `lag.sample` per heartbeat tick. While the
 * replica is unreachable the tick goes on without a connection: the time lag
 * is the age of the oldest record it lacks, so a replica that misses writes
 * turns Lagging, then Degraded, before its failed reconnects make it Failed.
 *
 * @example
 * const session = new ShipperSession(host, { id: 'n2', replication: '10.0.0.2:7101' })
 * session.start()
 */
import type { AnyActorRef } from 'xstate';
import { ReplicationError, isReplicationError } from '../errors.js';
import type { LogCursor } from '../log/log.js';
import type { Clock, Connection, Random, Transport } from '../ports.js';
import { crc32c } from '../wire/checksum.js';
import { FrameReader } from '../wire/frameReader.js';
import { type AckMessage, PROTOCOL_VERSION, type WireMessage, decodeMessage, encodeBatchFrame, encodeMessage } from '../wire/messages.js';
import type { NodeMetrics } from './metrics.js';
import type { ReplicaStatus } from './nodeEvents.js';
import type { ClusterNode, Tuning } from './nodeOptions.js';

/** What a shipper session needs from its node. */
export interface ShipperHost {
  readonly nodeId: string;
  readonly clusterId: string;
  readonly tuning: Tuning;
  readonly transport: Transport;
  readonly clock: Clock;
  readonly random: Random;
  readonly metrics: NodeMetrics;
  epoch(): number;
  epochHistory(): { epoch: number; startLsn: number }[];
  firstLsn(): number;
  /** Last LSN this primary may ship: durable, or published when it ships before durable. */
  shippableLsn(): number;
  /** A cursor over the records it may ship, from `fromLsn`. */
  cursor(fromLsn: number): LogCursor;
  /**
   * Timestamp of record `lsn` (for time lag); when retention removed it, the
   * timestamp of the first record still held (so the age is a lower bound);
   * undefined when the log has nothing.
   */
  timestampOf(lsn: number): Promise<number | undefined>;
  takeSnapshot(): { lsn: number; bytes: Uint8Array };
  spawnShipper(session: ShipperSession): { shipper: AnyActorRef; health: AnyActorRef };
  onError(replica: string, code: string, message: string): void;
  onSnapshotSent(replica: string, lsn: number, bytes: number): void;
  /** A replica's flushed or applied position moved. */
  onProgress(replica: string): void;
  /** A replica refused this primary with a higher epoch: this node must step down. */
  higherEpochSeen(epoch: number, from: string): void;
}

interface InFlight {
  lastLsn: number;
  bytes: number;
  firstTimestampMs: number;
}

/** A replica's replication positions and lag, as `node.status()` reports them. */
export interface ReplicaProgress {
  id: string;
  status: ReplicaStatus;
  sentLsn: number;
  receivedLsn: number;
  flushedLsn: number;
  appliedLsn: number;
  lagEntries: number;
  lagBytes: number;
  lagMs: number;
  /**
   * PostgreSQL's write, flush and apply lag: for the newest position of each
   * kind the replica acknowledged, the time from sending the batch to the ACK.
   * A receipt within the replica's `receiptAckDelayMs` is acknowledged with
   * its flush, so a write lag that small equals the flush lag.
   */
  writeLagMs: number;
  flushLagMs: number;
  applyLagMs: number;
  failures: number;
  lastError: string | null;
  /** Milliseconds since the last frame from the replica, or null before the first. */
  lastContactAgoMs: number | null;
}

export class ShipperSession {
  readonly replica: ClusterNode;
  status: ReplicaStatus = 'Healthy';
  /** Clock time of the last frame from the replica (for the primary's lease). */
  lastContactMs = -Infinity;
  readonly #host: ShipperHost;
  #shipper: AnyActorRef | undefined;
  #health: AnyActorRef | undefined;
  #connection: Connection | undefined;
  #generation = 0;
  #streaming = false;
  #pumping = false;
  #pumpAgain = false;
  #cursor: LogCursor | undefined;
  #inflight: InFlight[] = [];
  #inflightBytes = 0;
  #heartbeat: unknown;
  /** The lag tick while not streaming (see {@link ShipperSession.closeConnection}). */
  #offlineTick: unknown;
  /** True once a HELLO_ACK told this session where the replica is (no lag is claimed before). */
  #positionKnown = false;
  #sent = 0;
  #received = 0;
  #flushed = 0;
  #applied = 0;
  #lagMs = 0;
  #writeLagMs = 0;
  #flushLagMs = 0;
  #applyLagMs = 0;
  /** Timestamp of record `lsn`, looked up when the replica's applied LSN was `lsn - 1`; stale once it moves. */
  #oldestUnapplied: { lsn: number; ts: number } | undefined;
  #failures = 0;
  #lastError: string | null = null;
  #stopped = false;
  /** The newest send time (this node's clock) the replica's ACKs on the current connection echoed. */
  #echoedMs = 0;
  /** The newest send time stamped on a frame of the current connection. */
  #sentMs = 0;

  constructor(host: ShipperHost, replica: ClusterNode) {
    this.#host = host;
    this.replica = replica;
  }

  /** Starts the stream (the machine dials at once). */
  start(): void {
    const refs = this.#host.spawnShipper(this);
    this.#shipper = refs.shipper;
    this.#health = refs.health;
    this.#shipper.send({ type: 'start' });
  }

  /** The replica showed it is up (it asked this node for a vote): a reconnect waiting out its backoff dials now. */
  replicaSeen(): void {
    this.#shipper?.send({ type: 'replica.seen' });
  }

  /** Stops the stream and closes the connection. */
  stop(): void {
    this.#stopped = true;
    this.#shipper?.send({ type: 'stop' });
    this.closeConnection();
    if (this.#offlineTick !== undefined) this.#host.clock.clearTimeout(this.#offlineTick);
    this.#offlineTick = undefined;
  }

  /** The replica's durable position (from its ACKs). */
  get flushedLsn(): number {
    return this.#flushed;
  }

  /** The replica's applied position (from its ACKs). */
  get appliedLsn(): number {
    return this.#applied;
  }

  /**
   * The current connection (`generation`, which changes with every connect
   * and close), the newest send time stamped on a frame of it (`sentMs`),
   * and the newest send time the replica's ACKs on it echoed (`echoedMs`):
   * the replica has read every frame sent on it up to that one.
   */
  get stream(): { generation: number; sentMs: number; echoedMs: number } {
    return { generation: this.#generation, sentMs: this.#sentMs, echoedMs: this.#echoedMs };
  }

  /** A stream to the replica is up (handshake done). */
  get streaming(): boolean {
    return this.#streaming;
  }

  /** Sends HANDOVER (a planned switchover) on the stream; false when no stream is up. */
  sendHandover(epoch: number, lsn: number): boolean {
    if (!this.#streaming || this.#connection === undefined) return false;
    this.#write(encodeMessage({ kind: 'handover', epoch, lsn }));
    return true;
  }

  /** The log flushed more records: ship them if the stream is idle. */
  notifyNewRecords(): void {
    if (this.#streaming) void this.#pump();
  }

  /** Current positions and lag. */
  progress(): ReplicaProgress {
    const primary = this.#host.shippableLsn();
    return {
      id: this.replica.id, status: this.status,
      sentLsn: this.#sent, receivedLsn: this.#received, flushedLsn: this.#flushed, appliedLsn: this.#applied,
      lagEntries: Math.max(0, primary - this.#applied),
      lagBytes: this.#inflightBytes,
      lagMs: this.#lagMs, writeLagMs: this.#writeLagMs, flushLagMs: this.#flushLagMs, applyLagMs: this.#applyLagMs,
      failures: this.#failures, lastError: this.#lastError,
      lastContactAgoMs: this.lastContactMs === -Infinity ? null : this.#host.clock.now() - this.lastContactMs,
    };
  }

  // ---- effects asked for by the shipper machine ----

  openConnection(): void {
    const generation = ++this.#generation;
    const { clock, random } = this.#host;
    this.#host.transport.connect(this.replica.replication, { timeoutMs: this.#host.tuning.connectTimeoutMs }).then(
      (connection) => {
        if (generation !== this.#generation || this.#stopped) {
          connection.destroy();
          return;
        }
        this.#attach(connection, generation);
        this.#shipper?.send({ type: 'connection.opened', nowMs: clock.now(), jitter: random.next() });
      },
      (err: unknown) => {
        if (generation !== this.#generation) return;
        const code = isReplicationError(err) ? err.code : 'ConnectionClosed';
        this.#shipper?.send({
          type: 'connection.failed', reason: code === 'ConnectionTimeout' ? 'timeout' : 'connect',
          message: err instanceof Error ? err.message : String(err), jitter: random.next(), nowMs: clock.now(),
        });
      },
    );
  }

  sendHello(): void {
    this.#write(encodeMessage({
      kind: 'hello', protocolVersion: PROTOCOL_VERSION, clusterId: this.#host.clusterId, fromId: this.#host.nodeId,
      toId: this.replica.id, epoch: this.#host.epoch(), lastLsn: this.#host.shippableLsn(), epochHistory: this.#host.epochHistory(),
    }));
  }

  startStreaming(fromLsn: number, mode: 'catchUp' | 'tail'): void {
    this.#cursor = this.#host.cursor(fromLsn);
    this.#sent = fromLsn - 1;
    this.#streaming = true;
    if (mode === 'catchUp') this.#host.metrics.catchups.inc({ replica: this.replica.id });
    this.#scheduleHeartbeat();
    void this.#pump();
  }

  changeStreamMode(mode: 'catchUp' | 'tail'): void {
    if (mode === 'catchUp') this.#host.metrics.catchups.inc({ replica: this.replica.id });
  }

  sendSnapshot(): void {
    const connection = this.#connection;
    if (connection === undefined) return;
    const { lsn, bytes } = this.#host.takeSnapshot();
    const generation = this.#generation;
    const chunkBytes = this.#host.tuning.snapshotChunkBytes;
    void (async () => {
      this.#write(encodeMessage({
        kind: 'snapshotBegin', epoch: this.#host.epoch(), snapshotLsn: lsn, snapshotEpoch: this.#host.epoch(),
        totalBytes: bytes.length, crc: crc32c(bytes), epochHistory: this.#host.epochHistory(),
      }));
      for (let offset = 0; offset < bytes.length; offset += chunkBytes) {
        if (generation !== this.#generation) return;
        const ok = this.#write(encodeMessage({ kind: 'snapshotChunk', offset, bytes: bytes.subarray(offset, Math.min(bytes.length, offset + chunkBytes)) }));
        if (!ok) await new Promise<void>((resolve) => connection.onDrain(resolve));
      }
      if (generation !== this.#generation) return;
      this.#write(encodeMessage({ kind: 'snapshotEnd', epoch: this.#host.epoch() }));
      this.#host.metrics.snapshotsSent.inc({ replica: this.replica.id });
      this.#host.onSnapshotSent(this.replica.id, lsn, bytes.length);
      this.#shipper?.send({ type: 'snapshot.sent', snapshotLsn: lsn });
    })();
  }

  closeConnection(): void {
    this.#generation++;
    this.#echoedMs = 0;
    this.#sentMs = 0;
    this.#streaming = false;
    this.#cursor = undefined;
    this.#inflight = [];
    this.#inflightBytes = 0;
    if (this.#heartbeat !== undefined) this.#host.clock.clearTimeout(this.#heartbeat);
    this.#heartbeat = undefined;
    this.#connection?.destroy();
    this.#connection = undefined;
    this.#scheduleOfflineTick();
  }

  /**
   * Keeps sampling lag at the heartbeat period while there is no stream: the
   * replica's last known applied LSN against what this node has since
   * written. Nothing is claimed before the first HELLO_ACK of this session
   * (the replica's position is unknown until then).
   */
  #scheduleOfflineTick(): void {
    if (this.#stopped || this.#offlineTick !== undefined) return;
    this.#offlineTick = this.#host.clock.setTimeout(() => {
      this.#offlineTick = undefined;
      if (this.#stopped || this.#streaming) return;
      if (this.#positionKnown) {
        if (this.#oldestUnapplied?.lsn !== this.#applied + 1) this.#refreshOldestUnapplied();
        else this.#sampleLag(this.#host.clock.now(), true);
      }
      this.#scheduleOfflineTick();
    }, this.#host.tuning.heartbeatIntervalMs);
  }

  reportFailure(reason: string, message: string, nowMs: number): void {
    this.#failures++;
    this.#lastError = `${reason}: ${message}`;
    this.#host.metrics.failures.inc({ replica: this.replica.id, reason });
    this.#health?.send({ type: 'failure', reason, nowMs });
  }

  reportConnected(nowMs: number): void {
    this.#health?.send({ type: 'connected', nowMs });
  }

  reportProtocolError(code: string, message: string): void {
    this.#host.onError(this.replica.id, code, message);
  }

  stepDown(code: string, message: string): void {
    this.#host.onError(this.replica.id, code, `replica refused this primary: ${message}`);
  }

  // ---- connection I/O ----

  #attach(connection: Connection, generation: number): void {
    this.#connection = connection;
    const reader = new FrameReader(this.#host.tuning.frameMaxBytes);
    connection.onData((chunk) => {
      if (generation !== this.#generation) return;
      reader.push(chunk);
      try {
        for (let frame = reader.next(); frame !== undefined && generation === this.#generation; frame = reader.next()) {
          this.#onMessage(decodeMessage(frame));
        }
      } catch (err) {
        const e = isReplicationError(err) ? err : new ReplicationError('MalformedMessage', String(err));
        this.#event({ type: 'protocol.error', code: e.code, message: e.message });
      }
    });
    connection.onDrain(() => {
      if (generation === this.#generation) void this.#pump();
    });
    connection.onClose((err) => {
      if (generation !== this.#generation) return;
      this.#event({ type: 'connection.closed', reason: 'closed', message: err?.message ?? 'the replica closed the connection' });
    });
  }

  #event(event: { type: 'protocol.error' | 'connection.closed' | 'peer.error' | 'hello.rejected'; reason?: string; code?: string; message: string }): void {
    this.#shipper?.send({ ...event, jitter: this.#host.random.next(), nowMs: this.#host.clock.now() });
  }

  #write(chunks: Uint8Array[]): boolean {
    return this.#connection?.write(chunks) ?? false;
  }

  #onMessage(msg: WireMessage): void {
    this.lastContactMs = this.#host.clock.now();
    switch (msg.kind) {
      case 'helloAck':
        this.#received = this.#flushed = msg.flushedLsn;
        this.#applied = msg.appliedLsn;
        this.#positionKnown = true;
        // Positions may have moved while disconnected: look the age up again.
        this.#refreshOldestUnapplied();
        this.#shipper?.send({
          type: 'hello.accepted', replicaFlushedLsn: msg.flushedLsn, logFirstLsn: this.#host.firstLsn(),
          primaryLsn: this.#host.shippableLsn(), windowEntries: this.#windowEntries(), nowMs: this.#host.clock.now(),
        });
        return;
      case 'ack':
        this.#onAck(msg);
        return;
      case 'error':
        if (msg.epoch !== undefined && msg.epoch > this.#host.epoch()) this.#host.higherEpochSeen(msg.epoch, this.replica.id);
        this.#event({ type: this.#streaming ? 'peer.error' : 'hello.rejected', code: msg.code, message: msg.message });
        return;
      default:
        this.#event({ type: 'protocol.error', code: 'MalformedMessage', message: `a primary does not accept ${msg.kind} frames` });
    }
  }

  #windowEntries(): number {
    return this.#host.tuning.windowBatches * this.#host.tuning.batchMaxEntries;
  }

  #onAck(ack: AckMessage): void {
    const now = this.#host.clock.now();
    const echoAge = ack.echoSentAtMs > 0 ? Math.max(0, now - ack.echoSentAtMs) : 0;
    this.#echoedMs = Math.max(this.#echoedMs, ack.echoSentAtMs);
    if (ack.receivedLsn > this.#received) this.#writeLagMs = echoAge;
    if (ack.flushedLsn > this.#flushed) this.#flushLagMs = echoAge;
    if (ack.appliedLsn > this.#applied) this.#applyLagMs = echoAge;
    this.#received = Math.max(this.#received, ack.receivedLsn);
    this.#flushed = Math.max(this.#flushed, ack.flushedLsn);
    this.#applied = Math.max(this.#applied, ack.appliedLsn);
    while (this.#inflight.length > 0 && this.#inflight[0]!.lastLsn <= this.#flushed) {
      this.#inflightBytes -= this.#inflight.shift()!.bytes;
    }
    this.#host.metrics.acks.inc({ replica: this.replica.id });
    this.#host.onProgress(this.replica.id);
    this.#sampleLag(now);
    this.#shipper?.send({ type: 'progress', ackedLsn: this.#flushed, primaryLsn: this.#host.shippableLsn(), windowEntries: this.#windowEntries() });
    void this.#pump();
  }

  /**
   * Time lag: age of the oldest entry the replica has not applied (0 when
   * caught up). Gauges follow every ACK; the health machine gets one sample
   * per heartbeat tick (`toHealth`), not one per ACK: lag monitoring stays a
   * few samples per second whatever the write rate.
   */
  #sampleLag(now: number, toHealth = false): void {
    const primary = this.#host.shippableLsn();
    const lagEntries = Math.max(0, primary - this.#applied);
    const labels = { replica: this.replica.id };
    this.#host.metrics.lagEntries.set(labels, lagEntries);
    if (lagEntries === 0) {
      this.#lagMs = 0;
    } else {
      const inflight = this.#inflight.find((b) => b.lastLsn > this.#applied);
      const looked = this.#oldestUnapplied;
      const ts = inflight?.firstTimestampMs ?? (looked?.lsn === this.#applied + 1 ? looked.ts : undefined);
      // Behind, but the age of what it lacks is not known yet (just reconnected,
      // lookup pending, or the replica moved since): no sample rather than a stale one.
      if (ts === undefined) return;
      this.#lagMs = Math.max(0, now - ts);
    }
    this.#host.metrics.lagMilliseconds.set(labels, this.#lagMs);
    if (toHealth) this.#health?.send({ type: 'lag.sample', lagMs: this.#lagMs, lagEntries, nowMs: now });
  }

  /**
   * Looks up the timestamp of the oldest entry the replica lacks when no
   * in-flight batch tells it (a replica far behind, or being sent a snapshot).
   */
  #refreshOldestUnapplied(): void {
    if (this.#host.shippableLsn() <= this.#applied) return;
    const applied = this.#applied;
    void this.#host.timestampOf(applied + 1).then((ts) => {
      // Still the replica's position: the answer holds (across reconnects too).
      if (ts !== undefined && applied === this.#applied && !this.#stopped) {
        this.#oldestUnapplied = { lsn: applied + 1, ts };
        this.#sampleLag(this.#host.clock.now(), true);
      }
    });
  }

  #scheduleHeartbeat(): void {
    const generation = this.#generation;
    this.#heartbeat = this.#host.clock.setTimeout(() => {
      if (generation !== this.#generation) return;
      const now = this.#host.clock.now();
      this.#sentMs = Math.max(this.#sentMs, now);
      this.#write(encodeMessage({ kind: 'heartbeat', epoch: this.#host.epoch(), primaryLsn: this.#host.shippableLsn(), sentAtMs: now }));
      if (!this.#inflight.some((b) => b.lastLsn > this.#applied)) this.#refreshOldestUnapplied();
      this.#sampleLag(now, true);
      this.#scheduleHeartbeat();
    }, this.#host.tuning.heartbeatIntervalMs);
  }

  /** Ships batches while the window and the socket allow. One pump at a time. */
  async #pump(): Promise<void> {
    if (this.#pumping) {
      this.#pumpAgain = true; // a wake-up while a pump runs is not lost
      return;
    }
    this.#pumping = true;
    this.#pumpAgain = false;
    const generation = this.#generation;
    const t = this.#host.tuning;
    try {
      while (this.#streaming && generation === this.#generation && this.#inflight.length < t.windowBatches &&
             this.#inflightBytes < t.windowBytes && this.#cursor !== undefined) {
        const connection = this.#connection;
        if (connection === undefined || connection.pendingBytes > t.windowBytes) break;
        const read = await this.#cursor.next(t.batchMaxBytes, t.batchMaxEntries);
        if (generation !== this.#generation) break;
        if (read === undefined) break;
        const now = this.#host.clock.now();
        this.#sentMs = Math.max(this.#sentMs, now);
        const frame = encodeBatchFrame({
          epoch: this.#host.epoch(), startLsn: read.firstLsn, count: read.count, primaryId: this.#host.nodeId,
          firstTimestampMs: read.firstTimestampMs, sentAtMs: now,
        }, read.bytes);
        this.#inflight.push({ lastLsn: read.lastLsn, bytes: read.bytes.length, firstTimestampMs: read.firstTimestampMs });
        this.#inflightBytes += read.bytes.length;
        this.#sent = read.lastLsn;
        const labels = { replica: this.replica.id };
        this.#host.metrics.batchesSent.inc(labels);
        this.#host.metrics.entriesSent.inc(labels, read.count);
        this.#host.metrics.bytesSent.inc(labels, read.bytes.length);
        this.#host.metrics.batchEntries.observe(read.count);
        if (!connection.write(frame)) break; // onDrain pumps again
      }
    } catch (err) {
      if (generation === this.#generation) {
        const e = isReplicationError(err) ? err : new ReplicationError('IoError', String(err));
        this.#event({ type: 'protocol.error', code: e.code, message: `reading the log to ship: ${e.message}` });
      }
    } finally {
      this.#pumping = false;
      if (this.#pumpAgain) void this.#pump();
    }
  }
}
