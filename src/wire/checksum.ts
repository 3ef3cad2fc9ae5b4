/**
 * CRC32C (Castagnoli), from the native, SIMD-accelerated `@node-rs/crc32`.
 * `initial` chains a checksum across several ranges.
 *
 * @example
 * const crc = crc32c(payload, crc32c(header.subarray(0, 48)))
 */
import { crc32c as nativeCrc32c } from '@node-rs/crc32';

/** CRC32C of `bytes`, continuing from `initial` (0 to start). */
export function crc32c(bytes: Uint8Array, initial = 0): number {
  return nativeCrc32c(bytes as Buffer, initial) >>> 0;
}
