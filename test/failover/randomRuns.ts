/**
 * Randomised kill runs shared by the ack-mode failover tests: on one
 * long-lived three-process cluster, each run writes ~`writes` entries into a
 * fresh space under load, SIGKILLs the current primary at a random moment
 * (seeded; alternately in the first and second half of the writes), lets a replica take over, restarts the killed node on its data
 * dir, waits for convergence, and checks on every node:
 * present ⊇ acknowledged, present ⊆ attempted, identical digests.
 */
import * as assert from 'uvu/assert';
import type { AckMode } from '../../src/index.js';
import { waitFor } from '../helpers/waitFor.js';
import { seededRandom as prng } from '../helpers/prng.js';
import { FAST, LoadWriter, type ProcCluster, missingIds, withProcCluster } from './processHarness.js';

export interface RunReport { run: number; killed: string; killAt: number; acked: number; attempted: number; present: number; newPrimary: string; ms: number }

async function oneRun(c: ProcCluster, ack: AckMode, run: number, random: () => number, writes: number): Promise<RunReport> {
  const started = performance.now();
  const space = `r${run}`;
  const primary = await c.primary();
  // Even runs kill in the first half of the writes, odd runs in the second: the moments spread by construction.
  const killAt = 10 + Math.floor(((run % 2) + random()) * (writes - 20) / 2);
  const load = new LoadWriter(c, space, `${ack}${run}`, ack);
  load.start(1 + Math.floor(random() * 3));
  await waitFor(() => load.acked.size >= killAt, { timeoutMs: 15_000, what: `${killAt} acks before the kill` });
  await primary.kill();
  const next = await c.primary(15_000, c.ids.filter((id) => id !== primary.id));
  await waitFor(() => load.acked.size >= writes, { timeoutMs: 20_000, what: `${writes} acks in all` });
  await load.stop();
  await c.start(primary.id);
  const spaces = await c.converge(space);
  const all = [...spaces.entries()];
  assert.is(all.length, 3);
  let present = 0;
  for (const [id, summary] of all) {
    assert.is(summary.digest, all[0]![1].digest, `digest of ${id}`);
    const missing = await missingIds(c.node(id), space, load.acked.keys());
    assert.equal(missing, [], `acknowledged (${ack}) writes missing on ${id}`);
    const absent = await missingIds(c.node(id), space, load.attempted);
    present = load.attempted.size - absent.length;
    assert.is(summary.count, present, `${id} holds ${summary.count} records but only ${present} attempted ids: a record nobody wrote`);
  }
  assert.equal(c.uncaught(), []);
  return { run, killed: primary.id, killAt, acked: load.acked.size, attempted: load.attempted.size, present, newPrimary: next.id, ms: Math.round(performance.now() - started) };
}

/** `runs` randomised runs with `ack`; the seed comes from ENGRAM_SEED or the clock and is printed on failure. */
export async function randomisedRuns(ack: AckMode, runs: number, writes = 200): Promise<RunReport[]> {
  const seed = Number(process.env['ENGRAM_SEED'] ?? Date.now() % 2 ** 31);
  const random = prng(seed);
  const reports: RunReport[] = [];
  try {
    await withProcCluster({ tuning: FAST }, async (c) => {
      for (let run = 0; run < runs; run++) reports.push(await oneRun(c, ack, run, random, writes));
    });
  } catch (err) {
    const e = err as Error;
    e.message = `[ack ${ack}, seed ${seed} (rerun with ENGRAM_SEED=${seed}), run ${reports.length}] ${e.message}`;
    console.error(e.message);
    throw e;
  }
  for (const r of reports) console.log(`  ${JSON.stringify(r)}`);
  return reports;
}

/**
 * Runs `runs` randomised kill runs with `ack` and asserts what both ack modes
 * promise: every run really failed over, no acknowledged write was lost, none
 * invented.
 */
export async function checkRandomisedRuns(ack: AckMode, runs: number): Promise<void> {
  const reports = await randomisedRuns(ack, runs);
  assert.is(reports.length, runs);
  for (const r of reports) {
    assert.is.not(r.newPrimary, r.killed, `run ${r.run}`);
    assert.ok(r.acked >= 200, `run ${r.run} acked ${r.acked}`);
    assert.ok(r.present >= r.acked && r.present <= r.attempted, `run ${r.run}: ${JSON.stringify(r)}`);
  }
}
