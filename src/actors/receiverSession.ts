/**
 * The replica's side of one inbound replication connection: bytes ->
 * frames -> typed messages -> one `receiverMachine` event each; the
 * machine's named actions come back here to append batches to the log, send
 * ACKs, install snapshots and refuse bad frames. A batch is fully checked
 * (frame, CRC, record framing, LSN run) before the machine sees it, so
 * nothing that failed validation is ever appended.
 *
 * @example
 * listener = await transport.listen(address, (conn) => replica.accept(conn))
 */
import type { AnyActorRef } from 'xstate';
import { ReplicationError, isReplicationError } from '../errors.js';
import type { Clock, Connection } from '../ports.js';
import type { EpochStart } from '../types.js';
import { type Batch, splitRecords } from '../wire/batch.js';
import { crc32c } from '../wire/checksum.js';
import { FrameReader } from '../wire/frameReader.js';
import { type HelloMessage, PROTOCOL_VERSION, type VoteMessage, type VoteRequestMessage, type WireMessage, decodeMessage, encodeMessage } from '../wire/messages.js';

/** What a receiver session needs from its node. */
export interface ReceiverHost {
  readonly nodeId: string;
  readonly clusterId: string;
  readonly frameMaxBytes: number;
  readonly snapshotMaxBytes: number;
  readonly pendingMaxBytes: number;
  /**
   * How long a receipt may go unacknowledged: a durable ACK within this time
   * carries it; past it a receipt ACK goes out on its own. 0: at once.
   */
  readonly receiptAckDelayMs: number;
  readonly clock: Clock;
  localEpoch(): number;
  positions(): { receivedLsn: number; flushedLsn: number; appliedLsn: number; lastEpoch: number; epochHistory: { epoch: number; startLsn: number }[] };
  appendRecords(payload: Uint8Array, startLsn: number, count: number): void;
  /** Resolves when everything appended so far is durable. */
  whenDurable(): Promise<void>;
  /** A frame from `from` carried a higher epoch than this node's. */
  adoptEpoch(epoch: number, from: string): void;
  /** Before the HELLO_ACK: reconcile with the primary (cut a divergent tail) and adopt its history. */
  followPrimary(hello: HelloMessage): Promise<void>;
  /** The primary is alive (a heartbeat or a batch arrived). */
  primaryHeard(from: string, epoch: number): void;
  /** The primary `from` of `epoch` hands over: this node holds every record up to `lsn` and should stand now. */
  handoverRequested(from: string, epoch: number, lsn: number): void;
  /** A candidate asks for this node's vote; resolves with the (persisted) answer. */
  voteRequested(request: VoteRequestMessage): Promise<VoteMessage>;
  /** False on a primary: HELLOs of its own epoch or lower are refused. */
  acceptsStreams(): boolean;
  /** Replaces the local state with a snapshot; `epochHistory` is the sender's (SNAPSHOT_BEGIN), which the log follows from then on. */
  installSnapshot(bytes: Uint8Array, epochHistory: EpochStart[]): Promise<void>;
  countProtocolError(code: string, message: string): void;
  spawnReceiver(session: ReceiverSession): AnyActorRef;
  closed(session: ReceiverSession): void;
}

/** One batch received and appended but not yet acknowledged as durable. */
interface PendingBatch {
  lastLsn: number;
  sentAtMs: number;
  bytes: number;
}

export class ReceiverSession {
  readonly id: string;
  readonly #host: ReceiverHost;
  readonly #connection: Connection;
  readonly #reader: FrameReader;
  readonly #actor: AnyActorRef;
  #batch: Batch | undefined;
  #hello: HelloMessage | undefined;
  #pending: PendingBatch[] = [];
  #pendingBytes = 0;
  #paused = false;
  #lastEcho = 0;
  /** Armed while a received batch has been in no ACK (see `receiptAckDelayMs`). */
  #receiptTimer: unknown;
  #snapshot: { bytes: Uint8Array; crc: number; received: number; epochHistory: EpochStart[] } | undefined;
  #closed = false;
  #installing = false;
  #lastRefusal: string | undefined;

  constructor(id: string, host: ReceiverHost, connection: Connection) {
    this.id = id;
    this.#host = host;
    this.#connection = connection;
    // Reused assembly: every frame is consumed before the next is read (a
    // batch is copied into the log, a snapshot chunk into the snapshot).
    this.#reader = new FrameReader(host.frameMaxBytes, { reuseAssembly: true });
    this.#actor = host.spawnReceiver(this);
    connection.onData((chunk) => this.#onData(chunk));
    connection.onClose(() => this.#onClose());
  }

  #send(msg: Parameters<typeof encodeMessage>[0]): void {
    if (!this.#closed) this.#connection.write(encodeMessage(msg));
  }

  #onData(chunk: Uint8Array): void {
    if (this.#closed) return;
    this.#reader.push(chunk);
    this.#drainFrames();
  }

  /**
   * Handles buffered frames in order. Stops while a snapshot is being
   * installed: frames behind SNAPSHOT_END must be checked against the log
   * position after the install, so they wait in the reader until it is done.
   */
  #drainFrames(): void {
    try {
      for (let frame = this.#installing ? undefined : this.#reader.next(); frame !== undefined && !this.#closed;
           frame = this.#installing ? undefined : this.#reader.next()) {
        this.#dispatch(decodeMessage(frame));
      }
    } catch (err) {
      const e = isReplicationError(err) ? err : new ReplicationError('MalformedMessage', String(err));
      this.#actor.send({ type: 'protocol.error', code: e.code, message: e.message });
    }
  }

  #dispatch(msg: WireMessage): void {
    if (msg.kind === 'voteRequest') {
      // An election connection: one request, one answer, close. Not a replication stream.
      this.#host.voteRequested(msg).then(
        (vote) => {
          this.#send(vote);
          this.close();
        },
        () => this.close(),
      );
      return;
    }
    const local = this.#host.localEpoch();
    const epochOf = 'epoch' in msg ? msg.epoch : undefined;
    if (epochOf !== undefined && epochOf > local && msg.kind !== 'vote') {
      this.#actor.send({ type: 'epoch.higher', epoch: epochOf });
    }
    const localEpoch = this.#host.localEpoch();
    switch (msg.kind) {
      case 'hello':
        if (!this.#host.acceptsStreams() && msg.epoch > localEpoch) this.#host.adoptEpoch(msg.epoch, msg.fromId); // steps down
        if (!this.#host.acceptsStreams()) {
          throw new ReplicationError('StaleEpoch', `${this.#host.nodeId} is a primary in epoch ${localEpoch}; HELLO from ${msg.fromId} in epoch ${msg.epoch} refused`);
        }
        this.#hello = msg;
        this.#actor.send({
          type: 'hello', epoch: msg.epoch, localEpoch,
          versionOk: msg.protocolVersion === PROTOCOL_VERSION,
          clusterOk: msg.clusterId === this.#host.clusterId,
          addressedToMe: msg.toId === this.#host.nodeId,
        });
        return;
      case 'batch': {
        splitRecords(msg.batch); // record framing and LSN run, before anything is appended
        this.#batch = msg.batch;
        const { receivedLsn } = this.#host.positions();
        this.#actor.send({ type: 'batch', epoch: msg.batch.epoch, localEpoch, startLsn: msg.batch.startLsn, expectedLsn: receivedLsn + 1, count: msg.batch.count });
        this.#batch = undefined;
        return;
      }
      case 'heartbeat':
        if (this.#hello !== undefined && msg.epoch >= this.#host.localEpoch()) this.#host.primaryHeard(this.#hello.fromId, msg.epoch);
        this.#lastEcho = Math.max(this.#lastEcho, msg.sentAtMs);
        this.#actor.send({ type: 'heartbeat', epoch: msg.epoch, localEpoch });
        return;
      case 'snapshotBegin':
        if (msg.totalBytes > this.#host.snapshotMaxBytes) {
          throw new ReplicationError('InvalidBatchSize', `snapshot of ${msg.totalBytes} bytes exceeds ${this.#host.snapshotMaxBytes}`);
        }
        this.#snapshot = { bytes: new Uint8Array(msg.totalBytes), crc: msg.crc, received: 0, epochHistory: msg.epochHistory };
        this.#actor.send({ type: 'snapshot.begin', epoch: msg.epoch, localEpoch });
        return;
      case 'snapshotChunk': {
        const snap = this.#snapshot;
        if (snap !== undefined && (msg.offset !== snap.received || msg.offset + msg.bytes.length > snap.bytes.length)) {
          throw new ReplicationError('MalformedMessage', `snapshot chunk at ${msg.offset} (+${msg.bytes.length}) does not follow byte ${snap.received} of ${snap.bytes.length}`);
        }
        snap?.bytes.set(msg.bytes, msg.offset);
        if (snap !== undefined) snap.received += msg.bytes.length;
        this.#actor.send({ type: 'snapshot.chunk', offset: msg.offset, byteLength: msg.bytes.length });
        return;
      }
      case 'snapshotEnd': {
        const snap = this.#snapshot;
        const ok = snap !== undefined && snap.received === snap.bytes.length && crc32c(snap.bytes) === snap.crc;
        this.#actor.send({ type: 'snapshot.end', ok });
        return;
      }
      case 'handover':
        if (this.#hello === undefined) throw new ReplicationError('MalformedMessage', 'HANDOVER before HELLO');
        if (msg.epoch < localEpoch) throw new ReplicationError('StaleEpoch', `HANDOVER from epoch ${msg.epoch}, local epoch is ${localEpoch}`);
        this.#host.handoverRequested(this.#hello.fromId, msg.epoch, msg.lsn);
        return;
      case 'error':
        this.#host.countProtocolError(msg.code, `primary sent ERROR: ${msg.message}`);
        this.close();
        return;
      default:
        throw new ReplicationError('MalformedMessage', `a replica does not accept ${msg.kind} frames`);
    }
  }

  // ---- effects asked for by the receiver machine ----

  /**
   * Answers a HELLO with this replica's positions, once every record it has
   * appended is durable, so the flushed LSN it reports is both true and
   * where the primary must resume.
   */
  acceptHello(): void {
    const hello = this.#hello;
    if (hello === undefined) return;
    this.#connection.pause();
    this.#host.primaryHeard(hello.fromId, hello.epoch);
    this.#host.followPrimary(hello).then(
      () => {
        this.#sendHelloAck();
        this.#connection.resume();
      },
      (err: unknown) => {
        const e = isReplicationError(err) ? err : new ReplicationError('IoError', String(err));
        this.#actor.send({ type: 'protocol.error', code: e.code, message: `cannot follow ${hello.fromId}: ${e.message}` });
      },
    );
  }

  #sendHelloAck(): void {
    const p = this.#host.positions();
    this.#send({
      kind: 'helloAck', protocolVersion: PROTOCOL_VERSION, clusterId: this.#host.clusterId, nodeId: this.#host.nodeId,
      epoch: this.#host.localEpoch(), flushedLsn: p.flushedLsn, appliedLsn: p.appliedLsn, lastEpoch: p.lastEpoch,
      epochHistory: p.epochHistory,
    });
  }

  /**
   * Appends the batch being dispatched. Its receipt is acknowledged by the
   * next ACK: the durable one when the flush takes less than
   * `receiptAckDelayMs`, else a receipt ACK of its own. One ACK per batch
   * instead of two while the disk keeps up: each ACK is a socket write here
   * and a wake-up on the primary.
   */
  appendBatch(): void {
    const batch = this.#batch;
    if (batch === undefined) return;
    this.#host.appendRecords(batch.payload, batch.startLsn, batch.count);
    const lastLsn = batch.startLsn + batch.count - 1;
    this.#pending.push({ lastLsn, sentAtMs: batch.sentAtMs, bytes: batch.payload.length });
    this.#pendingBytes += batch.payload.length;
    this.#lastEcho = Math.max(this.#lastEcho, batch.sentAtMs);
    this.#ackReceipt();
    if (this.#pendingBytes > this.#host.pendingMaxBytes && !this.#paused) {
      this.#paused = true;
      this.#connection.pause();
    }
  }

  /** Answers a heartbeat with current positions (keeps time lag right at idle). */
  answerHeartbeat(): void {
    this.#ack(this.#lastEcho);
  }

  /** Installs the received snapshot, then reports the new positions. */
  installSnapshot(): void {
    const snap = this.#snapshot;
    this.#snapshot = undefined;
    if (snap === undefined) return;
    this.#installing = true;
    this.#connection.pause();
    this.#host.installSnapshot(snap.bytes, snap.epochHistory).then(
      () => {
        this.#installing = false;
        this.#ack(this.#lastEcho);
        this.#connection.resume();
        this.#drainFrames();
      },
      (err: unknown) => {
        this.#installing = false;
        const e = isReplicationError(err) ? err : new ReplicationError('IoError', String(err));
        this.#actor.send({ type: 'protocol.error', code: e.code, message: `snapshot install failed: ${e.message}` });
      },
    );
  }

  /** Counts a refused frame (metric + node error event). */
  countProtocolError(code: string): void {
    this.#host.countProtocolError(code, this.#lastRefusal ?? code);
  }

  /** The primary's frames carry a higher epoch: the node adopts it. */
  adoptEpoch(epoch: number): void {
    this.#host.adoptEpoch(epoch, this.#hello?.fromId ?? 'unknown');
  }

  /** Sends an ERROR frame (the connection is closed right after). */
  sendError(code: string, message: string): void {
    this.#lastRefusal = message;
    this.#send({ kind: 'error', code, message, epoch: this.#host.localEpoch() });
  }

  /** Called by the node after each durable group: acknowledges flushed and applied positions. */
  onDurable(flushedLsn: number): void {
    let echo = 0;
    while (this.#pending.length > 0 && this.#pending[0]!.lastLsn <= flushedLsn) {
      const done = this.#pending.shift()!;
      this.#pendingBytes -= done.bytes;
      echo = done.sentAtMs;
    }
    if (echo > 0) this.#ack(echo);
    if (this.#paused && this.#pendingBytes <= this.#host.pendingMaxBytes / 2) {
      this.#paused = false;
      this.#connection.resume();
    }
  }

  #ackReceipt(): void {
    const delayMs = this.#host.receiptAckDelayMs;
    if (delayMs <= 0) this.#ack(this.#lastEcho);
    else this.#receiptTimer ??= this.#host.clock.setTimeout(() => {
      this.#receiptTimer = undefined;
      this.#ack(this.#lastEcho);
    }, delayMs);
  }

  /** Every ACK carries the received position: a pending receipt ACK is then due no more. */
  #ack(echoSentAtMs: number): void {
    this.#cancelReceiptAck();
    const p = this.#host.positions();
    this.#send({ kind: 'ack', epoch: this.#host.localEpoch(), receivedLsn: p.receivedLsn, flushedLsn: p.flushedLsn, appliedLsn: p.appliedLsn, echoSentAtMs });
  }

  #cancelReceiptAck(): void {
    if (this.#receiptTimer === undefined) return;
    this.#host.clock.clearTimeout(this.#receiptTimer);
    this.#receiptTimer = undefined;
  }

  /** Closes the connection (after queued frames, e.g. an ERROR, are sent). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#cancelReceiptAck();
    this.#connection.end();
    this.#host.closed(this);
  }

  #onClose(): void {
    if (!this.#closed && this.#reader.bufferedBytes > 0 && !this.#installing) {
      // The peer went away in the middle of a frame: that frame is refused too.
      this.#host.countProtocolError('TruncatedFrame', `connection closed with ${this.#reader.bufferedBytes} bytes of an incomplete frame`);
    }
    if (!this.#closed) {
      this.#closed = true;
      this.#host.closed(this);
    }
    this.#cancelReceiptAck();
    this.#actor.send({ type: 'connection.closed' });
  }
}
