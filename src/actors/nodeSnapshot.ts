/**
 * A node snapshot: the projection and space ledger at an applied LSN, with
 * the epoch history, as one checksummed blob. The same bytes are written to
 * `snapshot.bin` (atomically) and sent in SNAPSHOT chunks.
 *
 * Layout (little-endian): `EGSN` magic, u8 version (2), 3 zero bytes, u32
 * CRC32C of everything after the 12-byte header, u32 length of a small
 * msgpack map `{ lsn, epoch, epochHistory, ledgerBytes }`, the map, the
 * ledger bytes, then the projection bytes as they are (not re-encoded: a
 * large projection never passes through msgpackr, whose shared buffer would
 * otherwise keep a snapshot-sized allocation alive).
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
const VERSION = 2;
const HEADER_BYTES = 12;

/** Encodes a node snapshot. */
export function encodeNodeSnapshot(snapshot: NodeSnapshot): Uint8Array {
  const meta = encodePayload({ lsn: snapshot.lsn, epoch: snapshot.epoch, epochHistory: snapshot.epochHistory, ledgerBytes: snapshot.ledger.length });
  const out = new Uint8Array(HEADER_BYTES + 4 + meta.length + snapshot.ledger.length + snapshot.projection.length);
  const view = viewOf(out);
  view.setUint32(0, MAGIC, true);
  out[4] = VERSION;
  view.setUint32(HEADER_BYTES, meta.length, true);
  let at = HEADER_BYTES + 4;
  out.set(meta, at);
  out.set(snapshot.ledger, (at += meta.length));
  out.set(snapshot.projection, at + snapshot.ledger.length);
  view.setUint32(8, crc32c(out.subarray(HEADER_BYTES)), true);
  return out;
}

/** Decodes and verifies a node snapshot; `Corruption` on anything wrong. Ledger and projection are views. */
export function decodeNodeSnapshot(bytes: Uint8Array): NodeSnapshot {
  const corrupt = (why: string) => new ReplicationError('Corruption', `node snapshot ${why}`);
  if (bytes.length < HEADER_BYTES + 4) throw corrupt('is truncated');
  const view = viewOf(bytes);
  if (view.getUint32(0, true) !== MAGIC || bytes[4] !== VERSION) throw corrupt('has a bad magic or version');
  if (crc32c(bytes.subarray(HEADER_BYTES)) !== view.getUint32(8, true)) throw corrupt('fails its checksum');
  const metaLength = view.getUint32(HEADER_BYTES, true);
  const metaStart = HEADER_BYTES + 4;
  if (metaStart + metaLength > bytes.length) throw corrupt('has a truncated header map');
  const meta = decodePayload(bytes.subarray(metaStart, metaStart + metaLength)) as Record<string, unknown> | null;
  const ledgerStart = metaStart + metaLength;
  const ledgerBytes = meta?.['ledgerBytes'];
  if (meta === null || typeof meta !== 'object' || !Number.isSafeInteger(meta['lsn']) || !Number.isSafeInteger(meta['epoch']) ||
      !Array.isArray(meta['epochHistory']) || typeof ledgerBytes !== 'number' || ledgerStart + ledgerBytes > bytes.length) {
    throw corrupt('has a malformed header map');
  }
  return {
    lsn: meta['lsn'] as number,
    epoch: meta['epoch'] as number,
    epochHistory: meta['epochHistory'] as NodeSnapshot['epochHistory'],
    ledger: bytes.subarray(ledgerStart, ledgerStart + ledgerBytes),
    projection: bytes.subarray(ledgerStart + ledgerBytes),
  };
}
