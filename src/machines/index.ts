export * from './replicaHealth.js';
export * from './shipper.js';
export * from './receiver.js';
export * from './promotion.js';
