/**
 * The default projection: named spaces holding memories (id -> encoded
 * memory) and weighted links between them.
 *
 * | record kind  | key            | effect                                               |
 * | ------------ | -------------- | ---------------------------------------------------- |
 * | `Put`        | memory id      | stores (or replaces) the payload bytes under the id  |
 * | `Delete`     | memory id      | removes the memory and every link from or to it      |
 * | `Link`       | `from\0to`     | stores (or replaces) the link; payload `{from, to, weight?}` |
 * | `EpochStart` | —              | ignored                                              |
 * | `Entry`, other kinds | —      | ignored (host entries belong to a host reducer)       |
 *
 * The node writes a link with the key `${from}\u0000${to}` (so ids must not
 * contain U+0000), which lets `apply` index it without decoding the payload.
 *
 * Memory layout (DESIGN §1: a `Map` of ~1M decoded objects cost GC pauses up
 * to 310 ms): `apply` never decodes msgpack. Each memory is one entry
 * `[key length][key][payload]` packed into the chunks of its space's
 * {@link Arena} (4 KiB growing to 1 MiB), found through the space's
 * {@link MemoryTable} of typed arrays, so a million memories are a few
 * hundred long-lived objects, not millions (see bench/store.bench.ts for the
 * GC figures). `read` decodes on demand (the value never aliases the arena).
 * Links stay in JS maps (`from -> to -> arena handle` plus a reverse index
 * for deletes): they are fewer than memories and need per-source listing.
 *
 * A space exists while it holds a memory or a link. `apply` throws
 * `InvalidEntry` (state unchanged) for a `Put`/`Delete` without a key, a key
 * over 1024 UTF-8 bytes, a `Link` whose key is not `from\0to`, or a new space
 * name outside 1..255 UTF-8 bytes; the node validates these before appending.
 *
 * @example
 * const store = new MemoryStore()
 * store.apply({ lsn: 1, seq: 1, epoch: 1, timestampMs: 0, kind: RecordKind.Put,
 *   space: 'notes', key: 'm1', payload: encodePayload({ text: 'hi' }) })
 * store.read('notes', 'm1') // { text: 'hi' }
 * const copy = new MemoryStore(); copy.restore(store.snapshot()); copy.count('notes') // 1
 */
import { ReplicationError } from '../errors.js';
import { RecordKind } from '../types.js';
import { decodePayload } from '../wire/payload.js';
import { KEY_MAX_BYTES, SPACE_MAX_BYTES } from '../wire/record.js';
import { RecordView } from '../wire/recordView.js';
import type { ArenaOptions, ArenaStats } from './arena.js';
import { KEY_PREFIX_BYTES, encodeKey, hashKey } from './memoryTable.js';
import { readMemoryStoreSnapshot, writeMemoryStoreSnapshot } from './memoryStoreSnapshot.js';
import type { AppliedRecord, Projection } from './reducer.js';
import { type SpaceState, type StoreState, newSpace, putLink } from './spaceState.js';

/**
 * Options of a {@link MemoryStore}.
 *
 * @example
 * new MemoryStore({ chunkBytes: 256 }) // tiny fixed chunks: compaction runs constantly
 */
export interface MemoryStoreOptions {
  /**
   * Arena chunk size in bytes. Default: each space's chunks start at 4 KiB and
   * double up to 1 MiB. Set, every chunk has this size (tests use tiny chunks
   * to exercise compaction).
   */
  chunkBytes?: number;
}

/**
 * One link as `edges()` returns it; `weight` is present when the link's payload has a numeric one.
 *
 * @example
 * store.edges('notes', 'm1') // [{ to: 'm2', weight: 0.5 }, { to: 'm3' }]
 */
export interface Edge {
  to: string;
  weight?: number;
}

/**
 * Sizes of a {@link MemoryStore} (arena figures summed over its spaces).
 *
 * @example
 * const { memories, arena } = store.stats(); arena.reservedBytes / arena.liveBytes // overhead
 */
export interface MemoryStoreStats {
  spaces: number;
  memories: number;
  edges: number;
  arena: ArenaStats;
}

const keyScratch = new Uint8Array(KEY_MAX_BYTES + 4);
const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * The memory-store projection.
 *
 * @example
 * const store = new MemoryStore()
 * for (const r of records) store.apply(r)
 * store.edges('notes', 'm1') // [{ to: 'm2', weight: 0.5 }]
 */
export class MemoryStore implements Projection {
  readonly #arenaOptions: ArenaOptions;
  #state: StoreState;
  /** The space last written to (records come in runs of one space); cleared when spaces go away. */
  #lastSpace: SpaceState | undefined;
  #lastSpaceName = '';

  constructor(options: MemoryStoreOptions = {}) {
    this.#arenaOptions = options.chunkBytes === undefined ? {} : { chunkBytes: options.chunkBytes, minChunkBytes: options.chunkBytes };
    this.#state = this.#emptyState();
  }

  /** Folds one record (see the table above). Never decodes the payload; copies what it keeps. */
  apply(record: AppliedRecord): void {
    switch (record.kind) {
      case RecordKind.Put: {
        // A RecordView's key is used where it lies, without decoding it to a string and back.
        const inPlace = record instanceof RecordView;
        const keyBytes = inPlace ? record.source : keyScratch;
        const from = inPlace ? record.keyStart : 0;
        const n = inPlace ? checkedKeyLength(record.keyLength, 'put') : checkedKey(record.key, 'put');
        const space = this.#spaceFor(record.space);
        space.memories.put(keyBytes, n, hashKey(keyBytes, n, from), record.payload, from);
        space.arena.settle();
        break;
      }
      case RecordKind.Delete: {
        const n = checkedKey(record.key, 'delete');
        const space = this.#state.spaces.get(record.space);
        if (space === undefined) return;
        space.memories.delete(keyScratch, n, hashKey(keyScratch, n));
        // links are keyed by the id as splitLinkKey normalises it (via UTF-8)
        this.#unlinkAll(space, n === record.key.length ? record.key : utf8Decoder.decode(keyScratch.subarray(0, n)));
        if (space.memories.size === 0 && space.edges === 0) this.#forgetSpace(record.space);
        else space.arena.settle();
        break;
      }
      case RecordKind.Link: {
        const { from, to } = splitLinkKey(record.key);
        const space = this.#spaceFor(record.space);
        putLink(space, from, to, record.payload);
        space.arena.settle();
        break;
      }
      default:
        return; // Entry, EpochStart and kinds this projection does not know
    }
  }

  /** The memory `id` of `space` decoded, or undefined. Throws `MalformedMessage` if its bytes are not msgpack. */
  read(space: string, id: string): unknown {
    const s = this.#state.spaces.get(space);
    const handle = s === undefined ? -1 : find(s, id);
    return handle < 0 ? undefined : decodePayload(payloadView(s!, handle));
  }

  /** A copy of the encoded payload of memory `id`, or undefined (no decoding). */
  readBytes(space: string, id: string): Uint8Array | undefined {
    const s = this.#state.spaces.get(space);
    const handle = s === undefined ? -1 : find(s, id);
    return handle < 0 ? undefined : payloadView(s!, handle).slice();
  }

  /** True when `space` holds memory `id`. */
  has(space: string, id: string): boolean {
    const s = this.#state.spaces.get(space);
    return s !== undefined && find(s, id) >= 0;
  }

  /** Memories held in `space` (0 for an unknown space). */
  count(space: string): number {
    return this.#state.spaces.get(space)?.memories.size ?? 0;
  }

  /** Links held in `space`. */
  edgeCount(space: string): number {
    return this.#state.spaces.get(space)?.edges ?? 0;
  }

  /** Names of the spaces that hold a memory or a link, in order of creation. */
  spaces(): string[] {
    return [...this.#state.spaces.keys()];
  }

  /** Links leaving `from` in `space`, in the order they were first made. Decodes each link's payload for its weight. */
  edges(space: string, from: string): Edge[] {
    const s = this.#state.spaces.get(space);
    const targets = s?.out.get(from);
    if (s === undefined || targets === undefined) return [];
    const out: Edge[] = [];
    for (const [to, handle] of targets) {
      const bytes = s.arena.view(handle);
      const value = bytes.length === 0 ? undefined : decodePayload(bytes);
      const weight = (value as { weight?: unknown } | undefined)?.weight;
      out.push(typeof weight === 'number' ? { to, weight } : { to });
    }
    return out;
  }

  /**
   * The memory ids of `space` in insertion order (an overwrite keeps the
   * position). Lazy: applying records while iterating gives unspecified
   * results; spread it into an array first if you need to.
   */
  *memoryIds(space: string): IterableIterator<string> {
    const s = this.#state.spaces.get(space);
    if (s === undefined) return;
    const { memories: table, arena } = s;
    for (let i = 0; i < table.orderLength; i++) {
      const handle = table.handleAt(i);
      if (handle < 0) continue;
      const chunk = arena.chunk(handle);
      const o = arena.offset(handle);
      const n = chunk[o]! | (chunk[o + 1]! << 8);
      yield utf8Decoder.decode(chunk.subarray(o + KEY_PREFIX_BYTES, o + KEY_PREFIX_BYTES + n));
    }
  }

  /** The whole store as checksummed bytes (format in `memoryStoreSnapshot.ts`); payloads are copied raw. */
  snapshot(): Uint8Array {
    return writeMemoryStoreSnapshot(this.#state);
  }

  /** Replaces the store with a snapshot; throws `Corruption` on bad bytes and then keeps the current state. */
  restore(bytes: Uint8Array): void {
    this.#state = readMemoryStoreSnapshot(bytes, this.#emptyState());
    this.#lastSpace = undefined;
  }

  /** Current sizes (memories, links, arena bytes). */
  stats(): MemoryStoreStats {
    const arena: ArenaStats = { handles: 0, chunks: 0, reservedBytes: 0, liveBytes: 0 };
    let memories = 0;
    let edges = 0;
    for (const s of this.#state.spaces.values()) {
      memories += s.memories.size;
      edges += s.edges;
      const a = s.arena.stats();
      arena.handles += a.handles;
      arena.chunks += a.chunks;
      arena.reservedBytes += a.reservedBytes;
      arena.liveBytes += a.liveBytes;
    }
    return { spaces: this.#state.spaces.size, memories, edges, arena };
  }

  #emptyState(): StoreState {
    return { arenaOptions: this.#arenaOptions, spaces: new Map() };
  }

  #spaceFor(name: string): SpaceState {
    if (name === this.#lastSpaceName && this.#lastSpace !== undefined) return this.#lastSpace;
    const existing = this.#state.spaces.get(name) ?? this.#newSpace(name);
    this.#lastSpace = existing;
    this.#lastSpaceName = name;
    return existing;
  }

  #forgetSpace(name: string): void {
    this.#state.spaces.delete(name);
    this.#lastSpace = undefined;
  }

  #newSpace(name: string): SpaceState {
    const bytes = utf8.encode(name).length;
    if (bytes < 1 || bytes > SPACE_MAX_BYTES) {
      throw new ReplicationError('InvalidEntry', `space name must be 1..${SPACE_MAX_BYTES} UTF-8 bytes, got ${bytes}`);
    }
    const space = newSpace(this.#state.arenaOptions);
    this.#state.spaces.set(name, space);
    return space;
  }

  /** Removes every link from or to `id`. */
  #unlinkAll(space: SpaceState, id: string): void {
    const arena = space.arena;
    const targets = space.out.get(id);
    if (targets !== undefined) {
      for (const [to, handle] of targets) {
        arena.free(handle);
        space.edges--;
        const sources = space.incoming.get(to)!;
        sources.delete(id);
        if (sources.size === 0) space.incoming.delete(to);
      }
      space.out.delete(id);
    }
    const sources = space.incoming.get(id);
    if (sources === undefined) return;
    for (const from of sources) {
      const fromTargets = space.out.get(from)!;
      arena.free(fromTargets.get(id)!);
      space.edges--;
      fromTargets.delete(id);
      if (fromTargets.size === 0) space.out.delete(from);
    }
    space.incoming.delete(id);
  }
}

/** The arena handle of memory `id` in `space`, or -1. */
function find(space: SpaceState, id: string): number {
  const n = encodeKey(id, keyScratch);
  if (n <= 0 || n > KEY_MAX_BYTES) return -1;
  return space.memories.find(keyScratch, n, hashKey(keyScratch, n));
}

/** The payload part of a memory's arena entry (a view). */
function payloadView(space: SpaceState, handle: number): Uint8Array {
  const arena = space.arena;
  const chunk = arena.chunk(handle);
  const o = arena.offset(handle);
  const keyBytes = chunk[o]! | (chunk[o + 1]! << 8);
  return chunk.subarray(o + KEY_PREFIX_BYTES + keyBytes, o + arena.length(handle));
}

/** Encodes `key` into the shared scratch and checks it is 1..KEY_MAX_BYTES bytes. */
function checkedKey(key: string, what: string): number {
  return checkedKeyLength(encodeKey(key, keyScratch), what);
}

/** `n` when it is a valid key length in UTF-8 bytes; else throws `InvalidEntry`. */
function checkedKeyLength(n: number, what: string): number {
  if (n <= 0 || n > KEY_MAX_BYTES) {
    throw new ReplicationError('InvalidEntry', `a ${what} record needs a memory id of 1..${KEY_MAX_BYTES} UTF-8 bytes as its key`,
      { suggestion: 'put the memory id in the record key' });
  }
  return n;
}

/**
 * Splits a link record key `${from}\u0000${to}`; throws `InvalidEntry` when
 * either side is empty, the separator is missing or the key is over-long.
 *
 * @example
 * splitLinkKey('m1\u0000m2') // { from: 'm1', to: 'm2' }
 */
export function splitLinkKey(key: string): { from: string; to: string } {
  const i = key.indexOf('\u0000');
  const n = encodeKey(key, keyScratch);
  if (i <= 0 || i === key.length - 1 || n < 0 || n > KEY_MAX_BYTES) {
    throw new ReplicationError('InvalidEntry', `a link record needs the key "<from>\\u0000<to>" (1..${KEY_MAX_BYTES} UTF-8 bytes)`,
      { suggestion: 'write links with key `${from}\\u0000${to}`' });
  }
  // Non-ASCII: go through the UTF-8 bytes, so a lone surrogate becomes U+FFFD
  // here as it does in the snapshot and on the wire.
  const text = n === key.length ? key : utf8Decoder.decode(keyScratch.subarray(0, n));
  const at = text.indexOf('\u0000');
  return { from: text.slice(0, at), to: text.slice(at + 1) };
}
