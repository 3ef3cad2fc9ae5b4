// Randomised SIGKILL runs with ack 'one' (seeded; ENGRAM_SEED reruns one):
// after each failover and rejoin, every write acknowledged to the client is
// on the final primary and every replica, and no record exists that no
// client attempted. See randomRuns.ts for one run.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { randomisedRuns } from './randomRuns.js';

const RUNS = Number(process.env['ENGRAM_FAILOVER_RUNS'] ?? 10);

test(`ack 'one': ${RUNS} randomised kill runs lose no acknowledged write and invent none`, async () => {
  const reports = await randomisedRuns('one', RUNS);
  assert.is(reports.length, RUNS);
  // every run really failed over: the killed node was the primary, another took over
  for (const r of reports) {
    assert.is.not(r.newPrimary, r.killed, `run ${r.run}`);
    assert.ok(r.acked >= 200, `run ${r.run} acked ${r.acked}`);
    assert.ok(r.present >= r.acked && r.present <= r.attempted, `run ${r.run}: ${JSON.stringify(r)}`);
  }
  // the kill moments spread over the run, not all at the start
  const early = reports.filter((r) => r.killAt < 100).length;
  assert.ok(RUNS < 6 || (early > 0 && early < RUNS), `kill moments ${reports.map((r) => r.killAt).join(',')}`);
});

test.run();
