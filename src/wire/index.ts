/** The wire layer: pure codecs for records, batches, frames and messages. No I/O. */
export * from './batch.js';
export * from './checksum.js';
export * from './frame.js';
export * from './frameReader.js';
export * from './messages.js';
export * from './payload.js';
export * from './record.js';
export * from './u64.js';
