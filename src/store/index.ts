/**
 * Projections folded from the log: the `Projection` interface, the default
 * `MemoryStore`, and `reducerProjection` for a host's own reducer. (The
 * arena, hash table and snapshot codec behind the store stay internal.)
 *
 * @example
 * import { MemoryStore, reducerProjection } from 'engram-replication'
 */
export type { ArenaStats } from './arena.js';
export * from './memoryStore.js';
export * from './reducer.js';
