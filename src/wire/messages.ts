/**
 * The replication protocol's messages, typed, and their frame codecs.
 * Control messages (HELLO, HELLO_ACK, SNAPSHOT_BEGIN/END, TRUNCATE, ERROR,
 * VOTE_REQUEST, VOTE, HANDOVER) are msgpack maps checked field by field; the frequent
 * ones (BATCH, ACK, HEARTBEAT, SNAPSHOT_CHUNK) are fixed binary layouts.
 * Machines and actors see these decoded messages, never bytes.
 *
 * @example
 * const frames = encodeMessage({ kind: 'heartbeat', epoch: 2, primaryLsn: 10, sentAtMs: now })
 * const msg = decodeMessage(reader.next()!)
 */
import { ReplicationError } from '../errors.js';
import type { EpochStart } from '../types.js';
import { type Batch, type BatchFields, decodeBatch, encodeBatchHeader } from './batch.js';
import { asObject, epochHistory, str, uint } from './fields.js';
import { FRAME_HEADER_BYTES, type Frame, FrameType, encodeFrame, encodeFrameHeader } from './frame.js';
import { decodePayload, encodePayload } from './payload.js';
import { checkU32, readU64, viewOf, writeU64 } from './u64.js';

/** Protocol version spoken in HELLO. */
export const PROTOCOL_VERSION = 1;

/** Primary → replica: opens a replication session. */
export interface HelloMessage {
  kind: 'hello';
  protocolVersion: number;
  clusterId: string;
  fromId: string;
  toId: string;
  epoch: number;
  lastLsn: number;
  epochHistory: EpochStart[];
}

/** Replica → primary: accepts the session and says where its log ends. */
export interface HelloAckMessage {
  kind: 'helloAck';
  protocolVersion: number;
  clusterId: string;
  nodeId: string;
  epoch: number;
  flushedLsn: number;
  appliedLsn: number;
  lastEpoch: number;
  epochHistory: EpochStart[];
}

/** Primary → replica: a verified batch of whole records. */
export interface BatchMessage {
  kind: 'batch';
  batch: Batch;
}

/** Replica → primary: positions reached, with the echo of the primary's send time. */
export interface AckMessage {
  kind: 'ack';
  epoch: number;
  receivedLsn: number;
  flushedLsn: number;
  appliedLsn: number;
  echoSentAtMs: number;
}

/** Primary → replica: liveness, the primary's log end and its clock. */
export interface HeartbeatMessage {
  kind: 'heartbeat';
  epoch: number;
  primaryLsn: number;
  sentAtMs: number;
}

/** Primary → replica: a projection snapshot at `snapshotLsn` follows in chunks. */
export interface SnapshotBeginMessage {
  kind: 'snapshotBegin';
  epoch: number;
  snapshotLsn: number;
  snapshotEpoch: number;
  totalBytes: number;
  crc: number;
  epochHistory: EpochStart[];
}

/** Primary → replica: `bytes` of the snapshot at `offset`. */
export interface SnapshotChunkMessage {
  kind: 'snapshotChunk';
  offset: number;
  bytes: Uint8Array;
}

/** Primary → replica: the snapshot is complete. */
export interface SnapshotEndMessage {
  kind: 'snapshotEnd';
  epoch: number;
}

/** Primary → replica: drop every record after `afterLsn` (divergent tail). */
export interface TruncateMessage {
  kind: 'truncate';
  epoch: number;
  afterLsn: number;
}

/** Either side: why the connection is about to close. */
export interface ErrorMessage {
  kind: 'error';
  code: string;
  message: string;
  /** The sender's epoch, when it matters (a `StaleEpoch` refusal tells the stale side how far behind it is). */
  epoch?: number;
}

/** Candidate → peer: asks for a vote in `epoch`; with `preVote`, only whether the peer would grant it (nothing is recorded). */
export interface VoteRequestMessage {
  kind: 'voteRequest';
  clusterId: string;
  candidateId: string;
  epoch: number;
  lastEpoch: number;
  lastLsn: number;
  /** Present (true) on a pre-vote request. */
  preVote?: true;
  /** Present (true) for a forced promotion: granted even by a node that hears a live primary or leads (docs/guarantees.md). */
  force?: true;
}

/** Peer → candidate: the answer to a vote request. */
export interface VoteMessage {
  kind: 'vote';
  voterId: string;
  epoch: number;
  granted: boolean;
}

/**
 * Primary → the replica it hands over to: "you hold every record up to
 * `lsn`, and I take no more writes: stand for election now" (a planned
 * switchover; the replica starts a forced election at once).
 */
export interface HandoverMessage {
  kind: 'handover';
  epoch: number;
  lsn: number;
}

/** Every message of the protocol. */
export type WireMessage =
  | HelloMessage
  | HelloAckMessage
  | BatchMessage
  | AckMessage
  | HeartbeatMessage
  | SnapshotBeginMessage
  | SnapshotChunkMessage
  | SnapshotEndMessage
  | TruncateMessage
  | ErrorMessage
  | VoteRequestMessage
  | VoteMessage
  | HandoverMessage;

const ACK_BODY_BYTES = 36;
const HEARTBEAT_BODY_BYTES = 20;
const CHUNK_HEAD_BYTES = 8;

/**
 * Encodes a BATCH frame as two buffers: frame header + batch header, then the
 * payload itself (not copied), ready for one vectored socket write.
 */
export function encodeBatchFrame(fields: BatchFields, payload: Uint8Array): [Uint8Array, Uint8Array] {
  const batchHeader = encodeBatchHeader(fields, payload);
  const head = new Uint8Array(FRAME_HEADER_BYTES + batchHeader.length);
  head.set(encodeFrameHeader(FrameType.Batch, batchHeader.length + payload.length), 0);
  head.set(batchHeader, FRAME_HEADER_BYTES);
  return [head, payload];
}

/** Encodes any message as one or more buffers to write in order. */
export function encodeMessage(msg: Exclude<WireMessage, BatchMessage>): Uint8Array[] {
  switch (msg.kind) {
    case 'ack': {
      const body = new Uint8Array(ACK_BODY_BYTES);
      const v = viewOf(body);
      v.setUint32(0, checkU32(msg.epoch, 'ACK epoch'), true);
      writeU64(v, 4, msg.receivedLsn);
      writeU64(v, 12, msg.flushedLsn);
      writeU64(v, 20, msg.appliedLsn);
      writeU64(v, 28, msg.echoSentAtMs);
      return [encodeFrame(FrameType.Ack, body)];
    }
    case 'heartbeat': {
      const body = new Uint8Array(HEARTBEAT_BODY_BYTES);
      const v = viewOf(body);
      v.setUint32(0, checkU32(msg.epoch, 'HEARTBEAT epoch'), true);
      writeU64(v, 4, msg.primaryLsn);
      writeU64(v, 12, msg.sentAtMs);
      return [encodeFrame(FrameType.Heartbeat, body)];
    }
    case 'snapshotChunk': {
      const head = new Uint8Array(FRAME_HEADER_BYTES + CHUNK_HEAD_BYTES);
      head.set(encodeFrameHeader(FrameType.SnapshotChunk, CHUNK_HEAD_BYTES + msg.bytes.length), 0);
      writeU64(viewOf(head), FRAME_HEADER_BYTES, msg.offset);
      return [head, msg.bytes];
    }
    default: {
      const { kind, ...fields } = msg;
      return [encodeFrame(controlType[kind], encodePayload(fields))];
    }
  }
}

const controlType = {
  hello: FrameType.Hello,
  helloAck: FrameType.HelloAck,
  snapshotBegin: FrameType.SnapshotBegin,
  snapshotEnd: FrameType.SnapshotEnd,
  truncate: FrameType.Truncate,
  error: FrameType.Error,
  voteRequest: FrameType.VoteRequest,
  vote: FrameType.Vote,
  handover: FrameType.Handover,
} as const;

/** Whether optional flag `key` is set: absent is false, `true` is true, anything else is malformed. */
function trueFlag(o: Record<string, unknown>, key: string, what: string): boolean {
  if (o[key] === undefined) return false;
  if (o[key] !== true) throw new ReplicationError('MalformedMessage', `${what}: field '${key}' must be true when present`);
  return true;
}

/**
 * Decodes and validates one frame. Throws a typed `ReplicationError`
 * (`MalformedMessage`, batch errors, ...) for anything that does not check out.
 */
export function decodeMessage(frame: Frame): WireMessage {
  const { body } = frame;
  switch (frame.type) {
    case FrameType.Batch:
      return { kind: 'batch', batch: decodeBatch(body) };
    case FrameType.Ack: {
      fixedSize(body, ACK_BODY_BYTES, 'ACK');
      const v = viewOf(body);
      return {
        kind: 'ack', epoch: v.getUint32(0, true), receivedLsn: readU64(v, 4), flushedLsn: readU64(v, 12),
        appliedLsn: readU64(v, 20), echoSentAtMs: readU64(v, 28),
      };
    }
    case FrameType.Heartbeat: {
      fixedSize(body, HEARTBEAT_BODY_BYTES, 'HEARTBEAT');
      const v = viewOf(body);
      return { kind: 'heartbeat', epoch: v.getUint32(0, true), primaryLsn: readU64(v, 4), sentAtMs: readU64(v, 12) };
    }
    case FrameType.SnapshotChunk: {
      if (body.length < CHUNK_HEAD_BYTES) throw new ReplicationError('TruncatedFrame', 'SNAPSHOT_CHUNK is shorter than its offset field');
      return { kind: 'snapshotChunk', offset: readU64(viewOf(body), 0), bytes: body.subarray(CHUNK_HEAD_BYTES) };
    }
    case FrameType.Hello: {
      const o = asObject(decodePayload(body), 'HELLO');
      return {
        kind: 'hello', protocolVersion: uint(o, 'protocolVersion', 'HELLO'), clusterId: str(o, 'clusterId', 'HELLO'),
        fromId: str(o, 'fromId', 'HELLO'), toId: str(o, 'toId', 'HELLO'), epoch: uint(o, 'epoch', 'HELLO'),
        lastLsn: uint(o, 'lastLsn', 'HELLO'), epochHistory: epochHistory(o, 'epochHistory', 'HELLO'),
      };
    }
    case FrameType.HelloAck: {
      const o = asObject(decodePayload(body), 'HELLO_ACK');
      return {
        kind: 'helloAck', protocolVersion: uint(o, 'protocolVersion', 'HELLO_ACK'), clusterId: str(o, 'clusterId', 'HELLO_ACK'),
        nodeId: str(o, 'nodeId', 'HELLO_ACK'), epoch: uint(o, 'epoch', 'HELLO_ACK'), flushedLsn: uint(o, 'flushedLsn', 'HELLO_ACK'),
        appliedLsn: uint(o, 'appliedLsn', 'HELLO_ACK'), lastEpoch: uint(o, 'lastEpoch', 'HELLO_ACK'),
        epochHistory: epochHistory(o, 'epochHistory', 'HELLO_ACK'),
      };
    }
    case FrameType.SnapshotBegin: {
      const o = asObject(decodePayload(body), 'SNAPSHOT_BEGIN');
      return {
        kind: 'snapshotBegin', epoch: uint(o, 'epoch', 'SNAPSHOT_BEGIN'), snapshotLsn: uint(o, 'snapshotLsn', 'SNAPSHOT_BEGIN'),
        snapshotEpoch: uint(o, 'snapshotEpoch', 'SNAPSHOT_BEGIN'), totalBytes: uint(o, 'totalBytes', 'SNAPSHOT_BEGIN'),
        crc: uint(o, 'crc', 'SNAPSHOT_BEGIN'), epochHistory: epochHistory(o, 'epochHistory', 'SNAPSHOT_BEGIN'),
      };
    }
    case FrameType.SnapshotEnd: {
      const o = asObject(decodePayload(body), 'SNAPSHOT_END');
      return { kind: 'snapshotEnd', epoch: uint(o, 'epoch', 'SNAPSHOT_END') };
    }
    case FrameType.Truncate: {
      const o = asObject(decodePayload(body), 'TRUNCATE');
      return { kind: 'truncate', epoch: uint(o, 'epoch', 'TRUNCATE'), afterLsn: uint(o, 'afterLsn', 'TRUNCATE') };
    }
    case FrameType.Error: {
      const o = asObject(decodePayload(body), 'ERROR');
      const error: ErrorMessage = { kind: 'error', code: str(o, 'code', 'ERROR', 64), message: str(o, 'message', 'ERROR', 4096) };
      if (o['epoch'] !== undefined) error.epoch = uint(o, 'epoch', 'ERROR');
      return error;
    }
    case FrameType.VoteRequest: {
      const o = asObject(decodePayload(body), 'VOTE_REQUEST');
      const request: VoteRequestMessage = {
        kind: 'voteRequest', clusterId: str(o, 'clusterId', 'VOTE_REQUEST'), candidateId: str(o, 'candidateId', 'VOTE_REQUEST'),
        epoch: uint(o, 'epoch', 'VOTE_REQUEST'), lastEpoch: uint(o, 'lastEpoch', 'VOTE_REQUEST'), lastLsn: uint(o, 'lastLsn', 'VOTE_REQUEST'),
      };
      if (trueFlag(o, 'preVote', 'VOTE_REQUEST')) request.preVote = true;
      if (trueFlag(o, 'force', 'VOTE_REQUEST')) request.force = true;
      return request;
    }
    case FrameType.Vote: {
      const o = asObject(decodePayload(body), 'VOTE');
      const granted = o['granted'];
      if (typeof granted !== 'boolean') throw new ReplicationError('MalformedMessage', "VOTE: field 'granted' must be a boolean");
      return { kind: 'vote', voterId: str(o, 'voterId', 'VOTE'), epoch: uint(o, 'epoch', 'VOTE'), granted };
    }
    case FrameType.Handover: {
      const o = asObject(decodePayload(body), 'HANDOVER');
      return { kind: 'handover', epoch: uint(o, 'epoch', 'HANDOVER'), lsn: uint(o, 'lsn', 'HANDOVER') };
    }
    default:
      // only reachable with a hand-made Frame: FrameReader refuses unknown types
      throw new ReplicationError('UnknownFrameType', `unknown frame type ${String((frame as Frame).type)}`);
  }
}

function fixedSize(body: Uint8Array, bytes: number, name: string): void {
  if (body.length !== bytes) {
    throw new ReplicationError(body.length < bytes ? 'TruncatedFrame' : 'MalformedMessage',
      `${name} body has ${body.length} bytes, expected ${bytes}`);
  }
}
