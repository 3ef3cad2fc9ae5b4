/**
 * Steady run (`npm run bench -- steady`, `--minutes M`, default 10;
 * `--quick` = 1 minute): 3 node processes with default settings under a
 * steady stream of single-entry `quorum` writes. Counts false failovers
 * (any promotion after the bootstrap), epoch changes, failed writes and the
 * write rate. The bar (issue 4): no false failover in 10 minutes.
 */
import { withProcCluster, LoadWriter } from '../test/failover/processHarness.js';
import { fmt } from './stats.js';

const minutesArg = process.argv.indexOf('--minutes');
const minutes = minutesArg > 0 ? Number(process.argv[minutesArg + 1]) : process.argv.includes('--quick') ? 1 : 10;

await withProcCluster({}, async (c) => {
  const first = await c.primary(20_000);
  const epochAtStart = (await first.status()).epoch;
  const load = new LoadWriter(c, 'steady', 's', 'quorum', 5000);
  const started = Date.now();
  load.start(4);
  const samples: string[] = [];
  while (Date.now() - started < minutes * 60_000) {
    await new Promise((r) => setTimeout(r, 10_000));
    const sts = await Promise.all(c.liveNodes().map((n) => n.status()));
    samples.push(sts.map((s) => `${s.id}:${s.role[0]}@${s.epoch}`).join(' '));
  }
  await load.stop();
  const elapsedS = (Date.now() - started) / 1000;
  const promotions = c.liveNodes().flatMap((n) => n.events.filter((e) => e.event === 'promoted' && e.payload['via'] !== 'bootstrap').map((e) => `${n.id} ${JSON.stringify(e.payload)}`));
  const demotions = c.liveNodes().flatMap((n) => n.events.filter((e) => e.event === 'demoted').map((e) => `${n.id} ${JSON.stringify(e.payload)}`));
  const epochs = new Set(samples.flatMap((s) => s.split(' ').map((x) => x.split('@')[1])));
  console.log(`steady run: ${minutes} min, 3 processes, default settings, ack quorum, 4 writers`);
  console.log(`  writes acknowledged: ${fmt(load.acked.size)} (${fmt(load.acked.size / elapsedS)}/s); failed or timed out: ${load.failures.length}`);
  const reasons = new Map<string, number>();
  for (const f of load.failures) reasons.set(f.slice(0, 60), (reasons.get(f.slice(0, 60)) ?? 0) + 1);
  for (const [reason, n] of [...reasons].sort((a, b) => b[1] - a[1]).slice(0, 5)) console.log(`    ${fmt(n)} x ${reason}`);
  console.log(`  epoch at start ${epochAtStart}; epochs seen in 10 s samples: ${[...epochs].join(', ')}`);
  console.log(`  false failovers (promotions after bootstrap): ${promotions.length}${promotions.length ? '\n    ' + promotions.join('\n    ') : ''}`);
  console.log(`  step-downs: ${demotions.length}${demotions.length ? '\n    ' + demotions.join('\n    ') : ''}`);
  console.log(`  bar (no false failover in 10 minutes): ${promotions.length === 0 && minutes >= 10 ? 'met' : promotions.length === 0 ? `none in ${minutes} min (bar needs 10)` : 'MISSED'}`);
});
