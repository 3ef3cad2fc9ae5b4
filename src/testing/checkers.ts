/**
 * The invariants of a run, checked as events happen and at the end. The
 * first violation is kept (checker name + message) and stops the run.
 *
 * Continuously:
 * - `noPhantom`: every applied record is a write some client issued;
 * - `appliedOnce`: a node applies LSNs one after another, never one twice
 *   (except after it replaced its state: snapshot install or rebuild);
 * - `logMatching`: two nodes that hold a record at the same LSN written in
 *   the same epoch hold the same record (so logs that synced are prefixes
 *   of each other, per epoch history);
 * - `onePrimaryPerEpoch`: one node is promoted in an epoch, and only writes
 *   sent to that node carry the epoch;
 * - `singleWriter`: a write accepted by the primary of an older epoch was
 *   called before the first write the newer primary accepted (the lease
 *   fences it), unless a forced promotion or a process pause (both outside
 *   the lease's timing assumption, docs/guarantees.md) came between;
 * - `statusMatchesLag`: a replica the primary calls Healthy is not far
 *   behind for long.
 * At the end (`final`): `durability` (every acknowledged write is in the
 * converged state with the value written, except `local`/`one` writes a
 * rejoining node reported as truncated), `logPrefix` (every node's records equal the
 * primary's at each LSN) and, by the run, `convergence`.
 *
 * @example
 * const checkers = new Checkers(world, () => workload.writes); ... if (checkers.violation) print(checkers.violation)
 */
import type { ReplicationNode } from '../actors/replicationNode.js';
import type { AppliedRecord } from '../store/reducer.js';
import type { ClusterObserver, SimCluster, World } from './cluster.js';
import type { FaultListener } from './faults.js';
import type { WriteListener, WriteRecord } from './workload.js';

/** The first broken invariant. */
export interface Violation {
  checker: string;
  message: string;
}

interface View {
  life: number;
  last: number | undefined;
}

interface EpochWrites {
  node: string;
  firstCalledMs: number;
  lastCalledMs: number;
}

/** How long a Healthy replica may be caught-up-less before the status is wrong (generous: grace + heartbeats + severe threshold). */
const HEALTHY_BEHIND_MAX_MS = 12_000;
/** How often the simulation calls `sampleStatus`. */
export const STATUS_SAMPLE_MS = 500;
/** A pause this close before an accepted write exempts it from `singleWriter`. */
const PAUSE_SHADOW_MS = 10_000;

export class Checkers implements ClusterObserver, WriteListener, FaultListener {
  violation: Violation | undefined;
  readonly #world: World;
  readonly #writes: () => ReadonlyMap<string, WriteRecord>;
  readonly #views = new Map<string, View>();
  readonly #atLsn = new Map<number, Map<number, string>>();
  readonly #promotedBy = new Map<number, string>();
  readonly #forcedEpochs = new Set<number>();
  readonly #epochWriter = new Map<number, string>();
  readonly #accepted = new Map<number, EpochWrites>();
  readonly #pauses: { node: string; fromMs: number; untilMs: number }[] = [];
  readonly #truncated: { node: string; fromLsn: number; toLsn: number }[] = [];
  readonly #caughtUp = new Map<string, { sinceMs: number; sampledMs: number }>();
  /** Per node: the last record it applied at each LSN (epoch and memory id). */
  readonly #logs = new Map<string, Map<number, { epoch: number; key: string }>>();

  constructor(world: World, writes: () => ReadonlyMap<string, WriteRecord>) {
    this.#world = world;
    this.#writes = writes;
  }

  /** True once an invariant broke. */
  get failed(): boolean {
    return this.violation !== undefined;
  }

  #fail(checker: string, message: string): void {
    if (this.violation !== undefined) return;
    this.violation = { checker, message };
    this.#world.trace.add('sim', `VIOLATION ${checker}: ${message}`);
  }

  applied(node: string, life: number, r: AppliedRecord): void {
    const write = this.#writes().get(r.key);
    if (write === undefined || write.space !== r.space) {
      this.#fail('noPhantom', `${node} applied LSN ${r.lsn} (${r.space}/${r.key}) that no client wrote`);
      return;
    }
    let view = this.#views.get(node);
    if (view === undefined || view.life !== life) {
      view = { life, last: undefined };
      this.#views.set(node, view);
    }
    if (view.last !== undefined && r.lsn !== view.last + 1) {
      this.#fail('appliedOnce', `${node} applied LSN ${r.lsn} right after LSN ${view.last}`);
    }
    view.last = r.lsn;
    let log = this.#logs.get(node);
    if (log === undefined) this.#logs.set(node, (log = new Map()));
    log.set(r.lsn, { epoch: r.epoch, key: r.key });
    let byEpoch = this.#atLsn.get(r.lsn);
    if (byEpoch === undefined) this.#atLsn.set(r.lsn, (byEpoch = new Map()));
    const other = byEpoch.get(r.epoch);
    if (other === undefined) byEpoch.set(r.epoch, r.key);
    else if (other !== r.key) this.#fail('logMatching', `LSN ${r.lsn} of epoch ${r.epoch} is ${other} on one node and ${r.key} on ${node}`);
    const writer = this.#epochWriter.get(r.epoch);
    if (writer === undefined) this.#epochWriter.set(r.epoch, write.node);
    else if (writer !== write.node) this.#fail('onePrimaryPerEpoch', `epoch ${r.epoch} has records written through ${writer} and through ${write.node} (${r.key})`);
  }

  restored(node: string, life: number): void {
    this.#views.set(node, { life, last: undefined });
    this.#logs.delete(node); // what it held before is replaced (or re-applied from here on)
  }

  event(node: string, _life: number, name: string, payload: Record<string, unknown>): void {
    const trace = this.#world.trace;
    switch (name) {
      case 'promoted': {
        const epoch = payload.epoch as number;
        trace.add(node, `promoted epoch=${epoch} via=${String(payload.via)}`);
        // A handover's election is forced too, but the old primary stopped writing before it: not exempt.
        if (payload.forced === true && payload.via !== 'handover') this.#forcedEpochs.add(epoch);
        const before = this.#promotedBy.get(epoch);
        if (before === undefined) this.#promotedBy.set(epoch, node);
        else if (before !== node) this.#fail('onePrimaryPerEpoch', `${before} and ${node} were both promoted in epoch ${epoch}`);
        return;
      }
      case 'truncated':
        trace.add(node, `truncated ${String(payload.fromLsn)}..${String(payload.toLsn)} (${String(payload.count)})`);
        this.#truncated.push({ node, fromLsn: payload.fromLsn as number, toLsn: payload.toLsn as number });
        return;
      case 'error':
        trace.add(node, `error ${String(payload.code)}${payload.replica === undefined ? '' : ` replica=${String(payload.replica)}`}: ${String(payload.message).slice(0, 160)}`);
        return;
      case 'replicaStatus':
        trace.add(node, `replica ${String(payload.replica)} ${String(payload.from)}->${String(payload.to)} (${String(payload.why)})`);
        return;
      case 'demoted':
        trace.add(node, `demoted epoch=${String(payload.epoch)} (${String(payload.reason)})`);
        return;
      case 'snapshot':
        trace.add(node, `snapshot ${String(payload.direction)} lsn=${String(payload.lsn)}${payload.replica === undefined ? '' : ` to ${String(payload.replica)}`}`);
        return;
      default:
        trace.add(node, `${name}`);
    }
  }

  startFailed(node: string, err: unknown): void {
    this.#fail('recovery', `${node} could not start from its disk: ${err instanceof Error ? err.message : String(err)}`);
  }

  paused(node: string, fromMs: number, untilMs: number): void {
    this.#pauses.push({ node, fromMs, untilMs });
  }

  acknowledged(write: WriteRecord): void {
    const e = write.epoch;
    const seen = this.#accepted.get(e);
    if (seen === undefined) this.#accepted.set(e, { node: write.node, firstCalledMs: write.calledAtMs, lastCalledMs: write.calledAtMs });
    else {
      seen.firstCalledMs = Math.min(seen.firstCalledMs, write.calledAtMs);
      seen.lastCalledMs = Math.max(seen.lastCalledMs, write.calledAtMs);
    }
    for (const [older, a] of this.#accepted) {
      for (const [newer, b] of this.#accepted) {
        if (older >= newer || a.node === b.node || a.lastCalledMs <= b.firstCalledMs) continue;
        if (this.#fencedOutsideLease(a.node, older, newer, a.lastCalledMs)) continue;
        this.#fail('singleWriter', `${a.node} (epoch ${older}) accepted a write at ${a.lastCalledMs - this.#world.scheduler.now} ms from now, after ${b.node} (epoch ${newer}) accepted one at ${b.firstCalledMs - this.#world.scheduler.now} ms`);
      }
    }
  }

  /** A forced promotion in (older, newer], or a pause of the old primary shortly before its write. */
  #fencedOutsideLease(node: string, older: number, newer: number, calledMs: number): boolean {
    for (const e of this.#forcedEpochs) if (e > older && e <= newer) return true;
    return this.#pauses.some((p) => p.node === node && p.fromMs <= calledMs && p.untilMs >= calledMs - PAUSE_SHADOW_MS);
  }

  /** Samples replica status on each primary against how far behind the replica really is. */
  sampleStatus(cluster: SimCluster): void {
    const now = this.#world.scheduler.now;
    for (const p of cluster.running()) {
      if (p.node.role !== 'primary') continue;
      const status = p.node.status();
      for (const row of status.replicas) {
        // One tracker per primary incarnation and epoch; it restarts when a sample was missed.
        const k = `${p.id}/${cluster.get(p.id).life}@${status.epoch}>${row.id}`;
        const replica = cluster.get(row.id).node;
        const behind = replica === undefined || replica.status().appliedLsn < status.lsn;
        const track = this.#caughtUp.get(k);
        if (!behind || track === undefined || now - track.sampledMs > 2 * STATUS_SAMPLE_MS) this.#caughtUp.set(k, { sinceMs: now, sampledMs: now });
        else track.sampledMs = now;
        const since = now - this.#caughtUp.get(k)!.sinceMs;
        if (row.status === 'Healthy' && since > HEALTHY_BEHIND_MAX_MS) {
          this.#fail('statusMatchesLag', `${p.id} reports ${row.id} Healthy but it has been behind (LSN ${status.lsn}) for ${since} ms`);
        }
      }
    }
  }

  /**
   * On a converged cluster: every node's records equal the primary's at
   * every LSN both applied (a replica that synced holds a prefix of the
   * primary's log, per epoch).
   */
  logsMatch(primaryId: string): void {
    const head = this.#logs.get(primaryId) ?? new Map<number, { epoch: number; key: string }>();
    for (const [node, log] of this.#logs) {
      if (node === primaryId) continue;
      for (const [lsn, r] of log) {
        const p = head.get(lsn);
        if (p !== undefined && (p.epoch !== r.epoch || p.key !== r.key)) {
          this.#fail('logPrefix', `${node} holds ${r.key} (epoch ${r.epoch}) at LSN ${lsn}, primary ${primaryId} holds ${p.key} (epoch ${p.epoch})`);
          return;
        }
      }
    }
  }

  /** End checks on a converged cluster: every acknowledged write is there with its value, or was reported as cut. */
  final(primary: ReplicationNode): void {
    for (const w of this.#writes().values()) {
      if (w.outcome !== 'acked') continue;
      const got = primary.read(w.space, w.key) as WriteRecord['value'] | undefined;
      if (got !== undefined) {
        if (got.writer !== w.value.writer || got.n !== w.value.n) this.#fail('durability', `${w.space}/${w.key} reads ${JSON.stringify(got)}, not what was written`);
        continue;
      }
      // quorum and all writes survive every failure simulated, forced promotions included (they are
      // elections too); a lost local or one write must have been reported as cut.
      const reported = this.#truncated.some((t) => t.node === w.node && t.fromLsn <= w.lsn! && w.lsn! <= t.toLsn);
      if (w.ack === 'quorum' || w.ack === 'all') {
        this.#fail('durability', `${w.key} (ack ${w.ack}, LSN ${w.lsn} epoch ${w.epoch} on ${w.node}) is missing after convergence`);
        return;
      }
      if (!reported) {
        this.#fail('durability', `${w.key} (ack ${w.ack}, LSN ${w.lsn} epoch ${w.epoch} on ${w.node}) is missing and no truncation reported it`);
        return;
      }
    }
  }
}
