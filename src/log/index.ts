/** The durable write-ahead log: segments, group commit, recovery, cursors, retention, metadata. */
export * from './fileSystem.js';
export * from './log.js';
export * from './metaFile.js';
export type { RecoveryReport } from './recover.js';
export * from './segmentName.js';
