/**
 * A simulated network behind the `Transport` port. Each write of a
 * connection is one packet delivered after a seeded delay on the receiving
 * node's clock, in order unless the link reorders. Per directed link the
 * fault schedule sets extra delay, loss (the packet is lost and the
 * connection resets, as TCP would after retries), duplication and
 * reordering (the byte stream is damaged; the protocol must notice), and
 * partitions (packets vanish, new connections time out, open ones die after
 * a keepalive period).
 *
 * @example
 * const net = new SimNetwork(scheduler, rng); const t = net.transport('n1', clock)
 * net.partition('n1', 'n2'); net.heal('n1', 'n2')
 */
import { ReplicationError } from '../errors.js';
import type { Connection, Listener, Transport } from '../ports.js';
import type { Prng } from './prng.js';
import type { Scheduler } from './scheduler.js';
import type { NodeClock } from './simClock.js';

/** Faults of one directed link. */
export interface LinkFaults {
  /** Extra delay per packet, in ms (on top of the base 1-10 ms). */
  extraDelayMs: number;
  /** Probability that a packet is lost (the connection then resets). */
  loss: number;
  /** Probability that a packet is delivered twice. */
  duplicate: number;
  /** Probability that a packet overtakes the ones before it. */
  reorder: number;
}

const CLEAN: LinkFaults = { extraDelayMs: 0, loss: 0, duplicate: 0, reorder: 0 };
/** How long a connection across a partition lives before its keepalive gives up. */
const KEEPALIVE_MS = 3000;

interface Host {
  node: string;
  clock: NodeClock;
}

class SimConnection implements Connection {
  readonly remoteAddress: string;
  readonly host: Host;
  peer!: SimConnection;
  #net: SimNetwork;
  #onData: Array<(chunk: Uint8Array) => void> = [];
  #onClose: Array<(error: Error | undefined) => void> = [];
  #paused = false;
  #held: Uint8Array[] = [];
  closed = false;
  /** Latest scheduled delivery time towards the peer (keeps packets in order). */
  lastDeliveryMs = 0;

  constructor(net: SimNetwork, host: Host, remoteAddress: string) {
    this.#net = net;
    this.host = host;
    this.remoteAddress = remoteAddress;
  }

  get pendingBytes(): number {
    return 0;
  }

  write(chunks: readonly Uint8Array[]): boolean {
    if (this.closed) return false;
    let length = 0;
    for (const c of chunks) length += c.length;
    const packet = new Uint8Array(length);
    let at = 0;
    for (const c of chunks) {
      packet.set(c, at);
      at += c.length;
    }
    this.#net.send(this, packet);
    return true;
  }

  onData(listener: (chunk: Uint8Array) => void): void {
    this.#onData.push(listener);
  }

  onDrain(): void {
    // writes are handed to the network at once: the send buffer never fills
  }

  onClose(listener: (error: Error | undefined) => void): void {
    this.#onClose.push(listener);
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    while (!this.#paused && !this.closed && this.#held.length > 0) this.#emit(this.#held.shift()!);
  }

  end(): void {
    this.#net.close(this, undefined, 'end');
  }

  destroy(): void {
    this.#net.close(this, undefined, 'destroy');
  }

  /** @internal a packet arrived. */
  deliver(chunk: Uint8Array): void {
    if (this.closed) return;
    if (this.#paused) this.#held.push(chunk);
    else this.#emit(chunk);
  }

  #emit(chunk: Uint8Array): void {
    for (const l of this.#onData) l(chunk);
  }

  /** @internal closes this end (once) and tells its listeners. */
  finish(error: Error | undefined): void {
    if (this.closed) return;
    this.closed = true;
    this.#held = [];
    for (const l of this.#onClose) l(error);
  }
}

interface SimListener {
  host: Host;
  onConnection: (connection: Connection) => void;
}

export class SimNetwork {
  readonly #scheduler: Scheduler;
  readonly #rng: Prng;
  readonly #listeners = new Map<string, SimListener>();
  readonly #links = new Map<string, LinkFaults>();
  readonly #partitions = new Set<string>();
  readonly #open = new Set<SimConnection>();
  /** Packets sent, lost, duplicated, reordered and dropped by partitions, for the run's statistics. */
  readonly stats = { packets: 0, lost: 0, duplicated: 0, reordered: 0, partitionDrops: 0, resets: 0 };

  constructor(scheduler: Scheduler, rng: Prng) {
    this.#scheduler = scheduler;
    this.#rng = rng;
  }

  /** The transport of one node incarnation (`node` is its id, addresses are `<id>:7000`). */
  transport(node: string, clock: NodeClock): Transport {
    const host: Host = { node, clock };
    return {
      listen: (address, onConnection) => this.#listen(host, address, onConnection),
      connect: (address, options) => this.#connect(host, address, options.timeoutMs),
    };
  }

  /** The node's address on this network. */
  static address(node: string): string {
    return `${node}:7000`;
  }

  /** Cuts both directions between `a` and `b`. */
  partition(a: string, b: string): void {
    this.#partitions.add(key(a, b));
    this.#partitions.add(key(b, a));
  }

  /** Restores both directions between `a` and `b`. */
  heal(a: string, b: string): void {
    this.#partitions.delete(key(a, b));
    this.#partitions.delete(key(b, a));
  }

  /** Sets the faults of the directed link `from` -> `to`. */
  setLink(from: string, to: string, faults: LinkFaults): void {
    this.#links.set(key(from, to), faults);
  }

  /** Heals every partition and clears every link fault. */
  healAll(): void {
    this.#partitions.clear();
    this.#links.clear();
  }

  /** A node crashed: its listeners vanish and its connections die (peers see a reset). */
  crash(node: string): void {
    for (const [address, l] of this.#listeners) if (l.host.node === node) this.#listeners.delete(address);
    for (const c of [...this.#open]) {
      if (c.host.node !== node) continue;
      c.closed = true; // the dead side hears nothing
      this.#open.delete(c);
      this.#later(c.peer.host, this.#rng.int(1, 20), () => this.#finish(c.peer, resetError(c.remoteAddress)));
    }
  }

  #blocked(from: string, to: string): boolean {
    return this.#partitions.has(key(from, to));
  }

  #delay(from: string, to: string): number {
    return this.#rng.int(1, 10) + (this.#links.get(key(from, to)) ?? CLEAN).extraDelayMs;
  }

  /** Runs `fn` on `host` after `ms` (deferred while the host is paused; never after it crashed). */
  #later(host: Host, ms: number, fn: () => void): void {
    host.clock.run(fn, ms);
  }

  #listen(host: Host, address: string, onConnection: (c: Connection) => void): Promise<Listener> {
    return new Promise((resolve, reject) => {
      host.clock.run(() => {
        if (this.#listeners.has(address)) {
          reject(new ReplicationError('IoError', `listen ${address} failed (EADDRINUSE)`));
          return;
        }
        const entry: SimListener = { host, onConnection };
        this.#listeners.set(address, entry);
        resolve({
          address,
          close: () => {
            if (this.#listeners.get(address) === entry) this.#listeners.delete(address);
            return Promise.resolve();
          },
        });
      });
    });
  }

  #connect(host: Host, address: string, timeoutMs: number): Promise<Connection> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const settle = (fn: () => void) => {
        if (!settled) {
          settled = true;
          fn();
        }
      };
      this.#later(host, timeoutMs, () => settle(() => reject(new ReplicationError('ConnectionTimeout', `connect to ${address} timed out after ${timeoutMs} ms`, { context: { address } }))));
      const target = address.slice(0, address.lastIndexOf(':'));
      if (this.#blocked(host.node, target)) return; // the SYN is lost: only the timeout answers
      const listener = this.#listeners.get(address);
      const there = this.#delay(host.node, target);
      if (listener === undefined) {
        this.#later(host, 2 * there, () => settle(() => reject(new ReplicationError('ConnectionClosed', `connect to ${address} refused (ECONNREFUSED)`, { context: { address } }))));
        return;
      }
      const client = new SimConnection(this, host, address);
      const server = new SimConnection(this, listener.host, `${host.node}:1`);
      client.peer = server;
      server.peer = client;
      this.#later(listener.host, there, () => {
        if (this.#listeners.get(address) !== listener || this.#blocked(host.node, target)) return;
        this.#open.add(client);
        this.#open.add(server);
        listener.onConnection(server);
        this.#later(host, this.#delay(target, host.node), () => {
          if (settled) {
            this.close(client, undefined, 'destroy');
            return;
          }
          settle(() => resolve(client));
        });
      });
    });
  }

  /** @internal one packet from `from` to its peer. */
  send(from: SimConnection, packet: Uint8Array): void {
    const to = from.peer;
    const a = from.host.node;
    const b = to.host.node;
    this.stats.packets++;
    if (this.#blocked(a, b)) {
      this.stats.partitionDrops++;
      this.#later(from.host, KEEPALIVE_MS, () => this.close(from, resetError(from.remoteAddress), 'destroy'));
      return;
    }
    const faults = this.#links.get(key(a, b)) ?? CLEAN;
    if (faults.loss > 0 && this.#rng.chance(faults.loss)) {
      this.stats.lost++;
      this.#later(from.host, this.#delay(a, b), () => this.close(from, resetError(from.remoteAddress), 'destroy'));
      return;
    }
    let at = this.#scheduler.now + this.#delay(a, b);
    if (faults.reorder > 0 && this.#rng.chance(faults.reorder)) this.stats.reordered++;
    else at = Math.max(at, from.lastDeliveryMs);
    from.lastDeliveryMs = Math.max(from.lastDeliveryMs, at);
    const copies = faults.duplicate > 0 && this.#rng.chance(faults.duplicate) ? 2 : 1;
    if (copies === 2) this.stats.duplicated++;
    for (let i = 0; i < copies; i++) this.#later(to.host, at - this.#scheduler.now, () => to.deliver(packet));
  }

  /** @internal closes `end` now and its peer once the packets already sent have arrived. */
  close(end: SimConnection, error: Error | undefined, how: 'end' | 'destroy'): void {
    if (end.closed) return;
    if (error !== undefined) this.stats.resets++;
    this.#finish(end, error);
    const peer = end.peer;
    const at = how === 'end' ? Math.max(this.#scheduler.now + this.#delay(end.host.node, peer.host.node), end.lastDeliveryMs) : this.#scheduler.now + this.#delay(end.host.node, peer.host.node);
    this.#later(peer.host, at - this.#scheduler.now, () => this.#finish(peer, how === 'end' ? undefined : resetError(peer.remoteAddress)));
  }

  #finish(end: SimConnection, error: Error | undefined): void {
    this.#open.delete(end);
    end.finish(error);
  }
}

function key(from: string, to: string): string {
  return `${from}>${to}`;
}

function resetError(address: string): Error {
  return new ReplicationError('ConnectionClosed', `connection to ${address} reset (ECONNRESET)`, { context: { address } });
}
