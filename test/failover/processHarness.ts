/**
 * Harness of the failover tests and bench: nodes as child processes
 * (failoverChild.ts) on free loopback ports with real temp data dirs, every
 * child SIGKILLed by PID at cleanup and on exit; a load writer that follows
 * whichever node says it is primary and records every attempted and
 * acknowledged id with the node and epoch that accepted it.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AckMode, ClusterConfig, NodeStatus, SpaceSummary, Tuning } from '../../src/index.js';
import type { FailoverChildMessage } from './failoverChild.js';
import { waitFor } from '../helpers/waitFor.js';

const CHILD = fileURLToPath(new URL('./failoverChild.ts', import.meta.url));
const live = new Set<ChildProcess>();
process.on('exit', () => { for (const c of live) try { process.kill(c.pid!, 'SIGKILL'); } catch { /* gone */ } });

export const FAST: Partial<Tuning> = { heartbeatIntervalMs: 100, failoverTimeoutMs: 600, leaseMs: 400, electionRoundMs: 400, backoffScheduleMs: [50, 100, 200], ackTimeoutMs: 2000 };

export class ChildError extends Error {
  constructor(readonly code: string, message: string) { super(`${code}: ${message}`); }
}

export interface Ack { lsn: number; seq: number; count: number; epoch: number; node: string; ms: number }
export interface NodeEvent { event: string; payload: Record<string, unknown>; atMs: number }

/** One node in a child process. */
export class ProcNode {
  readonly events: NodeEvent[] = [];
  readonly exited: Promise<void>;
  #exited = false;
  #next = 1;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  constructor(readonly id: string, readonly child: ChildProcess) {
    live.add(child);
    child.on('message', (m: FailoverChildMessage) => {
      if (m.type === 'event') this.events.push({ event: m.event, payload: m.payload as Record<string, unknown>, atMs: m.atMs });
      if (m.type !== 'reply') return;
      const p = this.#pending.get(m.id);
      this.#pending.delete(m.id);
      if (m.ok) p?.resolve(m.result); else p?.reject(new ChildError(m.error.code, m.error.message));
    });
    child.on('error', () => undefined);
    this.exited = new Promise((resolve) => child.once('exit', () => {
      this.#exited = true;
      live.delete(child);
      for (const p of this.#pending.values()) p.reject(new ChildError('Exited', `${id} exited`));
      this.#pending.clear();
      resolve();
    }));
  }
  get alive(): boolean { return !this.#exited; }
  get pid(): number { return this.child.pid!; }
  request(op: string, args: unknown[] = []): Promise<unknown> {
    if (this.#exited) return Promise.reject(new ChildError('Exited', `${this.id} has exited`));
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.child.send({ id, op, args }, (err) => { if (err) { this.#pending.delete(id); reject(new ChildError('Exited', err.message)); } });
    });
  }
  writeMany(space: string, entries: unknown[], ack?: AckMode): Promise<Ack> { return this.request('writeMany', [space, entries, ack]) as Promise<Ack>; }
  status(): Promise<NodeStatus> { return this.request('status') as Promise<NodeStatus>; }
  space(name: string): Promise<SpaceSummary> { return this.request('space', [name]) as Promise<SpaceSummary>; }
  read(space: string, id: string): Promise<unknown> { return this.request('read', [space, id]); }
  promote(force = false): Promise<{ epoch: number }> { return this.request('promote', [force]) as Promise<{ epoch: number }>; }
  handover(to?: string): Promise<{ primary: string; epoch: number; lsn: number }> { return this.request('handover', to === undefined ? [] : [to]) as Promise<{ primary: string; epoch: number; lsn: number }>; }
  signal(sig: NodeJS.Signals): void { if (!this.#exited) try { process.kill(this.pid, sig); } catch { /* gone */ } }
  async kill(): Promise<void> { this.signal('SIGKILL'); await this.exited; }
}

export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: n }, () => new Promise<net.Server>((resolve, reject) => {
    const s = net.createServer().once('error', reject);
    s.listen(0, '127.0.0.1', () => resolve(s));
  })));
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

export interface ClusterOptions { size?: number; /** Nodes started at once (default all). */ initial?: string[]; tuning?: Partial<Tuning>; ack?: AckMode; autoFailover?: boolean }

/** A cluster n1..nN of child-process nodes; n1 bootstraps as primary. */
export class ProcCluster {
  readonly nodes = new Map<string, ProcNode>();
  readonly dirs = new Map<string, string>();
  private constructor(readonly config: ClusterConfig, readonly options: ClusterOptions) {}
  static async start(options: ClusterOptions = {}): Promise<ProcCluster> {
    const ports = await freePorts(options.size ?? 3);
    const c = new ProcCluster({ clusterId: `fo-${process.pid}`, nodes: ports.map((p, i) => ({ id: `n${i + 1}`, replication: `127.0.0.1:${p}` })) }, options);
    try {
      const initial = c.config.nodes.filter((n) => options.initial?.includes(n.id) ?? true).map((n) => n.id);
      await Promise.all(initial.map((id) => c.start(id)));
      if (initial.includes('n1')) await c.heard('n1', initial.filter((id) => id !== 'n1'));
    } catch (err) { await c.cleanup(); throw err; }
    return c;
  }
  node(id: string): ProcNode { const n = this.nodes.get(id); if (!n) throw new Error(`no node ${id}`); return n; }
  get ids(): string[] { return this.config.nodes.map((n) => n.id); }
  liveNodes(): ProcNode[] { return [...this.nodes.values()].filter((n) => n.alive); }
  /** Starts (or restarts, same data dir) node `id` and waits until it runs. */
  async start(id: string): Promise<ProcNode> {
    let dir = this.dirs.get(id);
    if (dir === undefined) this.dirs.set(id, (dir = mkdtempSync(join(tmpdir(), `engram-fo-${id}-`))));
    const options = { id, dataDir: dir, cluster: this.config, role: id === 'n1' ? 'primary' : 'replica', autoFailover: this.options.autoFailover ?? true,
      ...(this.options.ack ? { ack: this.options.ack } : {}), ...(this.options.tuning ? { tuning: this.options.tuning } : {}) };
    const child = fork(CHILD, [], { execArgv: ['--import', 'tsx'], env: { ...process.env, ENGRAM_NODE_OPTIONS: JSON.stringify(options) }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' });
    const node = new ProcNode(id, child);
    this.nodes.set(id, node);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${id} did not start in 20 s`)), 20_000);
      child.on('message', (m: FailoverChildMessage) => {
        if (m.type === 'ready') { clearTimeout(timer); resolve(); }
        if (m.type === 'startError') { clearTimeout(timer); reject(new ChildError(m.error.code, m.error.message)); }
      });
      void node.exited.then(() => { clearTimeout(timer); reject(new Error(`${id} exited while starting`)); });
    });
    return node;
  }
  /** Waits until primary `id` has had a frame from each of `replicas` (so its lease stands on them). */
  async heard(id: string, replicas: string[], timeoutMs = 15_000): Promise<void> {
    await waitFor(async () => {
      const st = await within(this.node(id).status(), 500).catch(() => undefined);
      return replicas.every((r) => st?.replicas.find((p) => p.id === r)?.lastContactAgoMs != null);
    }, { timeoutMs, intervalMs: 20, what: `${id} hearing from ${replicas.join(',')}` });
  }
  /** The live node that says it is primary (highest epoch), polling until one does. */
  async primary(timeoutMs = 15_000, among: string[] = this.ids): Promise<ProcNode> {
    let found: ProcNode | undefined;
    await waitFor(async () => {
      const st = await Promise.all(this.liveNodes().filter((n) => among.includes(n.id)).map((n) => within(n.status(), 300).then((s) => ({ n, s }), () => undefined)));
      const ps = st.filter((x) => x?.s.role === 'primary').sort((a, b) => b!.s.epoch - a!.s.epoch);
      found = ps[0]?.n;
      return found !== undefined;
    }, { timeoutMs, intervalMs: 20, what: `a primary among ${among.join(',')}` });
    return found!;
  }
  /** Waits until every live node has applied the primary's LSN; returns the space summaries by node. */
  async converge(space: string, timeoutMs = 20_000): Promise<Map<string, SpaceSummary>> {
    let seen = '';
    await waitFor(async () => {
      const sts = await Promise.all(this.liveNodes().map((n) => within(n.status(), 500).catch(() => undefined)));
      const p = sts.find((s) => s?.role === 'primary');
      seen = JSON.stringify(sts.map((s) => s && [s.id, s.role, s.epoch, s.lsn, s.appliedLsn]));
      return p !== undefined && sts.every((s) => s !== undefined && s.lsn === p.lsn && s.appliedLsn === p.lsn);
    }, { timeoutMs, intervalMs: 25, what: 'convergence' }).catch((err: Error) => { throw new Error(`${err.message}; last seen ${seen}`); });
    const out = new Map<string, SpaceSummary>();
    for (const n of this.liveNodes()) out.set(n.id, await n.space(space));
    return out;
  }
  uncaught(): NodeEvent[] { return [...this.nodes.values()].flatMap((n) => n.events.filter((e) => e.event === 'error' && e.payload['code'] === 'Uncaught')); }
  async cleanup(): Promise<void> {
    for (const n of this.nodes.values()) n.signal('SIGCONT');
    await Promise.all([...this.nodes.values()].map((n) => n.kill()));
    for (const d of this.dirs.values()) rmSync(d, { recursive: true, force: true });
  }
}

export async function withProcCluster<T>(options: ClusterOptions, fn: (c: ProcCluster) => Promise<T>): Promise<T> {
  const c = await ProcCluster.start(options);
  try { return await fn(c); } finally { await c.cleanup(); }
}

/** `p`, or a rejection after `ms` (a SIGSTOPped child never answers). */
export function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no reply in ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}


/**
 * Writes single-entry batches with fresh ids `<prefix>-<n>` to whichever node
 * says it is primary, `concurrency` at a time; a failed write is retried with
 * a new id against a freshly looked-up primary. Replies that arrive late
 * (after a SIGSTOPped node resumes) are still recorded.
 */
export class LoadWriter {
  readonly attempted = new Set<string>();
  readonly acked = new Map<string, Ack>();
  /** `performance.now()` of every acknowledgement, in order. */
  readonly ackTimes: number[] = [];
  readonly failures: string[] = [];
  #n = 0;
  #stopped = false;
  #target: ProcNode | undefined;
  #runs: Promise<void>[] = [];
  constructor(readonly cluster: ProcCluster, readonly space: string, readonly prefix: string, readonly ack: AckMode, readonly timeoutMs = 1500) {}
  start(concurrency = 2): void { for (let i = 0; i < concurrency; i++) this.#runs.push(this.#loop()); }
  async stop(): Promise<void> { this.#stopped = true; await Promise.all(this.#runs); }
  async #loop(): Promise<void> {
    while (!this.#stopped) {
      const target = this.#target ?? (this.#target = await this.cluster.primary(20_000).catch(() => undefined));
      if (target === undefined) continue;
      const id = `${this.prefix}-${this.#n++}`;
      this.attempted.add(id);
      const write = target.writeMany(this.space, [{ id, text: id }], this.ack).then((a) => {
        this.acked.set(id, a);
        this.ackTimes.push(performance.now());
        return true;
      });
      let timer: NodeJS.Timeout | undefined;
      const ok = await Promise.race([write, new Promise<false>((r) => (timer = setTimeout(() => r(false), this.timeoutMs)))]).catch((err: unknown) => {
        this.failures.push(String((err as Error).message).slice(0, 80));
        return false;
      });
      clearTimeout(timer);
      if (!ok && this.#target === target) this.#target = undefined;
    }
  }
}

/** The ids of `ids` that `node` cannot read in `space`. */
export async function missingIds(node: ProcNode, space: string, ids: Iterable<string>): Promise<string[]> {
  const list = [...ids];
  const got = await Promise.all(list.map((id) => node.read(space, id)));
  return list.filter((_, i) => got[i] === undefined);
}
