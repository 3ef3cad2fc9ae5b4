/**
 * Little-endian u64 fields as safe-integer JS numbers. Reading a value above
 * 2^53 - 1 throws `LsnOverflow`; so does writing one, or a negative or
 * fractional number.
 */
import { ReplicationError } from '../errors.js';
import { MAX_SAFE_U64 } from '../types.js';

const TWO_32 = 0x1_0000_0000;

/** Reads a u64 at `offset` as a number. */
export function readU64(view: DataView, offset: number): number {
  const lo = view.getUint32(offset, true);
  const hi = view.getUint32(offset + 4, true);
  if (hi > 0x1f_ffff) {
    throw new ReplicationError('LsnOverflow', `u64 field at offset ${offset} exceeds 2^53 - 1`);
  }
  return hi * TWO_32 + lo;
}

/** Writes `value` (a safe non-negative integer) as a u64 at `offset`. */
export function writeU64(view: DataView, offset: number, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0 || value > MAX_SAFE_U64) {
    throw new ReplicationError('LsnOverflow', `${value} is not a u64 the library can carry (0..2^53-1)`);
  }
  view.setUint32(offset, value % TWO_32, true);
  view.setUint32(offset + 4, Math.floor(value / TWO_32), true);
}

/** A DataView over exactly the bytes of `bytes`. */
export function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Returns `value` when it is an integer in 0..2^32-1; throws `LsnOverflow` naming `field` otherwise. */
export function checkU32(value: number, field: string): number {
  if (value >>> 0 !== value) {
    throw new ReplicationError('LsnOverflow', `${field} ${value} is not a u32 (0..2^32-1)`);
  }
  return value;
}
