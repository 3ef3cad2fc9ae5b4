/**
 * A cluster of `engram-repl node` child processes on free loopback ports,
 * with its config file and data dirs in one temp dir: the demo runs on it,
 * and so do the CLI's end-to-end tests. Each child logs JSON lines, parsed
 * into events one can wait for. `cleanup()` SIGKILLs every child by PID and
 * removes the temp dir; it also runs on process exit, so nothing is left
 * behind when the owner fails.
 *
 * @example
 * const cluster = await ProcessCluster.create({ size: 3, tuning: { degradedLagMs: 500 } })
 * try { await cluster.startAll(); await cluster.api('n1').write('notes', [{ id: 'm1' }]) } finally { await cluster.cleanup() }
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Tuning } from '../actors/nodeOptions.js';
import type { AckMode } from '../types.js';
import { ApiClient } from './apiClient.js';
import { type ClusterFile, parseConfig } from './config.js';
import { type EventLine, parseEventLine } from './eventLog.js';

/** Options of {@link ProcessCluster.create}. */
export interface ProcessClusterOptions {
  size?: number;
  tuning?: Partial<Tuning>;
  ack?: AckMode;
  failover?: { auto: boolean; timeoutMs: number };
  /** Prefix of the temp dir. */
  prefix?: string;
  /** Extra flags for every `engram-repl node` (e.g. `--inspect URL`). */
  nodeFlags?: string[];
}

/** One `engram-repl node` child. */
export interface NodeChild {
  id: string;
  pid: number;
  child: ChildProcess;
  /** Resolves with the exit code (or the signal's name) when the child exits. */
  exited: Promise<number | string>;
  alive: boolean;
  /** Its stderr so far (for failure reports). */
  stderr: string;
}

const MAIN = fileURLToPath(new URL(`./main${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url));
/** Run from TypeScript sources (tsx): children load the same way. */
const LOADER: string[] = import.meta.url.endsWith('.ts') ? ['--import', import.meta.resolve('tsx')] : [];

const everyCluster = new Set<ProcessCluster>();
process.on('exit', () => {
  for (const c of everyCluster) c.cleanupNow();
});

/** Free TCP ports on 127.0.0.1 (bound then released). */
async function freeLoopbackPorts(count: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: count }, () => new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
    const server = createServer().once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  })));
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

/** The command line that runs `engram-repl` the way this process runs (tsx or built). */
export function engramReplArgs(args: string[]): string[] {
  return [...LOADER, MAIN, ...args];
}

/** A cluster of node processes sharing one config file and temp dir. */
export class ProcessCluster {
  readonly dir: string;
  readonly config: ClusterFile;
  readonly configPath: string;
  readonly nodes = new Map<string, NodeChild>();
  /** Every JSON event line of every child, in arrival order. */
  readonly events: EventLine[] = [];
  readonly #nodeFlags: string[];
  readonly #listeners = new Set<(e: EventLine) => void>();

  private constructor(dir: string, config: ClusterFile, nodeFlags: string[]) {
    this.dir = dir;
    this.config = config;
    this.configPath = join(dir, 'cluster.json');
    this.#nodeFlags = nodeFlags;
    writeFileSync(this.configPath, `${JSON.stringify(config, null, 2)}\n`);
    everyCluster.add(this);
  }

  /** Makes the temp dir and config file (n1 bootstraps as primary); starts nothing. */
  static async create(options: ProcessClusterOptions = {}): Promise<ProcessCluster> {
    const size = options.size ?? 3;
    const ports = await freeLoopbackPorts(size * 2);
    const config: ClusterFile = {
      clusterId: `cluster-${process.pid}`,
      nodes: Array.from({ length: size }, (_, i) => ({ id: `n${i + 1}`, replication: `127.0.0.1:${ports[i]}`, http: `127.0.0.1:${ports[size + i]}` })),
      primary: 'n1',
      ack: options.ack ?? 'local',
      failover: options.failover ?? { auto: true, timeoutMs: 1500 },
      shipBeforeDurable: true,
      tuning: options.tuning ?? {},
    };
    parseConfig(config); // a bad option fails here, not in three children
    const dir = mkdtempSync(join(tmpdir(), options.prefix ?? 'engram-cluster-'));
    return new ProcessCluster(dir, config, options.nodeFlags ?? []);
  }

  /** `http://host:port` of node `id`. */
  url(id: string): string {
    const node = this.config.nodes.find((n) => n.id === id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return `http://${node.http}`;
  }

  /** An API client of node `id`. */
  api(id: string, timeoutMs?: number): ApiClient {
    return new ApiClient(this.url(id), timeoutMs);
  }

  /** Starts node `id` (its data dir kept across restarts) and waits for its `ready` line. */
  async start(id: string, timeoutMs = 30_000): Promise<NodeChild> {
    const args = engramReplArgs(['node', '--config', this.configPath, '--id', id, '--data', join(this.dir, id), '--log', 'json', ...this.#nodeFlags]);
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.pid === undefined) throw new Error(`could not start node ${id}`);
    const node: NodeChild = {
      id, pid: child.pid, child, alive: true, stderr: '',
      exited: new Promise((resolve) => child.once('exit', (code, signal) => {
        node.alive = false;
        resolve(code ?? signal ?? 'unknown');
      })),
    };
    this.nodes.set(id, node);
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (node.stderr = (node.stderr + d).slice(-8192)));
    let partial = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      const lines = (partial + d).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        const event = parseEventLine(line);
        if (event === undefined) continue;
        this.events.push(event);
        for (const l of this.#listeners) l(event);
      }
    });
    const since = this.events.length;
    await Promise.race([
      this.waitForEvent((e) => e.node === id && e.event === 'ready', timeoutMs, `${id} ready`, since),
      node.exited.then((code) => { throw new Error(`node ${id} exited (${code}) before it was ready:\n${node.stderr}`); }),
    ]);
    return node;
  }

  /** Starts every node of the config, the bootstrap primary last (so its replicas are there when its lease starts). */
  async startAll(): Promise<void> {
    await Promise.all(this.config.nodes.filter((n) => n.id !== this.config.primary).map((n) => this.start(n.id)));
    await this.start(this.config.primary);
  }

  /** The first event (already seen or coming) matching `match`; rejects after `timeoutMs`. */
  waitForEvent(match: (e: EventLine) => boolean, timeoutMs: number, what: string, since = 0): Promise<EventLine> {
    const seen = this.events.slice(since).find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const listener = (e: EventLine) => {
        if (!match(e)) return;
        clearTimeout(timer);
        this.#listeners.delete(listener);
        resolve(e);
      };
      const timer = setTimeout(() => {
        this.#listeners.delete(listener);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      this.#listeners.add(listener);
    });
  }

  /** Sends `signal` to node `id` by PID (no-op once it exited). */
  signal(id: string, signal: NodeJS.Signals): void {
    const node = this.nodes.get(id);
    if (node === undefined || !node.alive) return;
    try {
      process.kill(node.pid, signal);
    } catch {
      // already gone
    }
  }

  /** SIGKILLs node `id` and waits for it to exit. */
  async kill(id: string): Promise<void> {
    this.signal(id, 'SIGKILL');
    await this.nodes.get(id)?.exited;
  }

  /** SIGKILLs every child by PID and removes the temp dir, synchronously (also used at process exit). */
  cleanupNow(): void {
    for (const node of this.nodes.values()) {
      if (!node.alive) continue;
      try {
        process.kill(node.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
    everyCluster.delete(this);
  }

  /** SIGKILLs every child, waits for them to exit, removes the temp dir. */
  async cleanup(): Promise<void> {
    const exits = [...this.nodes.values()].map((n) => n.exited);
    this.cleanupNow();
    await Promise.all(exits);
  }
}
