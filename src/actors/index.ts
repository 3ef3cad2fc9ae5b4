/** The node: actors wiring machines to the log, the transport and timers. */
export * from './entries.js';
export type { HandoverResult } from './handover.js';
export type { NodeEventMap, ReplicaStatus } from './nodeEvents.js';
export * from './nodeOptions.js';
export * from './replicationNode.js';
export type { ReplicaProgress } from './shipperSession.js';
