/**
 * One simulated run from a seed: a cluster of 3 (sometimes 5) real nodes on
 * a simulated network, disks and clocks; writers and a fault schedule for
 * `faultsMs` of simulated time; then every fault ends and the cluster must
 * converge within `convergeMs`. Checkers watch throughout. Everything that
 * happens is derived from the seed, so a seed replays the same trace.
 *
 * @example
 * const result = await runSimulation({ seed: 42 }); if (!result.ok) console.log(result.report)
 */
import type { NodeLogics } from '../actors/nodeSystem.js';
import type { Tuning } from '../actors/nodeOptions.js';
import { Checkers, STATUS_SAMPLE_MS, type Violation } from './checkers.js';
import { SimCluster, type World } from './cluster.js';
import { convergence } from './convergence.js';
import { type FaultKind, FaultSchedule, faultKinds } from './faults.js';
import { Prng } from './prng.js';
import { Scheduler } from './scheduler.js';
import { SimNetwork } from './simNetwork.js';
import { Trace } from './trace.js';
import { Workload } from './workload.js';

/** Options of one run. */
export interface SimulationOptions {
  seed: number;
  /** Simulated time with writers and faults (default 15 s). */
  faultsMs?: number;
  /** Simulated time allowed to converge once faults stop (default 30 s). */
  convergeMs?: number;
  /** Also inject forced promotions (off by default so recorded seeds keep their runs: see `DEFAULT_FAULT_KINDS`). */
  forcedPromotions?: boolean;
  /** Also inject planned handovers (`node.handover()`; off by default, for the same reason). */
  handovers?: boolean;
  /** A disk whose fsync makes nothing durable (checker tests). */
  fsyncIsNoop?: boolean;
  /** Replaces each node's machine logics (checker tests hand in broken guards). */
  adaptLogics?: (logics: NodeLogics) => NodeLogics;
}

/** What a run found. */
export interface SimulationResult {
  seed: number;
  ok: boolean;
  violation: Violation | undefined;
  /** Every event of the run, one line each, stamped with simulated time. */
  trace: string;
  /** Failure report: seed, checker, message and the end of the trace (empty when ok). */
  report: string;
  nodes: number;
  simulatedMs: number;
  steps: number;
  faults: Record<FaultKind, number>;
  writes: Record<string, number>;
  network: Record<string, number>;
  disk: Record<string, number>;
}

/** Tuning of simulated nodes: the defaults, with small segments (so retention and snapshots happen) and a short reconnect backoff (so convergence is bounded). */
export const SIM_TUNING: Partial<Tuning> = {
  segmentBytes: 16 * 1024,
  retentionMaxBytes: 96 * 1024,
  snapshotChunkBytes: 8 * 1024,
  batchMaxEntries: 200,
  batchMaxBytes: 64 * 1024,
  backoffScheduleMs: [100, 300, 1000, 2000],
};

const START_MS = 1_700_000_000_000;

/** Runs one seed to the end (or to the first violation). */
export async function runSimulation(options: SimulationOptions): Promise<SimulationResult> {
  const faultsMs = options.faultsMs ?? 15_000;
  const convergeMs = options.convergeMs ?? 30_000;
  const rng = new Prng(options.seed);
  const scheduler = new Scheduler(START_MS);
  const trace = new Trace(START_MS, () => scheduler.now);
  const world: World = { scheduler, rng, network: new SimNetwork(scheduler, rng.fork()), trace };
  const size = rng.chance(0.25) ? 5 : 3;
  let workload: Workload | undefined;
  const checkers = new Checkers(world, () => workload?.writes ?? new Map());
  const cluster = new SimCluster(world, {
    size, tuning: SIM_TUNING, observer: checkers,
    disk: { latencyMaxMs: 6, fsyncIsNoop: options.fsyncIsNoop === true },
    ...(options.adaptLogics === undefined ? {} : { adaptLogics: options.adaptLogics }),
  });
  workload = new Workload(world, cluster, { writers: rng.int(2, 4), spaces: rng.int(2, 12) }, checkers);
  const faults = new FaultSchedule(world, cluster, checkers, faultKinds(options));
  trace.add('sim', `seed ${options.seed}: ${size} nodes`);
  cluster.startAll();
  const faultsEnd = START_MS + faultsMs;
  workload.start(faultsEnd);
  faults.start(faultsEnd);
  const sample = (): void => {
    checkers.sampleStatus(cluster);
    scheduler.at(scheduler.now + STATUS_SAMPLE_MS, sample);
  };
  scheduler.at(START_MS + STATUS_SAMPLE_MS, sample);
  await scheduler.runUntil(faultsEnd, () => checkers.failed);
  if (!checkers.failed) {
    faults.stop();
    let state = convergence(cluster);
    await scheduler.runUntil(faultsEnd + convergeMs, () => {
      if (checkers.failed) return true;
      state = convergence(cluster);
      return state.primary !== undefined;
    });
    if (state.primary !== undefined) {
      trace.add('sim', `converged: lsn ${state.primary.status().lsn}, primary ${state.primary.id} epoch ${state.primary.status().epoch}`);
      checkers.logsMatch(state.primary.id);
      checkers.final(state.primary);
    } else if (!checkers.failed) {
      const primary = cluster.running().find((r) => r.node.role === 'primary');
      if (primary !== undefined) checkers.logsMatch(primary.id);
    }
    if (state.primary === undefined && !checkers.failed) {
      checkers.violation = { checker: 'convergence', message: `not converged ${convergeMs} ms after faults stopped: ${state.missing}` };
      trace.add('sim', `VIOLATION convergence: ${checkers.violation.message}`);
    }
  }
  const violation = checkers.violation;
  const text = trace.text();
  return {
    seed: options.seed, ok: violation === undefined, violation, trace: text,
    report: violation === undefined ? '' : [
      `seed ${options.seed} failed: checker '${violation.checker}': ${violation.message}`,
      `replay: npm run sim -- --seed ${options.seed}`,
      '--- trace (simulated ms since start, node, event) ---',
      trace.tail(400),
    ].join('\n'),
    nodes: size,
    simulatedMs: scheduler.now - START_MS,
    steps: scheduler.steps,
    faults: { ...faults.counts },
    writes: workload.counts(),
    network: { ...world.network.stats },
    disk: sumStats(cluster.nodes.map((n) => n.disk.stats)),
  };
}

function sumStats(list: readonly Record<string, number>[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of list) for (const [k, v] of Object.entries(s)) out[k] = (out[k] ?? 0) + v;
  return out;
}
