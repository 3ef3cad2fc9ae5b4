/**
 * Child-process entry point for the multi-process replication tests: runs
 * one node (`createNode`, real disk and TCP) and serves a small request /
 * reply protocol over the IPC channel of `child_process.fork`. Started by
 * {@link startNodeProcess} in `nodeProcess.ts`; options arrive as JSON in
 * `ENGRAM_NODE_OPTIONS` (or as the first argument).
 *
 * Messages, child -> parent:
 * - `{ type: 'ready', id, pid, address }` once the node runs;
 * - `{ type: 'startError', error }` when `createNode` failed (then exit 1);
 * - `{ type: 'reply', id, ok: true, result }` / `{ type: 'reply', id, ok: false, error: { code, message } }`;
 * - `{ type: 'event', event, payload }` for node events (`replicaStatus`, `error`,
 *   `promoted`, `demoted`, `truncated`, `snapshot`, `lagAlert`).
 *
 * Parent -> child: `{ id, op, args }` with op one of `writeMany`, `status`,
 * `spaces`, `space`, `read`, `close`. A malformed request is answered with an
 * error (code `BadRequest`) and never crashes the child. SIGTERM, `close` and
 * a lost parent all close the node gracefully before exiting.
 *
 * @example
 * node --import tsx test/helpers/nodeChild.ts '{"id":"n1","dataDir":"/tmp/n1","role":"primary","cluster":{...}}'
 */
import { isReplicationError } from '../../src/errors.js';
import { type NodeOptions, type ReplicationNode, createNode } from '../../src/index.js';

/** A request from the parent. */
export interface ChildRequest {
  id: number;
  op: string;
  args?: unknown[];
}

/** Every message the child sends. */
export type ChildMessage =
  | { type: 'ready'; id: string; pid: number; address: string }
  | { type: 'startError'; error: { code: string; message: string } }
  | { type: 'reply'; id: number; ok: true; result: unknown }
  | { type: 'reply'; id: number; ok: false; error: { code: string; message: string } }
  | { type: 'event'; event: ForwardedEvent; payload: unknown };

/** The node events forwarded to the parent. */
export const FORWARDED = ['replicaStatus', 'error', 'promoted', 'demoted', 'truncated', 'snapshot', 'lagAlert'] as const;
export type ForwardedEvent = (typeof FORWARDED)[number];

class BadRequest extends Error {
  readonly code = 'BadRequest';
}

function errorOf(err: unknown): { code: string; message: string } {
  if (isReplicationError(err)) return { code: err.code, message: err.message };
  if (err instanceof BadRequest) return { code: err.code, message: err.message };
  return { code: 'Internal', message: err instanceof Error ? err.message : String(err) };
}

function send(message: ChildMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.connected || process.send === undefined) return resolve();
    try {
      process.send(message, undefined, {}, () => resolve());
    } catch {
      resolve(); // channel closed meanwhile: nobody is listening any more
    }
  });
}

function stringArg(args: unknown[], i: number, name: string): string {
  const v = args[i];
  if (typeof v !== 'string') throw new BadRequest(`argument ${i} (${name}) must be a string`);
  return v;
}

async function handle(node: ReplicationNode, op: string, args: unknown[]): Promise<unknown> {
  switch (op) {
    case 'writeMany': {
      const entries = args[1];
      if (!Array.isArray(entries)) throw new BadRequest('argument 1 (entries) must be an array');
      return node.writeMany(stringArg(args, 0, 'space'), entries);
    }
    case 'status':
      return node.status();
    case 'spaces':
      return node.spaces();
    case 'space':
      return node.space(stringArg(args, 0, 'space'));
    case 'read':
      return node.read(stringArg(args, 0, 'space'), stringArg(args, 1, 'id'));
    default:
      throw new BadRequest(`unknown op ${JSON.stringify(op)}`);
  }
}

function parseOptions(): NodeOptions {
  const text = process.env['ENGRAM_NODE_OPTIONS'] ?? process.argv[2];
  if (text === undefined) throw new BadRequest('no options: set ENGRAM_NODE_OPTIONS or pass JSON as the first argument');
  return JSON.parse(text) as NodeOptions;
}

async function main(): Promise<void> {
  let node: ReplicationNode;
  try {
    node = await createNode(parseOptions());
  } catch (err) {
    await send({ type: 'startError', error: errorOf(err) });
    process.exit(1);
  }

  let exiting: Promise<never> | undefined;
  const shutdown = (code: number, beforeExit?: () => Promise<void>): Promise<never> => {
    exiting ??= (async () => {
      await node.close().catch(() => undefined);
      await beforeExit?.();
      process.exit(code);
    })();
    return exiting;
  };

  for (const event of FORWARDED) node.on(event, (payload: unknown) => void send({ type: 'event', event, payload }));

  process.on('message', (raw: unknown) => {
    const req = raw as Partial<ChildRequest> | null;
    if (typeof req !== 'object' || req === null || typeof req.id !== 'number') return; // nothing to reply to
    const id = req.id;
    const args = Array.isArray(req.args) ? req.args : [];
    if (req.op === 'close') {
      void shutdown(0, () => send({ type: 'reply', id, ok: true, result: null }));
      return;
    }
    if (exiting !== undefined) {
      void send({ type: 'reply', id, ok: false, error: { code: 'Closed', message: `node ${node.id} is closing` } });
      return;
    }
    Promise.resolve()
      .then(() => handle(node, String(req.op), args))
      .then(
        (result) => send({ type: 'reply', id, ok: true, result }),
        (err: unknown) => send({ type: 'reply', id, ok: false, error: errorOf(err) }),
      );
  });
  process.on('SIGTERM', () => void shutdown(0));
  process.on('disconnect', () => void shutdown(0)); // the parent is gone: do not linger

  await send({ type: 'ready', id: node.id, pid: process.pid, address: node.replicationAddress });
}

// A bug that escapes the node is reported to the parent (as an `error` event
// with code `Uncaught`, which tests can assert never happens), not a silent exit.
function reportUncaught(what: string, err: unknown): void {
  const message = `${what}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`;
  process.stderr.write(`nodeChild: ${message}\n`);
  void send({ type: 'event', event: 'error', payload: { code: 'Uncaught', message } });
}
process.on('uncaughtException', (err) => reportUncaught('uncaught exception', err));
process.on('unhandledRejection', (err) => reportUncaught('unhandled rejection', err));

void main();
