/**
 * engram-replication: the public API. Everything a host app needs is
 * exported from here; the simulation kit lives in `engram-replication/testing`.
 */
import { nodeFileSystem } from './adapters/nodeFileSystem.js';
import { systemClock, systemRandom } from './adapters/systemClock.js';
import { createTcpTransport } from './adapters/tcpTransport.js';
import { type NodeOptions, defaultTuning } from './actors/nodeOptions.js';
import { type ReplicationNode, openNode } from './actors/replicationNode.js';

export * from './errors.js';
export * from './types.js';
export type { Clock, Connection, Listener, Random, Transport } from './ports.js';
export * from './wire/index.js';
export * from './log/index.js';
export * from './store/index.js';
export * from './machines/index.js';
export * from './actors/index.js';
export { nodeFileSystem } from './adapters/nodeFileSystem.js';
export { systemClock, systemRandom } from './adapters/systemClock.js';
export { createTcpTransport, tcpTransport } from './adapters/tcpTransport.js';

/**
 * Creates and starts a node on the real disk, TCP, clock and randomness
 * (each replaceable through `options`).
 *
 * @example
 * const node = await createNode({ id: 'n1', dataDir: '/data/n1', role: 'primary', cluster: {
 *   clusterId: 'demo', nodes: [{ id: 'n1', replication: '127.0.0.1:7101' }, { id: 'n2', replication: '127.0.0.1:7102' }] } })
 * await node.write('notes', { id: 'm1', text: 'hello' })
 */
export function createNode(options: NodeOptions): Promise<ReplicationNode> {
  return openNode(options, {
    fs: options.fs ?? nodeFileSystem,
    transport: options.transport ?? createTcpTransport({ keepAliveMs: options.tuning?.keepAliveMs ?? defaultTuning.keepAliveMs }),
    clock: options.clock ?? systemClock,
    random: options.random ?? systemRandom,
  });
}
