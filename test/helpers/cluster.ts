/**
 * An in-process cluster on real TCP (127.0.0.1, ports found free at run
 * time) and real temp dirs: `createNode` for each node, restart of a stopped
 * node on its own data dir, and `closeAll` in a `finally`, so a failing test
 * leaves no socket, timer or directory behind. Plus the few probes the
 * replication tests share: metric values, space digests, catching up, and a
 * raw TCP peer that speaks (or garbles) the protocol to a node's port.
 *
 * @example
 * test('replicates', () => withCluster({ size: 2 }, async (c) => {
 *   await c.primary.write('notes', { id: 'm1' })
 *   await c.waitCaughtUp('n2')
 * }))
 */
import net from 'node:net';
import { createNode } from '../../src/index.js';
import type { ReplicationNode } from '../../src/actors/replicationNode.js';
import type { ClusterConfig, NodeOptions, Tuning } from '../../src/actors/nodeOptions.js';
import { RecordKind } from '../../src/types.js';
import { FrameReader } from '../../src/wire/frameReader.js';
import { type WireMessage, decodeMessage, encodeBatchFrame, encodeMessage } from '../../src/wire/messages.js';
import { encodePayload } from '../../src/wire/payload.js';
import { encodeRecord } from '../../src/wire/record.js';
import { makeTempDir, removeDir, reportable } from './tempDir.js';
import { once, waitFor } from './waitFor.js';

/** Options of {@link startCluster}. */
export interface ClusterOptions {
  /** Nodes n1..nN; n1 starts as the primary. Default 2. */
  size?: number;
  /** Tuning for every node (per node: `nodeOptions`). */
  tuning?: Partial<Tuning>;
  /** Extra options per node id (e.g. a throttled `transport` for one replica). */
  nodeOptions?: Record<string, Partial<NodeOptions>>;
}

/** Free TCP ports on 127.0.0.1, all held open together so none repeats, then released. */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: count }, () => new Promise<net.Server>((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => resolve(server));
  })));
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

export class Cluster {
  readonly config: ClusterConfig;
  /** Data dir of every node ever started, by id. */
  readonly dirs = new Map<string, string>();
  readonly #running = new Map<string, ReplicationNode>();
  readonly #peers = new Set<net.Socket>();
  readonly #options: ClusterOptions;

  constructor(config: ClusterConfig, options: ClusterOptions) {
    this.config = config;
    this.#options = options;
  }

  /** The running node `id` (throws when it is stopped). */
  node(id: string): ReplicationNode {
    const node = this.#running.get(id);
    if (node === undefined) throw new Error(`node ${id} is not running`);
    return node;
  }

  /** n1, the primary. */
  get primary(): ReplicationNode {
    return this.node('n1');
  }

  /** Creates (or re-opens, on its existing data dir) node `id`. */
  async start(id: string, extra: Partial<NodeOptions> = {}): Promise<ReplicationNode> {
    if (this.#running.has(id)) throw new Error(`node ${id} is already running`);
    const dir = this.dirs.get(id) ?? (await makeTempDir(`engram-cluster-${id}-`));
    this.dirs.set(id, dir);
    const node = await createNode({
      id, dataDir: dir, cluster: this.config, role: id === 'n1' ? 'primary' : 'replica',
      // These tests are about replication, not failover: a busy test machine must not trigger elections or lease loss.
      autoFailover: false,
      tuning: this.#options.tuning ?? {}, ...this.#options.nodeOptions?.[id], ...extra,
    });
    this.#running.set(id, node);
    return node;
  }

  /** Closes node `id`, keeping its data dir for a restart. */
  async stop(id: string): Promise<void> {
    const node = this.#running.get(id);
    this.#running.delete(id);
    await node?.close();
  }

  /** Waits until replica `id` has applied everything the primary has flushed. */
  async waitCaughtUp(id: string, timeoutMs = 10_000): Promise<void> {
    await waitFor(() => this.node(id).status().appliedLsn === this.primary.status().lsn && this.primary.status().lsn > 0,
      { timeoutMs, what: `${id} applied up to the primary's LSN ${this.primary.status().lsn}` });
  }

  /**
   * A raw `node:net` connection to node `id`'s replication port: what the node
   * sends back (decoded) and when it closes. `closeAll` destroys it.
   */
  async rawPeer(id: string) {
    const address = this.node(id).replicationAddress;
    const colon = address.lastIndexOf(':');
    const socket = net.connect({ host: address.slice(0, colon), port: Number(address.slice(colon + 1)) });
    this.#peers.add(socket);
    socket.on('error', () => undefined);
    await once<void>((l) => socket.once('connect', () => l()), { what: `connect to ${id}` });
    const reader = new FrameReader();
    const received: WireMessage[] = [];
    socket.on('data', (chunk) => {
      reader.push(new Uint8Array(chunk));
      for (let f = reader.next(); f !== undefined; f = reader.next()) received.push(decodeMessage(f));
    });
    const closed = once<void>((l) => socket.once('close', () => l()), { what: `${id} closes the connection`, timeoutMs: 10_000 });
    closed.catch(() => undefined); // awaited by the tests that expect a close
    return { socket, received, closed, send: (chunks: readonly Uint8Array[]) => { for (const c of chunks) socket.write(c); } };
  }

  /** Destroys every raw peer, closes every running node and removes every data dir. */
  async closeAll(): Promise<void> {
    for (const socket of this.#peers) socket.destroy();
    const nodes = [...this.#running.values()];
    this.#running.clear();
    await Promise.allSettled(nodes.map((n) => n.close()));
    await Promise.allSettled([...this.dirs.values()].map((d) => removeDir(d)));
  }
}

/**
 * Starts a cluster of `size` nodes (replicas first, so the primary's first
 * dial finds them). A port taken by another process between `freePorts` and
 * the node's listen is retried with fresh ports.
 */
export async function startCluster(options: ClusterOptions = {}, attempts = 3): Promise<Cluster> {
  const ports = await freePorts(options.size ?? 2);
  const nodes = ports.map((port, i) => ({ id: `n${i + 1}`, replication: `127.0.0.1:${port}` }));
  const cluster = new Cluster({ clusterId: `test-${process.pid}-${ports[0]}`, nodes }, options);
  try {
    for (const n of nodes.slice(1)) await cluster.start(n.id);
    await cluster.start('n1');
  } catch (err) {
    await cluster.closeAll();
    if (attempts > 1 && String((err as Error).message).includes('EADDRINUSE')) return startCluster(options, attempts - 1);
    throw err;
  }
  return cluster;
}

/** Runs `fn` with a fresh cluster, closing every node and removing every dir afterwards, even on failure. */
export async function withCluster(options: ClusterOptions, fn: (cluster: Cluster) => Promise<void>): Promise<void> {
  const cluster = await startCluster(options);
  try {
    await fn(cluster);
  } catch (err) {
    throw reportable(err);
  } finally {
    await cluster.closeAll();
  }
}

/** The value of metric `name` with exactly these labels on `node` (0 when never set). */
export async function metricValue(node: ReplicationNode, name: string, labels: Record<string, string> = {}): Promise<number> {
  const data = await node.register.getSingleMetric(name)?.get();
  if (data === undefined) throw new Error(`no metric ${name}`);
  const keys = Object.keys(labels);
  const hit = data.values.find((v) => {
    const l = v.labels as Record<string, unknown>;
    return Object.keys(l).length === keys.length && keys.every((k) => String(l[k]) === labels[k]);
  });
  return hit?.value ?? 0;
}

/** `{ space: "count/lastSeq/digest" }` of every space on `node`: equal on nodes that applied the same log. */
export function digests(node: ReplicationNode): Record<string, string> {
  const out: Record<string, string> = {};
  for (const space of node.spaces().sort()) {
    const s = node.space(space);
    out[space] = `${s.count}/${s.lastSeq}/${s.digest}`;
  }
  return out;
}

/** Writes `count` memories `${prefix}-<i>` to `space` in batches of `perWrite`, each with `padBytes` of text. */
export async function writeMemories(node: ReplicationNode, space: string, prefix: string, count: number, padBytes = 0, perWrite = 50): Promise<void> {
  const pad = 'x'.repeat(padBytes);
  for (let i = 0; i < count; i += perWrite) {
    const entries = Array.from({ length: Math.min(perWrite, count - i) }, (_, j) => ({ id: `${prefix}-${i + j}`, text: `${prefix} ${i + j} ${pad}` }));
    await node.writeMany(space, entries);
  }
}

/** A raw TCP connection to a node's replication port ({@link Cluster.rawPeer}). */
export type RawPeer = Awaited<ReturnType<Cluster['rawPeer']>>;

/** Opens a session on `replicaId` as if from the primary n1 (its epoch and history); resolves with the HELLO_ACK's flushed LSN. */
export async function helloAsPrimary(c: Cluster, replicaId: string): Promise<{ peer: RawPeer; flushedLsn: number }> {
  const peer = await c.rawPeer(replicaId);
  peer.send(encodeMessage({
    kind: 'hello', protocolVersion: 1, clusterId: c.config.clusterId, fromId: 'n1', toId: replicaId,
    epoch: 1, lastLsn: 0, epochHistory: [{ epoch: 1, startLsn: 1 }],
  }));
  await waitFor(() => peer.received.some((m) => m.kind === 'helloAck'), { what: `HELLO_ACK from ${replicaId}` });
  const ack = peer.received.find((m) => m.kind === 'helloAck');
  return { peer, flushedLsn: ack?.kind === 'helloAck' ? ack.flushedLsn : -1 };
}

/** A BATCH frame (two buffers, both owned) of `count` valid Put records in space `evil`, LSNs from `startLsn`. */
export function craftBatch(startLsn: number, count: number, epoch = 1): [Uint8Array, Uint8Array] {
  const now = Date.now();
  const records = Array.from({ length: count }, (_, i) => encodeRecord({
    lsn: startLsn + i, seq: 1_000_000 + i, timestampMs: now, epoch: 1, kind: RecordKind.Put, space: 'evil', key: `e${i}`,
  }, encodePayload({ id: `e${i}`, text: 'crafted by a test' })));
  const payload = new Uint8Array(records.reduce((n, r) => n + r.length, 0));
  records.reduce((at, r) => (payload.set(r, at), at + r.length), 0);
  const [head, body] = encodeBatchFrame({ epoch, startLsn, count, primaryId: 'n1', firstTimestampMs: now, sentAtMs: now }, payload);
  return [head, body.slice()];
}
