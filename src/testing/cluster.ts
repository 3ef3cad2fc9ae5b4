/**
 * An in-process cluster of N real nodes (`openNode`: the real actors,
 * machines, log and store) on one simulated network, each with its own
 * simulated disk and clock. Nodes crash (clock killed, connections reset,
 * unsynced disk state lost) and restart from what their disk kept.
 *
 * @example
 * const cluster = new SimCluster(world, { size: 3, tuning, observer }); cluster.startAll()
 * cluster.crash('n1'); cluster.start('n1')
 */
import type { NodeLogics } from '../actors/nodeSystem.js';
import type { Tuning } from '../actors/nodeOptions.js';
import { type ReplicationNode, openNode } from '../actors/replicationNode.js';
import type { AppliedRecord } from '../store/reducer.js';
import type { Prng } from './prng.js';
import { RecordingStore } from './recordingStore.js';
import type { Scheduler } from './scheduler.js';
import { NodeClock } from './simClock.js';
import { SimDisk, type SimDiskOptions } from './simDisk.js';
import { SimNetwork } from './simNetwork.js';
import type { Trace } from './trace.js';

/** What the cluster tells the checkers. */
export interface ClusterObserver {
  /** Node `node` (incarnation `life`) applied a record. */
  applied(node: string, life: number, record: AppliedRecord): void;
  /** Node `node` replaced its state (snapshot install or rebuild). */
  restored(node: string, life: number): void;
  /** A node event (promoted, demoted, truncated, ...) with its payload. */
  event(node: string, life: number, name: string, payload: Record<string, unknown>): void;
  /** A node could not start from its disk. */
  startFailed(node: string, err: unknown): void;
}

/** The shared parts of a simulated world. */
export interface World {
  scheduler: Scheduler;
  rng: Prng;
  network: SimNetwork;
  trace: Trace;
}

/** One configured node and its current incarnation. */
export interface SimNode {
  readonly id: string;
  readonly disk: SimDisk;
  clock: NodeClock;
  /** The running node, once started (undefined while down or starting). */
  node: ReplicationNode | undefined;
  /** Incarnation number: 1 for the first start, +1 per restart. */
  life: number;
  up: boolean;
}

/** Options of a simulated cluster. */
export interface SimClusterOptions {
  size: number;
  tuning: Partial<Tuning>;
  observer: ClusterObserver;
  disk?: SimDiskOptions;
  adaptLogics?: (logics: NodeLogics) => NodeLogics;
}

/** An I/O error the simulated disk was told to inject (not a bug of the node). */
function isInjected(err: unknown): boolean {
  return (err as { context?: { injected?: unknown } } | undefined)?.context?.injected === true;
}

const EVENTS = ['promoted', 'demoted', 'truncated', 'replicaStatus', 'snapshot', 'lagAlert', 'error'] as const;

export class SimCluster {
  readonly nodes: SimNode[];
  readonly #world: World;
  readonly #options: SimClusterOptions;
  readonly #config: { clusterId: string; nodes: { id: string; replication: string }[] };

  constructor(world: World, options: SimClusterOptions) {
    this.#world = world;
    this.#options = options;
    const ids = Array.from({ length: options.size }, (_, i) => `n${i + 1}`);
    this.#config = { clusterId: 'sim', nodes: ids.map((id) => ({ id, replication: SimNetwork.address(id) })) };
    this.nodes = ids.map((id) => ({
      id, disk: new SimDisk(world.rng.fork(), options.disk), clock: new NodeClock(world.scheduler), node: undefined, life: 0, up: false,
    }));
  }

  /** The node with id `id`. */
  get(id: string): SimNode {
    const n = this.nodes.find((x) => x.id === id);
    if (n === undefined) throw new RangeError(`no node ${id}`);
    return n;
  }

  /** Starts every node (n1 bootstraps as primary). */
  startAll(): void {
    for (const n of this.nodes) this.start(n.id);
  }

  /** Starts a new incarnation of a down node from what its disk kept. */
  start(id: string): void {
    const n = this.get(id);
    if (n.up) return;
    n.life++;
    n.up = true;
    n.clock = new NodeClock(this.#world.scheduler);
    const life = n.life;
    const clock = n.clock;
    const observer = this.#options.observer;
    this.#world.trace.add(id, `start (life ${life})`);
    const projection = new RecordingStore({
      applied: (record) => observer.applied(id, life, record),
      restored: () => observer.restored(id, life),
    });
    openNode({
      id, dataDir: `/data/${id}`, role: id === 'n1' ? 'primary' : 'replica', cluster: this.#config, tuning: this.#options.tuning, projection,
    }, {
      fs: n.disk.mount(clock), transport: this.#world.network.transport(id, clock), clock, random: this.#world.rng.fork(),
      ...(this.#options.adaptLogics === undefined ? {} : { adaptLogics: this.#options.adaptLogics }),
    }).then((node) => {
      if (clock.dead) return;
      n.node = node;
      for (const name of EVENTS) {
        node.on(name, (payload: object) => {
          if (!clock.dead) observer.event(id, life, name, payload as Record<string, unknown>);
        });
      }
      this.#world.trace.add(id, `up role=${node.role} epoch=${node.status().epoch} lsn=${node.status().lsn}`);
    }, (err: unknown) => {
      if (clock.dead) return;
      if (!isInjected(err)) {
        observer.startFailed(id, err);
        return;
      }
      // The process died of an injected disk error while starting: its supervisor starts it again.
      this.crash(id);
      const s = this.#world.scheduler;
      s.at(s.now + 500, () => this.start(id));
    });
  }

  /** Crashes a node: its timers stop, its connections reset, its disk loses what was not durable. */
  crash(id: string): void {
    const n = this.get(id);
    if (!n.up) return;
    n.clock.kill();
    this.#world.network.crash(id);
    n.disk.crash();
    n.node = undefined;
    n.up = false;
    this.#world.trace.add(id, 'crash');
  }

  /** Running nodes (started and open). */
  running(): { id: string; node: ReplicationNode; clock: NodeClock }[] {
    return this.nodes.flatMap((n) => (n.node !== undefined && !n.clock.dead ? [{ id: n.id, node: n.node, clock: n.clock }] : []));
  }
}
