/**
 * Child-process entry of the failover tests and bench: one node (`createNode`,
 * real disk and TCP, options as JSON in `ENGRAM_NODE_OPTIONS`) behind a small
 * IPC request/reply protocol. Unlike test/helpers/nodeChild.ts it passes the
 * ack mode, replies to a write with the node and epoch it was accepted in
 * (read in the same tick as the append), serves `promote` and `handover`, and forwards the
 * failover events (`promoted`, `demoted`, `truncated`, `error`).
 */
import { isReplicationError } from '../../src/errors.js';
import { type AckMode, type NodeOptions, type ReplicationNode, createNode } from '../../src/index.js';

export type FailoverChildMessage =
  | { type: 'ready'; pid: number }
  | { type: 'startError'; error: { code: string; message: string } }
  | { type: 'reply'; id: number; ok: true; result: unknown }
  | { type: 'reply'; id: number; ok: false; error: { code: string; message: string } }
  | { type: 'event'; event: string; payload: unknown; atMs: number };

function errorOf(err: unknown): { code: string; message: string } {
  if (isReplicationError(err)) return { code: err.code, message: err.message };
  return { code: 'Internal', message: err instanceof Error ? err.message : String(err) };
}

function send(message: FailoverChildMessage): void {
  try {
    if (process.connected) process.send?.(message);
  } catch {
    // the parent is gone
  }
}

async function handle(node: ReplicationNode, op: string, args: unknown[]): Promise<unknown> {
  switch (op) {
    case 'writeMany': {
      const [space, entries, ack] = args as [string, unknown[], AckMode | undefined];
      const epoch = node.status().epoch; // same tick as the append inside writeMany
      const started = performance.now();
      const result = await node.writeMany(space, entries, ack === undefined ? {} : { ack });
      return { ...result, epoch, node: node.id, ms: performance.now() - started };
    }
    case 'status':
      return node.status();
    case 'space':
      return node.space(String(args[0]));
    case 'read':
      return node.read(String(args[0]), String(args[1]));
    case 'promote':
      return node.promote({ force: args[0] === true });
    case 'handover':
      return node.handover(typeof args[0] === 'string' ? { to: args[0] } : {});
    default:
      throw new Error(`unknown op ${op}`);
  }
}

async function main(): Promise<void> {
  let node: ReplicationNode;
  try {
    node = await createNode(JSON.parse(process.env['ENGRAM_NODE_OPTIONS'] ?? '{}') as NodeOptions);
  } catch (err) {
    send({ type: 'startError', error: errorOf(err) });
    process.exit(1);
  }
  for (const event of ['promoted', 'demoted', 'truncated', 'error'] as const) {
    node.on(event, (payload: unknown) => send({ type: 'event', event, payload, atMs: Date.now() }));
  }
  process.on('message', (raw: { id: number; op: string; args?: unknown[] }) => {
    Promise.resolve()
      .then(() => handle(node, raw.op, raw.args ?? []))
      .then((result) => send({ type: 'reply', id: raw.id, ok: true, result }),
        (err: unknown) => send({ type: 'reply', id: raw.id, ok: false, error: errorOf(err) }));
  });
  const shutdown = () => void node.close().finally(() => process.exit(0));
  process.on('SIGTERM', shutdown);
  process.on('disconnect', () => process.exit(0)); // never outlive the parent
  send({ type: 'ready', pid: process.pid });
}

process.on('uncaughtException', (err) => send({ type: 'event', event: 'error', payload: { code: 'Uncaught', message: String(err?.stack ?? err) }, atMs: Date.now() }));
process.on('unhandledRejection', (err) => send({ type: 'event', event: 'error', payload: { code: 'Uncaught', message: String(err) }, atMs: Date.now() }));
void main();
