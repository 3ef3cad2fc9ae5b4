/**
 * Process helpers for the replication benchmark: free loopback ports, temp
 * directories, and replica nodes running in child processes
 * (`node --import tsx bench/replicaChild.ts <options JSON>`) driven over the
 * IPC channel. Nothing outlives the benchmark: every child is registered and
 * SIGKILLed by its PID when the bench process exits (normally, on an
 * uncaught error, or on SIGINT/SIGTERM), and every temp directory made here
 * is removed then. The module has no side effects at import (the child
 * imports its message types and {@link wallNow} from here); the exit hooks
 * are installed by the first child or temp directory.
 *
 * @example
 * const [port] = await freePorts(1)
 * const replica = await startReplica({ node: { id: 'r1', dataDir: tempDir('r1'), role: 'replica', cluster } })
 * await replica.request('waitApplied', [1000])
 * await replica.close()
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NodeOptions } from '../src/index.js';

const CHILD_ENTRY = fileURLToPath(new URL('./replicaChild.ts', import.meta.url));
/** tsx's loader, resolved from here so children start whatever the working directory. */
const TSX = import.meta.resolve('tsx');
const START_TIMEOUT_MS = 60_000;
const REQUEST_TIMEOUT_MS = 120_000;

/** What the parent passes to a replica child as JSON (argv[2]). */
export interface ReplicaChildOptions {
  /** The node's options; only JSON-serialisable fields (no ports, projection or registry). */
  node: Pick<NodeOptions, 'id' | 'dataDir' | 'cluster' | 'role' | 'tuning'>;
  /** Apply-lag histogram range in ms (larger lags count in the last bucket). Default 120_000. */
  lagMaxMs?: number;
  /** RSS sampling period in ms. Default 100. */
  rssSampleMs?: number;
}

/** Apply-lag histogram: `[lagMs, count]` for every non-empty 1-ms bucket. */
export interface LagHistogram {
  buckets: [number, number][];
  count: number;
}

/** One `process.memoryUsage()` reading, bytes. */
export interface MemorySample {
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

/** Memory figures of a replica child. */
export interface ReplicaMemory {
  /** Right after the node opened (recovery done), after a forced GC, before any stream was served. */
  idle: MemorySample;
  /** Per-field maximum of the samples since the last `memoryReset` (or since start). */
  max: MemorySample;
  now: MemorySample;
  /** Bytes the memory store's arenas reserve now, and when the node opened. */
  arenaReservedBytes: number;
  idleArenaReservedBytes: number;
  samples: number;
}

/** GC pauses seen in a replica child since the last `lagReset`. */
export interface GcPauses {
  count: number;
  totalMs: number;
  maxMs: number;
}

/** What `lagReport` answers: figures since the last `lagReset`. */
export interface LagReport {
  lag: LagHistogram;
  gc: GcPauses;
  /** Longest event-loop delay seen (`monitorEventLoopDelay`, 10 ms resolution), ms. */
  eventLoopDelayMaxMs: number;
}

/** Child -> parent messages. */
export type ReplicaChildMessage =
  | { type: 'ready'; pid: number; address: string; appliedLsn: number; atMs: number }
  | { type: 'startError'; message: string }
  | { type: 'reply'; id: number; ok: true; result: unknown }
  | { type: 'reply'; id: number; ok: false; error: string };

/**
 * Parent -> child requests (`{ id, op, args }`) and what each replies:
 * - `status` -> `node.status()`;
 * - `waitApplied [lsn]` -> `{ atMs, appliedLsn }` once the projection applied `lsn` (`atMs`: {@link wallNow} then);
 * - `lagReset` -> null: empties the apply-lag histogram, the GC figures and the event-loop delay monitor;
 * - `lagReport` -> {@link LagReport};
 * - `memoryReset` -> null: restarts the max tracking; `memory [gcFirst?]` -> {@link ReplicaMemory}
 *   (`now` read after a forced GC when `gcFirst` is true);
 * - `cpu` -> `process.cpuUsage()` (µs of user and system CPU since the child started);
 * - `close` -> null, then the child closes its node and exits.
 */
export interface ReplicaChildRequest {
  id: number;
  op: 'status' | 'waitApplied' | 'lagReset' | 'lagReport' | 'memoryReset' | 'memory' | 'cpu' | 'close';
  args?: unknown[];
}

/**
 * Wall-clock milliseconds with sub-ms resolution, comparable between
 * processes of one machine (`performance.timeOrigin + performance.now()`).
 */
export function wallNow(): number {
  return performance.timeOrigin + performance.now();
}

// ---- cleanup: children by PID, temp directories ----

const children = new Set<ReplicaProcess>();
const tempDirs = new Set<string>();
let hooksInstalled = false;

function cleanupNow(): void {
  for (const child of children) child.killNow();
  for (const dir of tempDirs) {
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
    } catch {
      // best effort at exit
    }
  }
  tempDirs.clear();
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', cleanupNow);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      cleanupNow();
      process.exit(130);
    });
  }
  process.on('uncaughtException', (err) => {
    console.error('bench: uncaught exception:', err);
    cleanupNow();
    process.exit(1);
  });
  process.on('unhandledRejection', (err) => {
    console.error('bench: unhandled rejection:', err);
    cleanupNow();
    process.exit(1);
  });
}

/** Makes a fresh temp directory (`engram-bench-<prefix>-XXXX`), removed at exit or by {@link removeTempDir}. */
export function makeTempDir(prefix: string): string {
  installHooks();
  const dir = mkdtempSync(join(tmpdir(), `engram-bench-${prefix}-`));
  tempDirs.add(dir);
  return dir;
}

/** Removes a directory made by {@link makeTempDir} now. */
export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
  tempDirs.delete(dir);
}

/** Kills every live replica child by PID (SIGKILL) and waits for them to exit. */
export async function killAllReplicas(): Promise<void> {
  await Promise.all([...children].map((c) => c.kill()));
}

/**
 * `n` distinct free TCP ports on 127.0.0.1 (each found by listening on port
 * 0, all held open until every one is known, then released).
 */
export async function freePorts(n: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const server = net.createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve());
      });
    }
    return servers.map((s) => (s.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

// ---- replica children ----

/** A replica node in a child process. Create with {@link startReplica}. */
export class ReplicaProcess {
  readonly id: string;
  readonly pid: number;
  /** Resolves when the child has exited (never rejects). */
  readonly exited: Promise<void>;
  /** The `ready` message: replication address, applied LSN after recovery, and when (wall ms). */
  ready: { address: string; appliedLsn: number; atMs: number } | undefined;
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #nextId = 1;
  #exitedFlag = false;
  #stderr = '';

  /** @internal use {@link startReplica}. */
  constructor(child: ChildProcess, id: string) {
    if (child.pid === undefined) throw new Error(`could not start the child of replica ${id}`);
    this.#child = child;
    this.id = id;
    this.pid = child.pid;
    children.add(this);
    child.stderr?.on('data', (chunk: Buffer) => {
      this.#stderr = (this.#stderr + chunk.toString()).slice(-4096);
      process.stderr.write(`[${id}] ${chunk.toString()}`);
    });
    child.on('error', () => undefined); // a send on a closed channel: the exit handler reports
    child.on('message', (m: ReplicaChildMessage) => {
      if (m.type !== 'reply') return;
      const p = this.#pending.get(m.id);
      if (p === undefined) return;
      this.#pending.delete(m.id);
      if (m.ok) p.resolve(m.result);
      else p.reject(new Error(`replica ${id}: ${m.error}`));
    });
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.#exitedFlag = true;
        children.delete(this);
        for (const p of this.#pending.values()) p.reject(new Error(`replica ${id} (pid ${this.pid}) exited (${signal ?? code})${this.#tail()}`));
        this.#pending.clear();
        resolve();
      });
    });
  }

  /** Sends a request; resolves with the child's reply. */
  request(op: ReplicaChildRequest['op'], args: unknown[] = [], timeoutMs = REQUEST_TIMEOUT_MS): Promise<unknown> {
    if (this.#exitedFlag) return Promise.reject(new Error(`replica ${this.id} has exited`));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`replica ${this.id}: ${op} got no reply within ${timeoutMs} ms${this.#tail()}`));
      }, timeoutMs);
      this.#pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      const message: ReplicaChildRequest = { id, op, args };
      this.#child.send(message, (err) => {
        if (err === null) return;
        const p = this.#pending.get(id);
        this.#pending.delete(id);
        p?.reject(new Error(`replica ${this.id}: could not send ${op}: ${err.message}`));
      });
    });
  }

  /** Resolves with the wall time (ms, {@link wallNow}) at which the replica had applied `lsn`. */
  async waitApplied(lsn: number, timeoutMs = REQUEST_TIMEOUT_MS): Promise<number> {
    const r = (await this.request('waitApplied', [lsn], timeoutMs)) as { atMs: number };
    return r.atMs;
  }

  /** CPU time (user + system, µs) the child has used so far. */
  async cpuMicros(): Promise<number> {
    const { user, system } = (await this.request('cpu')) as NodeJS.CpuUsage;
    return user + system;
  }

  /** Closes the node gracefully and waits for the process to exit (SIGKILL after `timeoutMs`). */
  async close(timeoutMs = 20_000): Promise<void> {
    if (this.#exitedFlag) return;
    await this.request('close', [], timeoutMs).catch(() => undefined);
    const timer = setTimeout(() => this.killNow(), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** SIGKILLs the child by PID and waits for it to exit. */
  kill(): Promise<void> {
    this.killNow();
    return this.exited;
  }

  /** @internal SIGKILL by PID without waiting (exit hook). */
  killNow(): void {
    if (this.#exitedFlag) return;
    try {
      process.kill(this.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }

  #tail(): string {
    return this.#stderr.length === 0 ? '' : `\n--- stderr tail ---\n${this.#stderr}`;
  }
}

/**
 * Forks `node --expose-gc --import tsx bench/replicaChild.ts <options JSON>`
 * and resolves once its node is open and listening (rejects, with the child
 * killed, if it fails to start). Extra Node flags for the children come from
 * `BENCH_CHILD_NODE_FLAGS` (space-separated), e.g. to profile the replicas:
 * `BENCH_CHILD_NODE_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof"`.
 */
export function startReplica(options: ReplicaChildOptions): Promise<ReplicaProcess> {
  installHooks();
  const child = fork(CHILD_ENTRY, [JSON.stringify(options)], {
    execArgv: ['--expose-gc', ...(process.env['BENCH_CHILD_NODE_FLAGS'] ?? '').split(' ').filter((f) => f !== ''), '--import', TSX],
    stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
  });
  const replica = new ReplicaProcess(child, options.node.id);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      replica.killNow();
      reject(new Error(`replica ${options.node.id} did not start within ${START_TIMEOUT_MS} ms`));
    }, START_TIMEOUT_MS);
    const onMessage = (m: ReplicaChildMessage) => {
      if (m.type === 'ready') {
        clearTimeout(timer);
        child.off('message', onMessage);
        replica.ready = { address: m.address, appliedLsn: m.appliedLsn, atMs: m.atMs };
        resolve(replica);
      } else if (m.type === 'startError') {
        clearTimeout(timer);
        child.off('message', onMessage);
        replica.killNow();
        reject(new Error(`replica ${options.node.id} failed to start: ${m.message}`));
      }
    };
    child.on('message', onMessage);
    void replica.exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`replica ${options.node.id} exited before it was ready`));
    });
  });
}

/** The p-quantile (0..1, nearest rank) of a {@link LagHistogram}, in ms. */
export function histogramQuantile(h: LagHistogram, p: number): number {
  if (h.count === 0) return NaN;
  const rank = Math.min(h.count, Math.max(1, Math.ceil(p * h.count)));
  let seen = 0;
  for (const [ms, n] of h.buckets) {
    seen += n;
    if (seen >= rank) return ms;
  }
  return h.buckets[h.buckets.length - 1]?.[0] ?? NaN;
}

/** Merges histograms (e.g. both replicas' apply lag into one distribution). */
export function mergeHistograms(hs: LagHistogram[]): LagHistogram {
  const counts = new Map<number, number>();
  let count = 0;
  for (const h of hs) {
    count += h.count;
    for (const [ms, n] of h.buckets) counts.set(ms, (counts.get(ms) ?? 0) + n);
  }
  return { buckets: [...counts.entries()].sort((a, b) => a[0] - b[0]), count };
}
