export * from './replicaHealth.js';
