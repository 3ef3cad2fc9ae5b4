/**
 * The envelope of every projection snapshot: a fixed 16-byte header and a
 * CRC32C trailer around the projection's own bytes, so that a flipped byte or
 * a cut-off snapshot is refused as `Corruption` instead of restoring a
 * silently different state.
 *
 * | offset   | size | field                                          |
 * | -------- | ---- | ---------------------------------------------- |
 * | 0        | 4    | magic (four ASCII bytes naming the projection) |
 * | 4        | 1    | format version                                 |
 * | 5        | 3    | reserved, zero                                 |
 * | 8        | 8    | total length of the snapshot in bytes (u64 LE) |
 * | 16       | ...  | body                                           |
 * | length-4 | 4    | CRC32C over bytes [0, length - 4)              |
 *
 * @example
 * const out = beginSnapshot('EGRS', 1, body.length)
 * out.set(body, SNAPSHOT_HEADER_BYTES)
 * sealSnapshot(out)
 * openSnapshot(out, 'EGRS', 1, 'reducer snapshot') // a view of `body`
 */
import { ReplicationError } from '../errors.js';
import { crc32c } from '../wire/checksum.js';
import { readU64, viewOf, writeU64 } from '../wire/u64.js';

/** Bytes before the body. */
export const SNAPSHOT_HEADER_BYTES = 16;
/** Bytes after the body (the CRC32C). */
export const SNAPSHOT_TRAILER_BYTES = 4;

/**
 * A zeroed buffer for a snapshot with a `bodyBytes`-byte body, header filled in.
 * Write the body at {@link SNAPSHOT_HEADER_BYTES}, then call {@link sealSnapshot}.
 *
 * @example
 * const out = beginSnapshot('EGMS', 1, 0); sealSnapshot(out) // an empty body
 */
export function beginSnapshot(magic: string, version: number, bodyBytes: number): Uint8Array {
  const out = new Uint8Array(SNAPSHOT_HEADER_BYTES + bodyBytes + SNAPSHOT_TRAILER_BYTES);
  for (let i = 0; i < 4; i++) out[i] = magic.charCodeAt(i) & 0x7f;
  out[4] = version;
  writeU64(viewOf(out), 8, out.length);
  return out;
}

/**
 * Writes the CRC32C trailer of a snapshot made by {@link beginSnapshot} and returns it.
 *
 * @example
 * const bytes = sealSnapshot(out)
 */
export function sealSnapshot(out: Uint8Array): Uint8Array {
  const end = out.length - SNAPSHOT_TRAILER_BYTES;
  viewOf(out).setUint32(end, crc32c(out.subarray(0, end)), true);
  return out;
}

/**
 * Checks magic, version, reserved bytes, length and CRC of a snapshot and
 * returns a view of its body. Throws `Corruption` (naming `what`) otherwise.
 *
 * @example
 * const body = openSnapshot(bytes, 'EGMS', 1, 'memory store snapshot')
 */
export function openSnapshot(bytes: Uint8Array, magic: string, version: number, what: string): Uint8Array {
  const minimum = SNAPSHOT_HEADER_BYTES + SNAPSHOT_TRAILER_BYTES;
  if (bytes.length < minimum) {
    throw corrupt(`${what} is ${bytes.length} bytes, shorter than its ${minimum}-byte envelope`);
  }
  for (let i = 0; i < 4; i++) {
    if (bytes[i] !== (magic.charCodeAt(i) & 0x7f)) throw corrupt(`${what} does not start with magic '${magic}'`);
  }
  if (bytes[4] !== version) throw corrupt(`${what} has format version ${bytes[4]}, expected ${version}`);
  if (bytes[5] !== 0 || bytes[6] !== 0 || bytes[7] !== 0) throw corrupt(`${what} has non-zero reserved header bytes`);
  const view = viewOf(bytes);
  let length: number;
  try {
    length = readU64(view, 8);
  } catch {
    length = -1;
  }
  if (length !== bytes.length) {
    throw corrupt(`${what} says it is ${length} bytes long but ${bytes.length} bytes were given (truncated or padded)`);
  }
  const end = bytes.length - SNAPSHOT_TRAILER_BYTES;
  const expected = view.getUint32(end, true);
  const actual = crc32c(bytes.subarray(0, end));
  if (actual !== expected) {
    throw corrupt(`${what} fails its CRC32C check (stored ${hex(expected)}, computed ${hex(actual)})`);
  }
  return bytes.subarray(SNAPSHOT_HEADER_BYTES, end);
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}

/**
 * A `Corruption` error about snapshot bytes.
 *
 * @example
 * throw corrupt('memory store snapshot repeats key "m1" in space "notes"')
 */
export function corrupt(message: string, cause?: unknown): ReplicationError {
  return new ReplicationError('Corruption', message, {
    suggestion: 'take a fresh snapshot from a healthy node (or rebuild the projection from the log)',
    ...(cause === undefined ? {} : { cause }),
  });
}
