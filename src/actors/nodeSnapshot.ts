/**
 * A node snapshot: the projection and space ledger at an applied LSN, with
 * the epoch history, as one checksummed blob. The same bytes are written to
 * `snapshot.bin` (atomically) and sent in SNAPSHOT chunks.
 *
 * Layout: `EGSN` magic, u8 version, 3 zero bytes, u32 CRC32C of the body,
 * then the msgpack body `{ lsn, epoch, epochHistory, ledger, projection }`.
 *
 * @example
 * const bytes = encodeNodeSnapshot({ lsn, epoch, epochHistory, ledger: ledger.snapshot(), projection: store.snapshot() })
 */
import { ReplicationError } from '../errors.js';
import type { EpochStart } from '../types.js';
import { crc32c } from '../wire/checksum.js';
import { decodePayload, encodePayload } from '../wire/payload.js';
import { viewOf } from '../wire/u64.js';

/** The parts of a node snapshot. */
export interface NodeSnapshot {
  /** Last LSN folded into the state. */
  lsn: number;
  /** Epoch of the record at `lsn` (0 when lsn is 0). */
  epoch: number;
  epochHistory: EpochStart[];
  ledger: Uint8Array;
  projection: Uint8Array;
}

const MAGIC = 0x4e534745; // 'EGSN' little-endian
const HEADER_BYTES = 12;

/** Encodes a node snapshot. */
export function encodeNodeSnapshot(snapshot: NodeSnapshot): Uint8Array {
  const body = encodePayload(snapshot);
  const out = new Uint8Array(HEADER_BYTES + body.length);
  const view = viewOf(out);
  view.setUint32(0, MAGIC, true);
  out[4] = 1;
  out.set(body, HEADER_BYTES);
  view.setUint32(8, crc32c(out.subarray(HEADER_BYTES)), true);
  return out;
}

/** Decodes and verifies a node snapshot; `Corruption` on anything wrong. */
export function decodeNodeSnapshot(bytes: Uint8Array): NodeSnapshot {
  const corrupt = (why: string) => new ReplicationError('Corruption', `node snapshot ${why}`);
  if (bytes.length < HEADER_BYTES) throw corrupt('is truncated');
  const view = viewOf(bytes);
  if (view.getUint32(0, true) !== MAGIC || bytes[4] !== 1) throw corrupt('has a bad magic or version');
  if (crc32c(bytes.subarray(HEADER_BYTES)) !== view.getUint32(8, true)) throw corrupt('fails its checksum');
  const body = decodePayload(bytes.subarray(HEADER_BYTES)) as Partial<NodeSnapshot> | null;
  if (body === null || typeof body !== 'object' || !Number.isSafeInteger(body.lsn) || !Number.isSafeInteger(body.epoch) ||
      !Array.isArray(body.epochHistory) || !(body.ledger instanceof Uint8Array) || !(body.projection instanceof Uint8Array)) {
    throw corrupt('has a malformed body');
  }
  return body as NodeSnapshot;
}
