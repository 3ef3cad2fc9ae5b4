/**
 * The fault schedule of a run, drawn from the seed as time goes: partitions
 * (a pair, or the primary cut off from everyone), damaged links (delay,
 * loss, duplication, reordering), node crashes and restarts (the primary
 * more often), disk write/fsync errors (the node is then restarted, as a
 * supervisor would), process pauses, and manual promotions (plain, and
 * forced when asked for). `stop()` ends every fault so the cluster can converge.
 *
 * @example
 * const faults = new FaultSchedule(world, cluster, listener); faults.start(untilMs); ...; faults.stop()
 */
import type { SimCluster, World } from './cluster.js';

/** The kinds of fault injected (with forced promotions; `handover` is added by {@link faultKinds}). */
export const FAULT_KINDS = [
  'partition', 'isolatePrimary', 'badLink', 'crash', 'crashPrimary', 'diskWriteError', 'diskFsyncError', 'pause', 'promote', 'forcePromote',
] as const;

/** Every kind a schedule can inject: {@link FAULT_KINDS} and planned handovers (see {@link faultKinds}). */
const ALL_FAULT_KINDS = [...FAULT_KINDS, 'handover'] as const;

/** One kind of fault. */
export type FaultKind = (typeof ALL_FAULT_KINDS)[number];

/** Told about pauses (they suspend the timing assumptions of fencing). */
export interface FaultListener {
  paused(node: string, fromMs: number, untilMs: number): void;
}

/**
 * Kinds drawn by default. Forced promotion is drawn only with
 * `forcedPromotions: true` (`npm run sim -- --forced`,
 * test/sim/seedsForced.test.ts), so that the seeds recorded for the default
 * schedule (regressions, broken variants, docs/testing.md) keep their runs.
 */
export const DEFAULT_FAULT_KINDS: readonly FaultKind[] = FAULT_KINDS.filter((k) => k !== 'forcePromote');

/**
 * The kinds a run draws: the default ones, plus forced promotions and/or
 * planned handovers (`node.handover()` on the primary) when asked for.
 * Each option only appends, so the seeds recorded for the other schedules
 * keep their runs.
 */
export function faultKinds(options: { forcedPromotions?: boolean; handovers?: boolean }): readonly FaultKind[] {
  const base: readonly FaultKind[] = options.forcedPromotions === true ? FAULT_KINDS : DEFAULT_FAULT_KINDS;
  return options.handovers === true ? [...base, 'handover'] : base;
}

export class FaultSchedule {
  /** Faults injected, per kind. */
  readonly counts: Record<FaultKind, number> = Object.fromEntries(ALL_FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>;
  readonly #world: World;
  readonly #cluster: SimCluster;
  readonly #listener: FaultListener;
  readonly #kinds: readonly FaultKind[];
  #untilMs = 0;
  #stopped = false;
  /** Nodes whose disk failed and whose supervisor restart is still due. */
  readonly #failedDisks = new Set<string>();

  constructor(world: World, cluster: SimCluster, listener: FaultListener, kinds: readonly FaultKind[] = DEFAULT_FAULT_KINDS) {
    this.#world = world;
    this.#cluster = cluster;
    this.#listener = listener;
    this.#kinds = kinds;
  }

  /** Injects faults at seeded moments until `untilMs`. */
  start(untilMs: number): void {
    this.#untilMs = untilMs;
    this.#next();
  }

  /** Ends every fault: heals the network, restarts down nodes, drops pending disk faults. */
  stop(): void {
    this.#stopped = true;
    this.#world.network.healAll();
    for (const id of this.#failedDisks) this.#cluster.crash(id);
    for (const n of this.#cluster.nodes) {
      n.disk.clearFaults();
      this.#cluster.start(n.id);
    }
    this.#world.trace.add('sim', 'faults stop: network healed, every node up');
  }

  #after(ms: number, fn: () => void): void {
    const s = this.#world.scheduler;
    s.at(s.now + ms, () => {
      if (!this.#stopped) fn();
    });
  }

  #next(): void {
    const { scheduler, rng } = this.#world;
    const at = scheduler.now + rng.int(300, 2000);
    if (at >= this.#untilMs) return;
    this.#after(at - scheduler.now, () => {
      this.#inject(rng.pick(this.#kinds));
      this.#next();
    });
  }

  #primary(): string | undefined {
    return this.#cluster.running().find((r) => r.node.role === 'primary')?.id;
  }

  #inject(kind: FaultKind): void {
    const { rng, network, trace, scheduler } = this.#world;
    const ids = this.#cluster.nodes.map((n) => n.id);
    const note = (text: string) => {
      this.counts[kind]++;
      trace.add('sim', `fault ${kind} ${text}`);
    };
    const restartLater = (id: string, lo: number, hi: number) => this.#after(rng.int(lo, hi), () => this.#cluster.start(id));
    switch (kind) {
      case 'partition': {
        const a = rng.pick(ids);
        const b = rng.pick(ids.filter((x) => x !== a));
        network.partition(a, b);
        note(`${a}|${b}`);
        this.#after(rng.int(300, 4000), () => network.heal(a, b));
        return;
      }
      case 'isolatePrimary': {
        const p = this.#primary();
        if (p === undefined) return;
        for (const o of ids) if (o !== p) network.partition(p, o);
        note(p);
        this.#after(rng.int(500, 5000), () => {
          for (const o of ids) if (o !== p) network.heal(p, o);
        });
        return;
      }
      case 'badLink': {
        const a = rng.pick(ids);
        const b = rng.pick(ids.filter((x) => x !== a));
        const faults = { extraDelayMs: rng.int(0, 150), loss: rng.chance(0.5) ? 0.02 : 0, duplicate: rng.chance(0.5) ? 0.02 : 0, reorder: rng.chance(0.5) ? 0.02 : 0 };
        network.setLink(a, b, faults);
        note(`${a}>${b} ${JSON.stringify(faults)}`);
        this.#after(rng.int(500, 4000), () => network.setLink(a, b, { extraDelayMs: 0, loss: 0, duplicate: 0, reorder: 0 }));
        return;
      }
      case 'crash':
      case 'crashPrimary': {
        const id = kind === 'crash' ? rng.pick(ids) : this.#primary();
        if (id === undefined || !this.#cluster.get(id).up) return;
        const crash = () => {
          if (!this.#cluster.get(id).up) return;
          note(id);
          this.#cluster.crash(id);
          restartLater(id, 100, 4000);
        };
        // Half the crashes strike while the node's next disk write is in flight (it may be torn).
        if (rng.chance(0.5)) this.#cluster.get(id).disk.onNextWrite(() => this.#after(1, crash));
        else crash();
        return;
      }
      case 'diskWriteError':
      case 'diskFsyncError': {
        const id = rng.pick(ids);
        const n = this.#cluster.get(id);
        if (!n.up) return;
        n.disk.failNext(kind === 'diskWriteError' ? 'write' : 'datasync');
        note(id);
        // A node whose log failed is read-only: its supervisor restarts it.
        this.#failedDisks.add(id);
        this.#after(rng.int(300, 2000), () => {
          this.#failedDisks.delete(id);
          n.disk.clearFaults();
          this.#cluster.crash(id);
          restartLater(id, 50, 1000);
        });
        return;
      }
      case 'pause': {
        const id = rng.pick(ids);
        const n = this.#cluster.get(id);
        if (!n.up) return;
        const until = scheduler.now + rng.int(100, 3000);
        n.clock.pause(until);
        this.#listener.paused(id, scheduler.now, until);
        note(`${id} for ${until - scheduler.now} ms`);
        return;
      }
      case 'promote':
      case 'forcePromote': {
        const replicas = this.#cluster.running().filter((r) => r.node.role === 'replica');
        if (replicas.length === 0) return;
        const r = rng.pick(replicas);
        note(r.id);
        r.clock.run(() => {
          r.node.promote({ force: kind === 'forcePromote' }).then(
            ({ epoch }) => trace.add(r.id, `promote answered epoch=${epoch}`),
            (err: unknown) => {
              if (!r.clock.dead) trace.add(r.id, `promote refused ${(err as { code?: string }).code ?? String(err)}`);
            });
        });
        return;
      }
      case 'handover': {
        const primary = this.#cluster.running().find((r) => r.node.role === 'primary');
        if (primary === undefined) return;
        // A named target half the time (it may be down, or behind); else the node picks the most advanced replica.
        const to = rng.chance(0.5) ? rng.pick(ids.filter((id) => id !== primary.id)) : undefined;
        note(`${primary.id} to ${to ?? '(its pick)'}`);
        primary.clock.run(() => {
          primary.node.handover(to === undefined ? {} : { to }).then(
            ({ primary: next, epoch }) => trace.add(primary.id, `handover done: ${next} leads epoch ${epoch}`),
            (err: unknown) => {
              if (!primary.clock.dead) trace.add(primary.id, `handover failed ${(err as { code?: string }).code ?? String(err)} ${JSON.stringify((err as { context?: unknown }).context ?? {})}`);
            });
        });
        return;
      }
    }
  }
}
