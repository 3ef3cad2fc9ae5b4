/**
 * The phases of `engram-repl demo` on a running 3-node process cluster:
 * load with a progress bar, live replica status, a paused replica (SIGSTOP:
 * Lagging -> Degraded, then catch-up after SIGCONT), the primary SIGKILLed
 * (automatic promotion, timed; the writer follows 421s), the old primary
 * restarted (rejoin, what it discarded), a planned handover of the primary
 * role back to n1 under writes (POST /handover), and verification of every
 * acknowledged write and of the digests. Returns the summary lines; throws
 * when a phase does not happen within its timeout.
 *
 * @example
 * const summary = await runDemoScript(cluster, say)
 */
import type { NodeStatus } from '../../actors/replicationNode.js';
import type { ApiClient } from '../apiClient.js';
import type { EventLine } from '../eventLog.js';
import type { ProcessCluster } from '../processCluster.js';
import { statusView } from '../render/statusView.js';
import { LoadWriter } from './loadWriter.js';
import { ProgressBar } from './progressBar.js';
import { verifyCluster } from './verify.js';

/** Entries written in the first phase. */
const LOAD_ENTRIES = 10_000;
/** Entries written on the new primary after the failover. */
const AFTER_FAILOVER_ENTRIES = 2_000;
const POLL_MS = 100;
/** Longest pause of the paused replica: enough to show Degraded, short enough to keep the demo brisk. */
const PAUSE_MAX_MS = 2000;
const PHASE_TIMEOUT_MS = 20_000;

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const n = (value: number) => Math.round(value).toLocaleString('en-US');

/** Polls `read` until `done` holds for its value; throws after `timeoutMs` naming `what`. */
async function until<T>(read: () => Promise<T | undefined>, done: (value: T) => boolean, what: string, timeoutMs = PHASE_TIMEOUT_MS): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await read().catch(() => undefined);
    if (value !== undefined && done(value)) return value;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await wait(POLL_MS);
  }
}

/** Runs every phase; `say` prints one line. Returns the summary lines. */
export async function runDemoScript(cluster: ProcessCluster, say: (line: string) => void, startedAt: number): Promise<string[]> {
  const summary: string[] = [];
  const phase = (title: string) => say(`\n${title}  [${((performance.now() - startedAt) / 1000).toFixed(1)} s]`);
  const status = (id: string) => cluster.api(id, 1000).status();
  let switched = '';
  const writer = new LoadWriter(cluster, 'n1', {
    ack: 'quorum',
    onSwitch: (from, to, how) => {
      switched = how;
      say(`  writer: writes now acknowledged by ${to} instead of ${from} (${how})`);
    },
  });

  phase(`1. Writing ${n(LOAD_ENTRIES)} memories over 10 spaces to the primary n1 (POST /spaces/:space/entries?ack=quorum)`);
  await until(() => status('n1'), (s) => s.replicas.length === 2 && s.replicas.every((r) => r.lastContactAgoMs !== null), 'n1 to hear from n2 and n3');
  const bar = new ProgressBar('writing', LOAD_ENTRIES, process.stdout);
  const loadStarted = performance.now();
  await writer.write('load', LOAD_ENTRIES, (done) => bar.update(done));
  bar.done();
  const loadRate = LOAD_ENTRIES / ((performance.now() - loadStarted) / 1000);
  say(`  ${n(LOAD_ENTRIES)} entries acknowledged by a quorum at ${n(loadRate)} entries/s`);
  await until(() => status('n1'), (s) => s.replicas.every((r) => r.appliedLsn === s.lsn), 'replicas to apply the load');
  say('\n  GET /status on n1 (engram-repl status --url ...):');
  say(indent(statusView(await status('n1'))));
  summary.push(`load: ${n(LOAD_ENTRIES)} entries at ${n(loadRate)} entries/s (ack quorum over HTTP)`);

  phase('2. Pausing replica n3 (SIGSTOP) while writes continue: watch its status and lag on the primary');
  writer.start('pause', 50, 20);
  const pausedAt = performance.now();
  cluster.signal('n3', 'SIGSTOP');
  const seen: string[] = [];
  const watch = (s: NodeStatus) => {
    const r = s.replicas.find((x) => x.id === 'n3');
    if (r === undefined) return;
    if (seen.at(-1) !== r.status) {
      seen.push(r.status);
      say(`  +${n(performance.now() - pausedAt)} ms  n3 ${r.status.padEnd(8)} lag ${n(r.lagMs)} ms, ${n(r.lagEntries)} entries behind`);
    }
  };
  const pausedTooLong = () => performance.now() - pausedAt > PAUSE_MAX_MS;
  await until(() => status('n1'), (s) => (watch(s), s.replicas.find((r) => r.id === 'n3')?.status === 'Degraded' || pausedTooLong()), 'n3 to become Degraded');
  const degradedAfter = performance.now() - pausedAt;
  cluster.signal('n3', 'SIGCONT');
  const resumedAt = performance.now();
  if (seen.at(-1) !== 'Degraded') say(`  n3 is not Degraded after ${n(PAUSE_MAX_MS)} ms (the machine is busy): resuming it anyway, inside the failover timeout`);
  say(`  n3 resumed (SIGCONT) after ${n(resumedAt - pausedAt)} ms paused`);
  await until(() => status('n1'), (s) => (watch(s), s.replicas.find((r) => r.id === 'n3')?.status === 'Healthy'), 'n3 to be Healthy again');
  const caughtUp = performance.now() - resumedAt;
  await writer.stop();
  say(`  n3 caught up: Healthy again ${n(caughtUp)} ms after SIGCONT`);
  summary.push(`paused replica: ${seen.join(' -> ')}; Degraded ${n(degradedAfter)} ms into the pause, Healthy ${n(caughtUp)} ms after SIGCONT`);

  phase('3. Killing the primary n1 (SIGKILL) while writes continue');
  const before = cluster.events.length;
  writer.start('failover', 50, 20);
  const killedAt = performance.now();
  await cluster.kill('n1');
  const promoted = await cluster.waitForEvent((e) => e.event === 'promoted', PHASE_TIMEOUT_MS, 'a new primary', before);
  const electedAfter = performance.now() - killedAt;
  say(`  ${promoted.node} was elected primary of epoch ${String(promoted.epoch)} ${n(electedAfter)} ms after the SIGKILL (failover timeout ${cluster.config.failover.timeoutMs} ms)`);
  const newPrimary = promoted.node;
  await until(async () => writer.lastAckAt, (at) => at > killedAt && writer.ackedBy === newPrimary, `a write acknowledged by ${newPrimary}`);
  const firstWrite = writer.lastAckAt - killedAt;
  say(`  first write acknowledged by ${newPrimary} ${n(firstWrite)} ms after the SIGKILL`);
  await until(() => status(newPrimary), (s) => s.replicas.find((r) => r.id === 'n1')?.status === 'Failed', `${newPrimary} to see n1 Failed`);
  await writer.stop();
  say(`  writing ${n(AFTER_FAILOVER_ENTRIES)} more on ${newPrimary}`);
  await writer.write('after', AFTER_FAILOVER_ENTRIES);
  say(indent(statusView(await status(newPrimary))));
  summary.push(`failover: ${newPrimary} primary of epoch ${String(promoted.epoch)} ${n(electedAfter)} ms after SIGKILL; first write acknowledged after ${n(firstWrite)} ms (the writer got there as ${switched})`);

  phase('4. Restarting n1 on its data dir: it rejoins as a replica');
  const restartAt = cluster.events.length;
  await cluster.start('n1');
  await until(() => status(newPrimary), (s) => {
    const r = s.replicas.find((x) => x.id === 'n1');
    return r !== undefined && r.status === 'Healthy' && r.appliedLsn === s.lsn;
  }, 'n1 to catch up and be Healthy');
  const follows = await status('n1');
  const truncated = cluster.events.slice(restartAt).find((e: EventLine) => e.node === 'n1' && e.event === 'truncated');
  const discarded = truncated === undefined
    ? 'it had nothing to discard'
    : `it discarded ${String(truncated.count)} unreplicated entries (LSN ${String(truncated.fromLsn)}..${String(truncated.toLsn)}, none acknowledged; kept in ${String(truncated.quarantineFile)})`;
  say(`  n1 is a ${follows.role} following ${follows.primary ?? '?'} at epoch ${follows.epoch}; ${discarded}`);
  say(indent(statusView(await status(newPrimary))));
  summary.push(`rejoin: n1 follows ${newPrimary}; ${discarded}`);

  phase(`5. Handing the primary role back to n1 while writes continue (POST /handover?to=n1 on ${newPrimary}, like engram-repl handover)`);
  const handoverFrom = cluster.events.length;
  writer.start('handover', 50, 20);
  await until(async () => writer.lastAckAt, (at) => at > performance.now() - 50, `writes acknowledged by ${newPrimary}`);
  const handoverAt = performance.now();
  const handedOver = await cluster.api(newPrimary, PHASE_TIMEOUT_MS).handover('n1');
  const handoverMs = performance.now() - handoverAt;
  say(`  ${newPrimary} refused writes, waited until n1 held every record, and n1 won epoch ${handedOver.epoch}: ${n(handoverMs)} ms`);
  await until(async () => writer.lastAckAt, (at) => at > handoverAt && writer.ackedBy === 'n1', 'a write acknowledged by n1');
  const resumedAfter = writer.lastAckAt - handoverAt;
  await writer.stop();
  const cut = cluster.events.slice(handoverFrom).filter((e: EventLine) => e.event === 'truncated').length;
  say(`  first write acknowledged by n1 ${n(resumedAfter)} ms after the call; ${cut === 0 ? 'nothing was discarded anywhere' : `${cut} nodes DISCARDED records`}`);
  summary.push(`handover: n1 primary of epoch ${handedOver.epoch} again ${n(handoverMs)} ms after the call; writes resumed on n1 after ${n(resumedAfter)} ms; ${cut === 0 ? 'nothing discarded' : 'records DISCARDED'}`);
  if (cut > 0) throw new Error('a handover discarded records');

  phase('6. Verifying over HTTP: every acknowledged write on every node, and the space digests');
  const apis = new Map<string, ApiClient>(cluster.config.nodes.map((node) => [node.id, cluster.api(node.id, 10_000)]));
  const report = await verifyCluster(apis, writer.acked);
  say(`  ${n(report.checked)} acknowledged writes read back on each of ${apis.size} nodes: ${report.missing} missing${report.examples.length ? ` (e.g. ${report.examples.join(', ')})` : ''}`);
  say(`  space digests ${report.differingSpaces.length === 0 ? `identical on all nodes (${writer.spaces.length} spaces)` : `DIFFERENT in ${report.differingSpaces.join(', ')}`}`);
  say(`  ${n(writer.unacknowledged)} entries were sent without an answer (in flight at the kill): not counted either way`);
  summary.push(`verified: ${n(report.checked)} acknowledged writes x ${apis.size} nodes, ${report.missing} missing; digests ${report.differingSpaces.length === 0 ? 'identical' : 'DIFFERENT'}`);
  if (report.missing > 0 || report.differingSpaces.length > 0) throw new Error('verification failed');
  return summary;
}

function indent(text: string): string {
  return text.split('\n').map((l) => (l ? `    ${l}` : l)).join('\n');
}
