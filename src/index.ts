/**
 * engram-replication: the public API. Everything a host app needs is
 * exported from here; the simulation kit lives in `engram-replication/testing`.
 */
export * from './errors.js';
export * from './types.js';
export type { Clock, Random } from './ports.js';
export * from './wire/index.js';
export * from './log/index.js';
export * from './machines/index.js';
export { nodeFileSystem } from './adapters/nodeFileSystem.js';
export { systemClock, systemRandom } from './adapters/systemClock.js';
