/**
 * Space names decoded from record bytes, remembered by their bytes: records
 * of a few dozen spaces interleave (one write per space per group is common),
 * and decoding each record's space afresh would cost a copy and a string per
 * record. A direct-mapped table (a hash of the bytes picks the slot; a miss
 * decodes and takes the slot over), so many spaces cost no more than before.
 *
 * @example
 * const names = new SpaceNames()
 * names.decode(bytes, 40, 45) // 'notes', decoded once, then found by its bytes
 */
import { hashKey } from '../store/memoryTable.js';

const SLOTS = 256; // a power of two
const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });

export class SpaceNames {
  readonly #bytes: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(SLOTS);
  readonly #names: string[] = new Array<string>(SLOTS).fill('');

  /** The space name held in `bytes[start, end)` (UTF-8). */
  decode(bytes: Uint8Array, start: number, end: number): string {
    const slot = hashKey(bytes, end - start, start) & (SLOTS - 1);
    const known = this.#bytes[slot];
    if (known !== undefined && known.length === end - start) {
      let i = 0;
      while (i < known.length && known[i] === bytes[start + i]) i++;
      if (i === known.length) return this.#names[slot]!;
    }
    const copy = bytes.slice(start, end);
    const name = utf8.decode(copy);
    this.#bytes[slot] = copy;
    this.#names[slot] = name;
    return name;
  }
}
