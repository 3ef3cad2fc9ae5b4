/**
 * The memories of one space: an open-addressing hash table (linear probing,
 * backward-shift deletion) from key bytes to {@link Arena} handles, plus the
 * insertion order of the keys. No JS object per memory: the key and the
 * encoded payload live together in the arena as one entry
 * `[key length u16 LE][key UTF-8][payload]`, and the table and the order are
 * `Int32Array`s. Keys are compared as UTF-8 bytes.
 *
 * Order: a key keeps the position of its first insertion while it lives (an
 * overwrite does not move it), like a JS `Map`; this is the order of
 * snapshots and of `memoryIds`, so a restored table iterates as the original.
 *
 * @example
 * const arena = new Arena()
 * const t = new MemoryTable(arena)
 * const n = encodeKey('m1', keyScratch)
 * t.put(keyScratch, n, hashKey(keyScratch, n), encodePayload({ text: 'hi' }))
 * t.find(keyScratch, n, hashKey(keyScratch, n)) // a handle >= 0
 */
import type { Arena } from './arena.js';

/** Bytes in front of the key in an arena entry (the key length). */
export const KEY_PREFIX_BYTES = 2;
const INITIAL_CAPACITY = 8;
const ORDER_COMPACT_MIN_HOLES = 16;

/**
 * Writes `key` as UTF-8 into `scratch` and returns the byte count, or -1 when
 * it does not fit in `scratch` (ASCII keys take a byte loop, others `TextEncoder`).
 *
 * @example
 * const scratch = new Uint8Array(1028); encodeKey('m1', scratch) // 2
 */
export function encodeKey(key: string, scratch: Uint8Array): number {
  const n = key.length;
  if (n <= scratch.length) {
    let i = 0;
    for (; i < n; i++) {
      const c = key.charCodeAt(i);
      if (c >= 0x80) break;
      scratch[i] = c;
    }
    if (i === n) return n;
  }
  const r = utf8.encodeInto(key, scratch);
  return r.read === n ? r.written : -1;
}

const utf8 = new TextEncoder();

/**
 * FNV-1a over `bytes[0, length)` with a murmur3 finaliser (so the low bits
 * that index the table are well mixed).
 *
 * @example
 * hashKey(new TextEncoder().encode('m1'), 2) // a 32-bit integer
 */
export function hashKey(bytes: Uint8Array, length: number, from = 0): number {
  let h = 0x811c9dc5;
  for (let i = from; i < from + length; i++) {
    h = Math.imul(h ^ bytes[i]!, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) | 0;
}

/**
 * Key bytes -> arena handle for one space, in insertion order.
 *
 * @example
 * const t = new MemoryTable(new Arena()); t.size // 0
 */
export class MemoryTable {
  readonly #arena: Arena;
  #slots: Int32Array = new Int32Array(INITIAL_CAPACITY); // handle + 1; 0 = empty
  #hashes: Int32Array = new Int32Array(INITIAL_CAPACITY);
  #size = 0;
  #order: Int32Array = new Int32Array(INITIAL_CAPACITY); // handles; -1 = deleted
  #orderLength = 0;
  #holes = 0;

  constructor(arena: Arena) {
    this.#arena = arena;
  }

  /** Keys held. */
  get size(): number {
    return this.#size;
  }

  /** The handle of the key `key[from, from + length)`, or -1. */
  find(key: Uint8Array, length: number, hash: number, from = 0): number {
    const v = this.#slots[this.#probe(key, length, hash, from)]!;
    return v - 1;
  }

  /**
   * Stores `payload` under the key `key[from, from + length)` (copying both
   * into the arena); returns true when the key is new, false on an overwrite.
   */
  put(key: Uint8Array, length: number, hash: number, payload: Uint8Array, from = 0): boolean {
    const i = this.#probe(key, length, hash, from);
    const existing = this.#slots[i]! - 1;
    const entryBytes = KEY_PREFIX_BYTES + length + payload.length;
    if (existing >= 0) {
      this.#arena.realloc(existing, entryBytes);
      this.#write(existing, key, from, length, payload);
      return false;
    }
    const handle = this.#arena.alloc(entryBytes);
    this.#write(handle, key, from, length, payload);
    this.#slots[i] = handle + 1;
    this.#hashes[i] = hash;
    this.#size++;
    this.#append(handle);
    if (this.#size * 2 > this.#slots.length) this.#rehash(this.#slots.length * 2);
    return true;
  }

  /** Removes the key and frees its arena entry; false when it was absent. */
  delete(key: Uint8Array, length: number, hash: number, from = 0): boolean {
    const i = this.#probe(key, length, hash, from);
    const handle = this.#slots[i]! - 1;
    if (handle < 0) return false;
    this.#removeSlot(i);
    this.#size--;
    this.#order[this.#arena.tag[handle]!] = -1;
    this.#holes++;
    this.#arena.free(handle);
    if (this.#holes >= ORDER_COMPACT_MIN_HOLES && this.#holes * 2 > this.#orderLength) this.#compactOrder();
    if (this.#slots.length > INITIAL_CAPACITY && this.#size * 8 < this.#slots.length) this.#rehash(this.#slots.length / 2);
    return true;
  }

  /** Sizes the table and the order list for `count` keys in all (restore knows the count up front). */
  reserve(count: number): void {
    let capacity = this.#slots.length;
    while (capacity < count * 2) capacity *= 2;
    if (capacity > this.#slots.length) this.#rehash(capacity);
    if (count > this.#order.length) {
      const next = new Int32Array(count);
      next.set(this.#order.subarray(0, this.#orderLength));
      this.#order = next;
    }
  }

  /** Frees every entry (the table is empty afterwards). */
  clear(): void {
    for (let i = 0; i < this.#orderLength; i++) {
      const h = this.#order[i]!;
      if (h >= 0) this.#arena.free(h);
    }
    this.#slots = new Int32Array(INITIAL_CAPACITY);
    this.#hashes = new Int32Array(INITIAL_CAPACITY);
    this.#order = new Int32Array(INITIAL_CAPACITY);
    this.#size = this.#orderLength = this.#holes = 0;
  }

  /** Length of the order list (live handles and holes); read it with {@link handleAt}. */
  get orderLength(): number {
    return this.#orderLength;
  }

  /** The handle at position `i` of the order list, or -1 for a deleted key. */
  handleAt(i: number): number {
    return this.#order[i]!;
  }

  /** Slot of the key, or the empty slot where it would go. */
  #probe(key: Uint8Array, length: number, hash: number, from: number): number {
    const slots = this.#slots;
    const hashes = this.#hashes;
    const mask = slots.length - 1;
    let i = hash & mask;
    for (;;) {
      const v = slots[i]!;
      if (v === 0 || (hashes[i] === hash && this.#keyEquals(v - 1, key, length, from))) return i;
      i = (i + 1) & mask;
    }
  }

  #keyEquals(handle: number, key: Uint8Array, length: number, from: number): boolean {
    const chunk = this.#arena.chunk(handle);
    const o = this.#arena.offset(handle);
    if ((chunk[o]! | (chunk[o + 1]! << 8)) !== length) return false;
    const start = o + KEY_PREFIX_BYTES;
    for (let i = 0; i < length; i++) {
      if (chunk[start + i] !== key[from + i]) return false;
    }
    return true;
  }

  #write(handle: number, key: Uint8Array, from: number, length: number, payload: Uint8Array): void {
    const chunk = this.#arena.chunk(handle);
    const o = this.#arena.offset(handle);
    chunk[o] = length;
    chunk[o + 1] = length >>> 8;
    const start = o + KEY_PREFIX_BYTES;
    for (let i = 0; i < length; i++) chunk[start + i] = key[from + i]!;
    chunk.set(payload, start + length);
  }

  /** Backward-shift deletion: no tombstones, probe chains stay short. */
  #removeSlot(hole: number): void {
    const slots = this.#slots;
    const hashes = this.#hashes;
    const mask = slots.length - 1;
    let i = hole;
    let j = hole;
    slots[i] = 0;
    for (;;) {
      j = (j + 1) & mask;
      const v = slots[j]!;
      if (v === 0) return;
      const home = hashes[j]! & mask;
      // The entry at j may move back to i unless its home lies cyclically in (i, j].
      const stays = i <= j ? i < home && home <= j : i < home || home <= j;
      if (stays) continue;
      slots[i] = v;
      hashes[i] = hashes[j]!;
      slots[j] = 0;
      i = j;
    }
  }

  #rehash(capacity: number): void {
    const oldSlots = this.#slots;
    const oldHashes = this.#hashes;
    const slots = new Int32Array(capacity);
    const hashes = new Int32Array(capacity);
    const mask = capacity - 1;
    for (let k = 0; k < oldSlots.length; k++) {
      const v = oldSlots[k]!;
      if (v === 0) continue;
      const h = oldHashes[k]!;
      let i = h & mask;
      while (slots[i] !== 0) i = (i + 1) & mask;
      slots[i] = v;
      hashes[i] = h;
    }
    this.#slots = slots;
    this.#hashes = hashes;
  }

  #append(handle: number): void {
    if (this.#orderLength === this.#order.length) {
      const next = new Int32Array(this.#order.length * 2);
      next.set(this.#order);
      this.#order = next;
    }
    this.#arena.tag[handle] = this.#orderLength;
    this.#order[this.#orderLength++] = handle;
  }

  #compactOrder(): void {
    const order = this.#order;
    const tag = this.#arena.tag;
    let n = 0;
    for (let i = 0; i < this.#orderLength; i++) {
      const h = order[i]!;
      if (h < 0) continue;
      order[n] = h;
      tag[h] = n++;
    }
    this.#orderLength = n;
    this.#holes = 0;
    if (order.length > INITIAL_CAPACITY && n * 4 < order.length) {
      this.#order = order.slice(0, Math.max(INITIAL_CAPACITY, n * 2));
    }
  }
}
