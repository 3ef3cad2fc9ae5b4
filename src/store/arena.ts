/**
 * A byte arena: many small byte strings packed into a few large chunks, so
 * that a million stored payloads are a few hundred `Uint8Array`s for the
 * garbage collector instead of a million objects (DESIGN §1). The memory
 * store keeps one arena per space, so a space's bytes sit together (a
 * snapshot reads them sequentially) and a small space stays small: chunks
 * start at `minChunkBytes` (4 KiB) and double up to `chunkBytes` (1 MiB).
 *
 * Each stored string is reached through a *handle*: a small integer that
 * stays the same while its bytes move. Per handle the arena keeps the chunk,
 * offset and length in typed arrays, plus one free `tag` integer for the
 * owner (the memory store keeps an entry's position in its space's order
 * there). In a chunk each string is preceded by an 8-byte header
 * `[handle u32][length u32]`, so a chunk can be walked without the handle
 * tables.
 *
 * Freed bytes become garbage inside their chunk. When a sealed chunk (one
 * that no longer takes new bytes) drops below half live, {@link Arena.settle}
 * copies its live strings into the active chunk and releases it (a log-
 * structured cleaner): the copying is bounded by one chunk at a time, and
 * over time by the bytes freed, and the arena stays under about twice its
 * live bytes plus one chunk. Strings longer than `chunkBytes` get a chunk of
 * their own, released when they are freed.
 *
 * Views returned by {@link Arena.view} are valid until the next `settle()`.
 *
 * @example
 * const arena = new Arena()
 * const h = arena.alloc(3)
 * arena.view(h).set([1, 2, 3])
 * arena.settle()
 * arena.view(h) // Uint8Array [1, 2, 3]
 * arena.free(h)
 */

/** Bytes of the header in front of each string in a chunk. */
export const ARENA_ENTRY_HEADER_BYTES = 8;
/** Default (largest) regular chunk size: 1 MiB. */
export const ARENA_CHUNK_BYTES_DEFAULT = 1 << 20;
/** Default size of an arena's first chunk: 4 KiB. */
export const ARENA_MIN_CHUNK_BYTES_DEFAULT = 4096;
const INITIAL_HANDLES = 64;

/**
 * Sizes of an arena, for stats and tests.
 *
 * @example
 * const { liveBytes, reservedBytes } = arena.stats()
 */
export interface ArenaStats {
  /** Handles in use. */
  handles: number;
  /** Chunks currently held (including the active one and oversized ones). */
  chunks: number;
  /** Bytes of all chunks held (what the arena costs). */
  reservedBytes: number;
  /** Bytes of live strings including their 8-byte headers. */
  liveBytes: number;
}

/**
 * Options of an {@link Arena}.
 *
 * @example
 * new Arena({ chunkBytes: 1 << 20, minChunkBytes: 4096 }) // the defaults
 */
export interface ArenaOptions {
  /** Largest regular chunk, in bytes (default 1 MiB); longer strings get a chunk of their own. */
  chunkBytes?: number;
  /** Size of the first chunk (default 4 KiB, at most `chunkBytes`); each new chunk doubles it. */
  minChunkBytes?: number;
}

/**
 * A chunked byte arena with stable handles and incremental compaction.
 *
 * @example
 * const a = new Arena({ chunkBytes: 64 * 1024 })
 * const h = a.alloc(2); a.view(h).set([7, 8]); a.length(h) // 2
 */
export class Arena {
  /** Largest regular chunk in bytes. */
  readonly chunkBytes: number;
  /** Size of the next active chunk (doubles from `minChunkBytes` up to `chunkBytes`). */
  #nextChunkBytes: number;
  #chunks: (Uint8Array | undefined)[] = [];
  #used: number[] = [];
  #live: number[] = [];
  #queued: boolean[] = [];
  #freeChunks: number[] = [];
  #pending: number[] = [];
  #active = -1;
  #liveTotal = 0;
  #reserved = 0;
  #chunkOf: Int32Array = new Int32Array(INITIAL_HANDLES);
  #offsetOf: Int32Array = new Int32Array(INITIAL_HANDLES);
  #lengthOf: Int32Array = new Int32Array(INITIAL_HANDLES);
  /** One integer per handle for the owner's use (not touched by the arena). */
  tag: Int32Array = new Int32Array(INITIAL_HANDLES);
  #handleTop = 0;
  #freeHandles: Int32Array = new Int32Array(INITIAL_HANDLES);
  #freeHandleCount = 0;

  constructor(options: ArenaOptions = {}) {
    const chunkBytes = options.chunkBytes ?? ARENA_CHUNK_BYTES_DEFAULT;
    if (!Number.isInteger(chunkBytes) || chunkBytes < 64 || chunkBytes > 1 << 30) {
      throw new RangeError(`arena chunkBytes must be an integer in 64..2^30, got ${chunkBytes}`);
    }
    const minChunkBytes = Math.min(chunkBytes, options.minChunkBytes ?? ARENA_MIN_CHUNK_BYTES_DEFAULT);
    if (!Number.isInteger(minChunkBytes) || minChunkBytes < 64) {
      throw new RangeError(`arena minChunkBytes must be an integer >= 64, got ${minChunkBytes}`);
    }
    this.chunkBytes = chunkBytes;
    this.#nextChunkBytes = minChunkBytes;
  }

  /** Makes room in the handle tables for `count` handles in all (restore knows the count up front). */
  reserveHandles(count: number): void {
    while (this.#chunkOf.length < count) {
      this.#chunkOf = grown(this.#chunkOf);
      this.#offsetOf = grown(this.#offsetOf);
      this.#lengthOf = grown(this.#lengthOf);
      this.tag = grown(this.tag);
    }
  }

  /** Reserves `length` bytes under a new handle; write them through {@link view}. */
  alloc(length: number): number {
    const handle = this.#newHandle();
    this.#place(handle, length);
    return handle;
  }

  /**
   * Gives `handle` fresh storage of `length` bytes (contents undefined): its
   * old bytes become garbage. The handle number stays the same.
   */
  realloc(handle: number, length: number): void {
    this.#release(handle);
    this.#place(handle, length);
  }

  /** Releases a handle and its bytes. */
  free(handle: number): void {
    this.#release(handle);
    this.#chunkOf[handle] = -1;
    if (this.#freeHandleCount === this.#freeHandles.length) this.#freeHandles = grown(this.#freeHandles);
    this.#freeHandles[this.#freeHandleCount++] = handle;
  }

  /** The bytes of `handle` (a view, valid until the next {@link settle}). */
  view(handle: number): Uint8Array {
    const offset = this.#offsetOf[handle]!;
    return this.#chunks[this.#chunkOf[handle]!]!.subarray(offset, offset + this.#lengthOf[handle]!);
  }

  /** The chunk holding `handle` (hot paths read it with {@link offset} instead of a view). */
  chunk(handle: number): Uint8Array {
    return this.#chunks[this.#chunkOf[handle]!]!;
  }

  /** Offset of the first byte of `handle` inside {@link chunk}. */
  offset(handle: number): number {
    return this.#offsetOf[handle]!;
  }

  /** Length in bytes of `handle`. */
  length(handle: number): number {
    return this.#lengthOf[handle]!;
  }

  /** Compacts sealed chunks that fell below half live. Moves bytes: earlier views go stale. */
  settle(): void {
    while (this.#pending.length > 0) {
      const c = this.#pending.pop()!;
      if (!this.#queued[c]) continue; // dropped (and maybe reused) since it was queued
      this.#queued[c] = false;
      if (c !== this.#active && this.#live[c]! * 2 < this.#used[c]!) this.#clean(c);
    }
  }

  /** Current sizes. */
  stats(): ArenaStats {
    return {
      handles: this.#handleTop - this.#freeHandleCount,
      chunks: this.#chunks.length - this.#freeChunks.length,
      reservedBytes: this.#reserved,
      liveBytes: this.#liveTotal,
    };
  }

  #newHandle(): number {
    if (this.#freeHandleCount > 0) return this.#freeHandles[--this.#freeHandleCount]!;
    if (this.#handleTop === this.#chunkOf.length) this.reserveHandles(this.#handleTop + 1);
    return this.#handleTop++;
  }

  /** Finds room for `length` bytes, writes the entry header, points `handle` at it. */
  #place(handle: number, length: number): void {
    const size = ARENA_ENTRY_HEADER_BYTES + length;
    let c: number;
    let at: number;
    if (size > this.chunkBytes) { // a chunk of its own
      c = this.#newChunk(new Uint8Array(size));
      at = 0;
      this.#used[c] = size;
    } else {
      if (this.#active < 0 || this.#used[this.#active]! + size > this.#chunks[this.#active]!.length) this.#openActive(size);
      c = this.#active;
      at = this.#used[c]!;
      this.#used[c] = at + size;
    }
    const chunk = this.#chunks[c]!;
    putU32(chunk, at, handle);
    putU32(chunk, at + 4, length);
    this.#live[c]! += size;
    this.#liveTotal += size;
    this.#chunkOf[handle] = c;
    this.#offsetOf[handle] = at + ARENA_ENTRY_HEADER_BYTES;
    this.#lengthOf[handle] = length;
  }

  /** Marks the bytes of `handle` dead; queues or drops their chunk. */
  #release(handle: number): void {
    const c = this.#chunkOf[handle]!;
    const size = ARENA_ENTRY_HEADER_BYTES + this.#lengthOf[handle]!;
    const live = this.#live[c]! - size;
    this.#live[c] = live;
    this.#liveTotal -= size;
    if (c === this.#active) return;
    if (live === 0) this.#dropChunk(c);
    else this.#maybeQueue(c);
  }

  /** Seals the active chunk and opens a new one with room for at least `size` bytes. */
  #openActive(size: number): void {
    const previous = this.#active;
    let bytes = this.#nextChunkBytes;
    while (bytes < size) bytes = Math.min(this.chunkBytes, bytes * 2);
    this.#nextChunkBytes = Math.min(this.chunkBytes, bytes * 2);
    this.#active = this.#newChunk(new Uint8Array(bytes));
    if (previous >= 0) {
      if (this.#live[previous] === 0) this.#dropChunk(previous);
      else this.#maybeQueue(previous);
    }
  }

  #newChunk(buffer: Uint8Array): number {
    const c = this.#freeChunks.length > 0 ? this.#freeChunks.pop()! : this.#chunks.length;
    this.#chunks[c] = buffer;
    this.#used[c] = 0;
    this.#live[c] = 0;
    this.#queued[c] = false;
    this.#reserved += buffer.length;
    return c;
  }

  #maybeQueue(c: number): void {
    if (!this.#queued[c] && this.#live[c]! * 2 < this.#used[c]!) {
      this.#queued[c] = true;
      this.#pending.push(c);
    }
  }

  /** Copies the live strings of chunk `c` into the active chunk, then drops `c`. */
  #clean(c: number): void {
    const chunk = this.#chunks[c]!;
    const end = this.#used[c]!;
    let at = 0;
    while (at < end) {
      const handle = getU32(chunk, at);
      const length = getU32(chunk, at + 4);
      const data = at + ARENA_ENTRY_HEADER_BYTES;
      if (this.#chunkOf[handle] === c && this.#offsetOf[handle] === data) {
        this.#live[c]! -= ARENA_ENTRY_HEADER_BYTES + length;
        this.#liveTotal -= ARENA_ENTRY_HEADER_BYTES + length;
        this.#place(handle, length);
        this.view(handle).set(chunk.subarray(data, data + length));
      }
      at = data + length;
    }
    this.#dropChunk(c);
  }

  #dropChunk(c: number): void {
    this.#reserved -= this.#chunks[c]!.length;
    this.#chunks[c] = undefined;
    this.#used[c] = 0;
    this.#live[c] = 0;
    this.#queued[c] = false;
    this.#freeChunks.push(c);
    if (c === this.#active) this.#active = -1;
  }
}

function grown(a: Int32Array): Int32Array {
  const next = new Int32Array(a.length * 2);
  next.set(a);
  return next;
}

function putU32(t: Uint8Array, o: number, v: number): void {
  t[o] = v;
  t[o + 1] = v >>> 8;
  t[o + 2] = v >>> 16;
  t[o + 3] = v >>> 24;
}

function getU32(t: Uint8Array, o: number): number {
  return (t[o]! | (t[o + 1]! << 8) | (t[o + 2]! << 16) | (t[o + 3]! << 24)) >>> 0;
}
