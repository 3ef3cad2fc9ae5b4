/**
 * engram-replication/testing: the deterministic simulation kit. A seeded
 * PRNG, a simulated scheduler and per-node clocks, network and disk, an
 * in-process cluster running the real node code on them, a workload, a
 * fault schedule, invariant checkers and the runner of one seed.
 *
 * @example
 * import { runSimulation } from 'engram-replication/testing'
 * const result = await runSimulation({ seed: 7 }); if (!result.ok) console.error(result.report)
 */
export { Prng, seededRandom } from './prng.js';
export { Scheduler, type Task } from './scheduler.js';
export { NodeClock } from './simClock.js';
export { SimDisk, type DiskFault, type SimDiskOptions } from './simDisk.js';
export { SimNetwork, type LinkFaults } from './simNetwork.js';
export { RecordingStore, type ApplyObserver } from './recordingStore.js';
export { SimCluster, type ClusterObserver, type SimClusterOptions, type SimNode, type World } from './cluster.js';
export { Workload, type WorkloadOptions, type WriteListener, type WriteRecord } from './workload.js';
export { DEFAULT_FAULT_KINDS, FAULT_KINDS, FaultSchedule, faultKinds, type FaultKind, type FaultListener } from './faults.js';
export { Checkers, type Violation } from './checkers.js';
export { convergence, type ConvergenceState } from './convergence.js';
export { Trace } from './trace.js';
export { SIM_TUNING, runSimulation, type SimulationOptions, type SimulationResult } from './simulation.js';
