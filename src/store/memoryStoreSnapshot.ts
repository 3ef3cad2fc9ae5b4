/**
 * The memory store snapshot, format version 1, inside the checksummed
 * envelope of `snapshotFrame.ts` (magic `EGMS`). Payloads are copied raw:
 * nothing is decoded or re-encoded, and writing makes no object per memory
 * (a sizing pass, then one buffer of the exact size). All integers are
 * little-endian; strings are UTF-8.
 *
 * ```
 * body    = u32 spaceCount, space*
 * space   = u8 nameLength (1..255), name,
 *           u32 memoryCount, memory*, u32 linkCount, link*
 * memory  = u16 keyLength (1..1024), key, u32 payloadLength, payload
 * link    = u16 fromLength, from, u16 toLength, to, u32 payloadLength, payload
 * ```
 *
 * Spaces, memories (per space) and links (per source, per space) appear in
 * the store's iteration order, and restoring rebuilds that order, so
 * `snapshot(restore(s))` equals `s` byte for byte. Reading refuses with
 * `Corruption` anything the writer never produces: an envelope that fails
 * its checks, a field running past the end, trailing bytes, an empty space,
 * an empty or over-long key, a repeated space, key or link, invalid UTF-8.
 *
 * @example
 * const bytes = writeMemoryStoreSnapshot(state)
 * const copy = readMemoryStoreSnapshot(bytes, { arenaOptions: {}, spaces: new Map() })
 */
import { viewOf } from '../wire/u64.js';
import { KEY_MAX_BYTES, SPACE_MAX_BYTES } from '../wire/record.js';
import { KEY_PREFIX_BYTES, hashKey } from './memoryTable.js';
import { SNAPSHOT_HEADER_BYTES, beginSnapshot, corrupt, openSnapshot, sealSnapshot } from './snapshotFrame.js';
import { type StoreState, newSpace, putLink } from './spaceState.js';

const MAGIC = 'EGMS';
const VERSION = 1;
const WHAT = 'memory store snapshot';
const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Writes `state` as snapshot bytes.
 *
 * @example
 * writeMemoryStoreSnapshot({ arenaOptions: {}, spaces: new Map() }).length // 24: envelope + u32 0
 */
export function writeMemoryStoreSnapshot(state: StoreState): Uint8Array {
  const { spaces } = state;
  const names: Uint8Array[] = [];
  let size = 4;
  for (const [name, space] of spaces) {
    const encoded = utf8.encode(name);
    names.push(encoded);
    size += 1 + encoded.length + 4 + 4;
    const { memories: table, arena } = space;
    for (let i = 0; i < table.orderLength; i++) {
      const h = table.handleAt(i);
      if (h >= 0) size += arena.length(h) + 4; // entry [u16][key][payload] + u32 payload length
    }
    for (const [from, targets] of space.out) {
      const fromBytes = utf8Length(from);
      for (const [to, h] of targets) size += 2 + fromBytes + 2 + utf8Length(to) + 4 + arena.length(h);
    }
  }

  const out = beginSnapshot(MAGIC, VERSION, size);
  const view = viewOf(out);
  let at = SNAPSHOT_HEADER_BYTES;
  view.setUint32(at, spaces.size, true);
  at += 4;
  let s = 0;
  for (const space of spaces.values()) {
    const name = names[s++]!;
    out[at++] = name.length;
    out.set(name, at);
    at += name.length;
    const { memories: table, arena } = space;
    view.setUint32(at, table.size, true);
    at += 4;
    for (let i = 0; i < table.orderLength; i++) {
      const h = table.handleAt(i);
      if (h < 0) continue;
      const chunk = arena.chunk(h);
      const o = arena.offset(h);
      const keyBytes = chunk[o]! | (chunk[o + 1]! << 8);
      const head = KEY_PREFIX_BYTES + keyBytes;
      for (let k = 0; k < head; k++) out[at + k] = chunk[o + k]!;
      at += head;
      const payloadBytes = arena.length(h) - head;
      view.setUint32(at, payloadBytes, true);
      at += 4;
      out.set(chunk.subarray(o + head, o + head + payloadBytes), at);
      at += payloadBytes;
    }
    view.setUint32(at, space.edges, true);
    at += 4;
    for (const [from, targets] of space.out) {
      for (const [to, h] of targets) {
        at = writeString(out, view, at, from);
        at = writeString(out, view, at, to);
        const payload = arena.view(h);
        view.setUint32(at, payload.length, true);
        out.set(payload, at + 4);
        at += 4 + payload.length;
      }
    }
  }
  if (at !== out.length - 4) throw new Error(`memory store snapshot sized ${out.length - 4} bytes but wrote ${at}`);
  return sealSnapshot(out);
}

/**
 * Reads snapshot bytes into `fresh` (an empty state) and returns it; throws
 * `Corruption` on anything the writer would not have written.
 *
 * @example
 * const state = readMemoryStoreSnapshot(bytes, { arenaOptions: {}, spaces: new Map() })
 */
export function readMemoryStoreSnapshot(bytes: Uint8Array, fresh: StoreState): StoreState {
  const body = openSnapshot(bytes, MAGIC, VERSION, WHAT);
  const r = new Reader(body);
  const { arenaOptions, spaces } = fresh;
  const spaceCount = r.u32('space count');
  for (let s = 0; s < spaceCount; s++) {
    const nameBytes = r.u8('space name length');
    if (nameBytes < 1 || nameBytes > SPACE_MAX_BYTES) throw r.bad(`space name length ${nameBytes}`);
    const name = r.string(nameBytes, 'space name');
    if (spaces.has(name)) throw r.bad(`repeated space "${name}"`);
    const space = newSpace(arenaOptions);
    const arena = space.arena;
    spaces.set(name, space);
    const memories = r.u32('memory count');
    // each memory takes at least 7 bytes: refuse an impossible count before sizing tables for it
    if (memories * 7 > body.length - r.at) throw r.bad(`memory count ${memories} in space "${name}" exceeds what the bytes can hold`);
    space.memories.reserve(memories);
    arena.reserveHandles(memories);
    for (let m = 0; m < memories; m++) {
      const keyBytes = r.u16('key length');
      if (keyBytes < 1 || keyBytes > KEY_MAX_BYTES) throw r.bad(`key length ${keyBytes} in space "${name}"`);
      const keyAt = r.take(keyBytes, 'key');
      r.checkUtf8(keyAt, keyBytes, 'key');
      const payloadBytes = r.u32('payload length');
      const payloadAt = r.take(payloadBytes, 'payload');
      const payload = body.subarray(payloadAt, payloadAt + payloadBytes);
      if (!space.memories.put(body, keyBytes, hashKey(body, keyBytes, keyAt), payload, keyAt)) {
        throw r.bad(`repeated key in space "${name}"`);
      }
    }
    const links = r.u32('link count');
    for (let l = 0; l < links; l++) {
      const from = r.string(r.u16('link source length'), 'link source');
      const to = r.string(r.u16('link target length'), 'link target');
      if (from.length === 0 || to.length === 0 || from.includes('\u0000')) throw r.bad(`link "${from}" -> "${to}" in space "${name}"`);
      if (utf8Length(from) + 1 + utf8Length(to) > KEY_MAX_BYTES) throw r.bad(`over-long link key in space "${name}"`);
      const payloadBytes = r.u32('link payload length');
      const payloadAt = r.take(payloadBytes, 'link payload');
      if (!putLink(space, from, to, body.subarray(payloadAt, payloadAt + payloadBytes))) {
        throw r.bad(`repeated link "${from}" -> "${to}" in space "${name}"`);
      }
    }
    if (memories === 0 && links === 0) throw r.bad(`empty space "${name}"`);
    arena.settle();
  }
  if (r.at !== body.length) throw r.bad(`${body.length - r.at} bytes after the last space`);
  return fresh;
}

/** Bounds-checked little-endian reader over a snapshot body. */
class Reader {
  at = 0;
  readonly #bytes: Uint8Array;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }

  bad(what: string): Error {
    return corrupt(`${WHAT} is malformed at body offset ${this.at}: ${what}`);
  }

  /** Skips `n` bytes and returns where they start. */
  take(n: number, what: string): number {
    const start = this.at;
    if (n > this.#bytes.length - start) throw this.bad(`${what} of ${n} bytes runs past the end`);
    this.at = start + n;
    return start;
  }

  u8(what: string): number {
    return this.#bytes[this.take(1, what)]!;
  }

  u16(what: string): number {
    const o = this.take(2, what);
    return this.#bytes[o]! | (this.#bytes[o + 1]! << 8);
  }

  u32(what: string): number {
    const b = this.#bytes;
    const o = this.take(4, what);
    return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
  }

  string(n: number, what: string): string {
    const o = this.take(n, what);
    try {
      return utf8Decoder.decode(this.#bytes.subarray(o, o + n));
    } catch (cause) {
      throw corrupt(`${WHAT} holds a ${what} that is not valid UTF-8`, cause);
    }
  }

  /** Valid UTF-8 without making a string when the bytes are ASCII. */
  checkUtf8(o: number, n: number, what: string): void {
    const b = this.#bytes;
    for (let i = o; i < o + n; i++) {
      if (b[i]! >= 0x80) {
        this.at = o;
        this.string(n, what);
        return;
      }
    }
  }
}

/** UTF-8 byte length of `s` as `TextEncoder` writes it (a lone surrogate becomes 3-byte U+FFFD). */
function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

function writeString(out: Uint8Array, view: DataView, at: number, s: string): number {
  const written = utf8.encodeInto(s, out.subarray(at + 2)).written;
  view.setUint16(at, written, true);
  return at + 2 + written;
}
