/**
 * The state of a {@link MemoryStore}: per space, an arena with its memories
 * and links. Internal to `src/store` (shared by the store and its snapshot
 * codec).
 *
 * @example
 * const state: StoreState = { arenaOptions: {}, spaces: new Map() }
 * state.spaces.set('notes', newSpace(state.arenaOptions))
 */
import { Arena, type ArenaOptions } from './arena.js';
import { MemoryTable } from './memoryTable.js';

/** The state of one space. */
export interface SpaceState {
  /** Holds the bytes of this space's memories and link payloads. */
  arena: Arena;
  /** Memory id -> `[key length][key][payload]` arena entry. */
  memories: MemoryTable;
  /** from -> to -> arena handle of the link payload (insertion ordered). */
  out: Map<string, Map<string, number>>;
  /** to -> the sources linking to it (so a delete finds incoming links). */
  incoming: Map<string, Set<string>>;
  /** Links held. */
  edges: number;
}

/** Everything a store holds; `restore` builds a new one and swaps it in whole. */
export interface StoreState {
  /** Options for the arena of each new space. */
  arenaOptions: ArenaOptions;
  /** Spaces that hold a memory or a link, in order of creation. */
  spaces: Map<string, SpaceState>;
}

/**
 * A fresh, empty space with its own arena.
 *
 * @example
 * newSpace({}).memories.size // 0
 */
export function newSpace(arenaOptions: ArenaOptions): SpaceState {
  const arena = new Arena(arenaOptions);
  return { arena, memories: new MemoryTable(arena), out: new Map(), incoming: new Map(), edges: 0 };
}

/**
 * Stores the link `from -> to` of `space` with a copy of `payload` in the
 * space's arena (replacing an existing one's bytes); returns true when it is new.
 *
 * @example
 * putLink(space, 'm1', 'm2', encodePayload({ from: 'm1', to: 'm2', weight: 1 })) // true
 */
export function putLink(space: SpaceState, from: string, to: string, payload: Uint8Array): boolean {
  const arena = space.arena;
  let targets = space.out.get(from);
  if (targets === undefined) {
    targets = new Map();
    space.out.set(from, targets);
  }
  const existing = targets.get(to);
  if (existing !== undefined) {
    arena.realloc(existing, payload.length);
    arena.view(existing).set(payload);
    return false;
  }
  const handle = arena.alloc(payload.length);
  arena.view(handle).set(payload);
  targets.set(to, handle);
  let sources = space.incoming.get(to);
  if (sources === undefined) {
    sources = new Set();
    space.incoming.set(to, sources);
  }
  sources.add(from);
  space.edges++;
  return true;
}
