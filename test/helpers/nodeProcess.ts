/**
 * Parent side of the multi-process replication tests: starts a node in a
 * child process (`nodeChild.ts`), talks to it over IPC with typed methods,
 * and makes sure no child outlives its test: every child is registered, a
 * {@link ProcessScope} kills its children (by PID) and removes its temp dirs
 * in a `finally`, and the leftovers are SIGKILLed when the test runner exits.
 * Also free loopback ports, cluster configs, a load writer and the
 * convergence checks the tests share.
 *
 * @example
 * test('replicates', () => withScope(async (scope) => {
 *   const cluster = await makeCluster(2)
 *   const primary = await scope.start({ id: 'n1', dataDir: await scope.tempDir(), cluster, role: 'primary' })
 *   await primary.writeMany('s0', [{ id: 'm1', text: 'hi' }])
 * }))
 */
import { type ChildProcess, fork } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import type { ClusterConfig, NodeEventMap, NodeStatus, SpaceSummary, Tuning, WriteResult } from '../../src/index.js';
import type { ChildMessage, ChildRequest, ForwardedEvent } from './nodeChild.js';
import { makeTempDir, removeDir, reportable } from './tempDir.js';
import { waitFor } from './waitFor.js';

const CHILD_ENTRY = fileURLToPath(new URL('./nodeChild.ts', import.meta.url));
const OUTPUT_TAIL_CHARS = 8192;

/** Options of {@link startNodeProcess}: the node's own plus timeouts. */
export interface NodeProcessOptions {
  id: string;
  dataDir: string;
  cluster: ClusterConfig;
  role: 'primary' | 'replica';
  /** Elect a new primary when the primary is lost (the node's default: true). */
  autoFailover?: boolean;
  tuning?: Partial<Tuning>;
  /** How long the child may take to start its node. Default 20 s. */
  startTimeoutMs?: number;
  /** How long one request may take. Default 30 s. */
  requestTimeoutMs?: number;
}

/** A node event forwarded by the child, typed as the node emits it. */
export type ChildEvent = { [E in ForwardedEvent]: { event: E; payload: Parameters<NodeEventMap[E]>[0] } }[ForwardedEvent];

/** How a child ended. */
export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Anything whose replicated state can be compared: a child process or an in-process node. */
export interface NodeView {
  readonly id: string;
  status(): NodeStatus | Promise<NodeStatus>;
  spaces(): string[] | Promise<string[]>;
  space(name: string): SpaceSummary | Promise<SpaceSummary>;
}

/** Anything that takes writes. */
export interface Writer {
  writeMany(space: string, entries: readonly unknown[]): Promise<WriteResult>;
}

/** An error reply of the child, with the node's error code. */
export class ChildError extends Error {
  constructor(readonly code: string, message: string) {
    super(`${code}: ${message}`);
  }
}

const live = new Set<NodeProcess>();
process.on('exit', () => {
  for (const p of live) p.killNow();
});

/** A node running in a child process. Create with {@link startNodeProcess}. */
export class NodeProcess implements NodeView, Writer {
  readonly id: string;
  readonly pid: number;
  /** Resolves when the child has exited (never rejects). */
  readonly exited: Promise<ProcessExit>;
  /** Every event the child forwarded, in order. */
  readonly events: ChildEvent[] = [];
  /** The replication address the node listens on. */
  address = '';
  readonly #child: ChildProcess;
  readonly #requestTimeoutMs: number;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  #nextId = 1;
  #output = '';
  #exit: ProcessExit | undefined;

  /** @internal use {@link startNodeProcess}. */
  constructor(child: ChildProcess, id: string, requestTimeoutMs: number) {
    if (child.pid === undefined) throw new Error(`could not start a child for node ${id}`);
    this.#child = child;
    this.id = id;
    this.pid = child.pid;
    this.#requestTimeoutMs = requestTimeoutMs;
    live.add(this);
    const keep = (chunk: Buffer) => (this.#output = (this.#output + chunk.toString()).slice(-OUTPUT_TAIL_CHARS));
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    child.on('message', (m: ChildMessage) => this.#onMessage(m));
    child.on('error', () => undefined); // e.g. a send on a closed channel; the exit handler reports
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.#exit = { code, signal };
        live.delete(this);
        for (const [, p] of this.#pending) {
          clearTimeout(p.timer);
          p.reject(new Error(`node ${id} (pid ${this.pid}) exited (${signal ?? code}) with a request pending${this.#tail()}`));
        }
        this.#pending.clear();
        resolve(this.#exit);
      });
    });
  }

  /** Has the child exited? */
  get hasExited(): boolean {
    return this.#exit !== undefined;
  }

  /** The last few KB of the child's stdout and stderr. */
  output(): string {
    return this.#output;
  }

  writeMany(space: string, entries: readonly unknown[]): Promise<WriteResult> {
    return this.request('writeMany', [space, entries]) as Promise<WriteResult>;
  }

  status(): Promise<NodeStatus> {
    return this.request('status') as Promise<NodeStatus>;
  }

  spaces(): Promise<string[]> {
    return this.request('spaces') as Promise<string[]>;
  }

  space(name: string): Promise<SpaceSummary> {
    return this.request('space', [name]) as Promise<SpaceSummary>;
  }

  read(space: string, id: string): Promise<unknown> {
    return this.request('read', [space, id]);
  }

  /** Closes the node gracefully and waits for the child to exit. */
  async close(): Promise<ProcessExit> {
    if (this.#exit !== undefined) return this.#exit;
    await this.request('close').catch(() => undefined); // the reply may lose the race with the exit
    return this.exited;
  }

  /** Sends `signal` (SIGKILL by default) to this child's PID and waits for it to exit. */
  kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<ProcessExit> {
    if (this.#exit === undefined) {
      try {
        process.kill(this.pid, signal);
      } catch {
        // already gone
      }
    }
    return this.exited;
  }

  /** @internal SIGKILL without waiting (process exit hook). */
  killNow(): void {
    if (this.#exit !== undefined) return;
    try {
      process.kill(this.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }

  /** Sends a raw request (any op and args; the tests also send bad ones). */
  request(op: string, args: unknown[] = []): Promise<unknown> {
    if (this.#exit !== undefined) return Promise.reject(new Error(`node ${this.id} has exited`));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`node ${this.id}: ${op} got no reply within ${this.#requestTimeoutMs} ms${this.#tail()}`));
      }, this.#requestTimeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
      const request: ChildRequest = { id, op, args };
      this.#child.send(request, (err) => {
        if (err === null || !this.#pending.has(id)) return;
        clearTimeout(timer);
        this.#pending.delete(id);
        reject(new Error(`node ${this.id}: could not send ${op}: ${err.message}`));
      });
    });
  }

  /** Sends any value over the channel, unanswered (to test that junk does not crash the child). */
  sendRaw(message: unknown): void {
    this.#child.send(message as object);
  }

  #onMessage(m: ChildMessage): void {
    if (m.type === 'event') {
      this.events.push({ event: m.event, payload: m.payload } as ChildEvent);
      return;
    }
    if (m.type === 'ready') {
      this.address = m.address;
      this.#child.emit('engram:ready');
      return;
    }
    if (m.type === 'startError') {
      this.#child.emit('engram:startError', m.error);
      return;
    }
    const p = this.#pending.get(m.id);
    if (p === undefined) return;
    clearTimeout(p.timer);
    this.#pending.delete(m.id);
    if (m.ok) p.resolve(m.result);
    else p.reject(new ChildError(m.error.code, m.error.message));
  }

  #tail(): string {
    return this.#output.length === 0 ? '' : `\n--- output of ${this.id} ---\n${this.#output}`;
  }
}

/** Forks `nodeChild.ts` with `options` and resolves once its node runs. */
export async function startNodeProcess(options: NodeProcessOptions): Promise<NodeProcess> {
  const { startTimeoutMs = 20_000, requestTimeoutMs = 30_000, ...nodeOptions } = options;
  const child = fork(CHILD_ENTRY, [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, ENGRAM_NODE_OPTIONS: JSON.stringify(nodeOptions) },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    serialization: 'advanced',
  });
  const node = new NodeProcess(child, options.id, requestTimeoutMs);
  let timer: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`node ${options.id} did not start within ${startTimeoutMs} ms`)), startTimeoutMs);
      child.once('engram:ready', resolve);
      child.once('engram:startError', (e: { code: string; message: string }) => reject(new ChildError(e.code, e.message)));
      void node.exited.then((x) => reject(new Error(`node ${options.id} exited (${x.signal ?? x.code}) before it was ready\n${node.output()}`)));
    });
  } catch (err) {
    await node.kill();
    throw err;
  } finally {
    clearTimeout(timer);
  }
  return node;
}

/** SIGKILLs every child still running and waits for them. */
export async function killAllNodeProcesses(): Promise<void> {
  await Promise.all([...live].map((p) => p.kill('SIGKILL')));
}

/**
 * What one test starts: child processes, in-process resources and temp
 * dirs, all released by {@link withScope} even when the test fails.
 */
export class ProcessScope {
  readonly processes: NodeProcess[] = [];
  readonly #dirs: string[] = [];
  readonly #first: (() => Promise<unknown>)[] = [];
  readonly #cleanups: (() => Promise<unknown>)[] = [];

  /** Starts a child node owned by this scope. */
  async start(options: NodeProcessOptions): Promise<NodeProcess> {
    const p = await startNodeProcess(options);
    this.processes.push(p);
    return p;
  }

  /** A fresh temp dir removed at the end. */
  async tempDir(prefix = 'engram-repl-'): Promise<string> {
    const dir = await makeTempDir(prefix);
    this.#dirs.push(dir);
    return dir;
  }

  /**
   * Runs `fn` at cleanup (e.g. closing an in-process node), before the
   * children are killed and the dirs removed; `'first'` ones run before the
   * others, the rest in reverse order of deferral. Close an in-process
   * primary first: closing its replicas first would make it destroy
   * sockets that are mid-shutdown (see destroyAfterEnd.test.ts).
   */
  defer(fn: () => Promise<unknown>, order: 'first' | 'last' = 'last'): void {
    if (order === 'first') this.#first.push(fn);
    else this.#cleanups.push(fn);
  }

  /** Runs the deferred cleanups, kills every child (by PID), removes the dirs. */
  async cleanup(): Promise<void> {
    for (const fn of [...this.#first, ...this.#cleanups.reverse()]) await bounded(fn(), CLEANUP_STEP_MS);
    await Promise.all(this.processes.map((p) => p.kill('SIGKILL')));
    await Promise.all(this.#dirs.map((d) => removeDir(d)));
  }
}

const CLEANUP_STEP_MS = 10_000;

/** Waits for `promise` at most `ms` (a cleanup step that hangs must not hang the run); ignores its errors. */
async function bounded(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise.catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

/** Runs `fn` with a {@link ProcessScope} and always cleans it up. */
export async function withScope<T>(fn: (scope: ProcessScope) => Promise<T>): Promise<T> {
  const scope = new ProcessScope();
  try {
    return await fn(scope);
  } catch (err) {
    throw reportable(err);
  } finally {
    await scope.cleanup();
  }
}

/** `n` distinct free TCP ports on 127.0.0.1 (listened on at once, then released). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: n }, () => new Promise<net.Server>((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  })));
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

/** A cluster of `n` nodes `n1..nN` on free loopback ports. */
export async function makeCluster(n: number, clusterId = `test-${process.pid}`): Promise<ClusterConfig> {
  const ports = await freePorts(n);
  return { clusterId, nodes: ports.map((port, i) => ({ id: `n${i + 1}`, replication: `127.0.0.1:${port}` })) };
}

const FILLER = 'the quick brown fox jumps over the lazy dog, '.repeat(4);

/** Entry `i` of the test load: `{ id: 'm<i>', text: ~150 chars, n: i }`. */
export function entry(i: number): { id: string; text: string; n: number } {
  return { id: `m${i}`, text: `${i}: ${FILLER}`.slice(0, 150), n: i };
}

/** Options of {@link writeLoad}. */
export interface LoadOptions {
  /** First entry number (ids continue across calls). */
  from?: number;
  /** Entries to write. */
  count: number;
  /** Spaces `s0..s<spaces-1>`; batch k goes to space k % spaces. */
  spaces: number;
  /** Entries per writeMany. */
  batch: number;
  /** writeMany calls in flight. */
  inFlight: number;
  /** Called after each writeMany with its latency. */
  onWrite?: (latencyMs: number, result: WriteResult) => void;
}

/** Writes entries `from .. from+count-1` in batches over the spaces; resolves with the highest LSN. */
export async function writeLoad(writer: Writer, o: LoadOptions): Promise<number> {
  const from = o.from ?? 0;
  const end = from + o.count;
  let next = from;
  let maxLsn = 0;
  const worker = async () => {
    while (next < end) {
      const first = next;
      const last = Math.min(end, first + o.batch);
      next = last;
      const entries = Array.from({ length: last - first }, (_, k) => entry(first + k));
      const started = performance.now();
      const result = await writer.writeMany(`s${Math.floor(first / o.batch) % o.spaces}`, entries);
      o.onWrite?.(performance.now() - started, result);
      maxLsn = Math.max(maxLsn, result.lsn);
    }
  };
  await Promise.all(Array.from({ length: o.inFlight }, worker));
  return maxLsn;
}

/** Waits until every replica has applied everything the primary has durable, and the primary has applied it too. */
export async function waitCaughtUp(primary: NodeView, replicas: readonly NodeView[], timeoutMs = 30_000): Promise<number> {
  let lsn = 0;
  let seen = '';
  try {
    await waitFor(async () => {
      const p = await primary.status();
      const rs = await Promise.all(replicas.map((r) => r.status()));
      lsn = p.lsn;
      seen = `primary lsn ${p.lsn} applied ${p.appliedLsn}; ${rs.map((r) => `${r.id} applied ${r.appliedLsn}`).join(', ')}`;
      return p.appliedLsn === p.lsn && rs.every((r) => r.appliedLsn === p.lsn);
    }, { timeoutMs, intervalMs: 25, what: 'replicas caught up' });
  } catch (err) {
    throw new Error(`${(err as Error).message} (last seen: ${seen})`);
  }
  return lsn;
}

/** Every space of a node with its summary, sorted by name. */
export async function summaries(node: NodeView): Promise<SpaceSummary[]> {
  const names = [...(await node.spaces())].sort();
  return Promise.all(names.map((name) => node.space(name)));
}
