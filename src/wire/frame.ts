/**
 * Frames on a replication connection: a u32 little-endian length (of what
 * follows), a type byte, then the body. Every frame is bounded by a hard size
 * limit checked before the body is read.
 *
 * @example
 * const [head, body] = encodeFrame(FrameType.Heartbeat, heartbeatBody)
 * socket.write(head); socket.write(body)
 */
import { ReplicationError } from '../errors.js';

/** Frame type bytes. */
export const FrameType = {
  Hello: 1,
  HelloAck: 2,
  Batch: 3,
  Ack: 4,
  Heartbeat: 5,
  SnapshotBegin: 6,
  SnapshotChunk: 7,
  SnapshotEnd: 8,
  Truncate: 9,
  Error: 10,
  VoteRequest: 11,
  Vote: 12,
  Handover: 13,
} as const;

/** A frame type byte. */
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

const knownTypes = new Set<number>(Object.values(FrameType));

/** Bytes before a frame's body: u32 length + type byte. */
export const FRAME_HEADER_BYTES = 5;
/** Default hard limit on a frame (type byte + body). */
export const FRAME_MAX_BYTES_DEFAULT = 64 * 1024 * 1024 + 4096;

/** One whole frame; `body` may be a view into a larger buffer. */
export interface Frame {
  type: FrameType;
  body: Uint8Array;
}

/** True when `type` is a frame type this version knows. */
export function isFrameType(type: number): type is FrameType {
  return knownTypes.has(type);
}

/** Encodes the 5-byte frame header for a body of `bodyBytes` bytes. */
export function encodeFrameHeader(type: FrameType, bodyBytes: number, maxFrameBytes = FRAME_MAX_BYTES_DEFAULT): Uint8Array {
  if (bodyBytes + 1 > maxFrameBytes) {
    throw new ReplicationError('FrameTooLarge', `frame of ${bodyBytes + 1} bytes exceeds the limit of ${maxFrameBytes}`);
  }
  const head = new Uint8Array(FRAME_HEADER_BYTES);
  new DataView(head.buffer).setUint32(0, bodyBytes + 1, true);
  head[4] = type;
  return head;
}

/** Encodes a frame as one buffer (header + body copied together). */
export function encodeFrame(type: FrameType, body: Uint8Array, maxFrameBytes = FRAME_MAX_BYTES_DEFAULT): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER_BYTES + body.length);
  out.set(encodeFrameHeader(type, body.length, maxFrameBytes), 0);
  out.set(body, FRAME_HEADER_BYTES);
  return out;
}
