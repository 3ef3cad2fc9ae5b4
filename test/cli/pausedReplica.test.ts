// A replica paused (SIGSTOP) for longer than the failover timeout must not
// depose a healthy primary when it resumes. Its failover timer fires before
// it reads the heartbeats queued on its socket; before pre-vote it then
// started an election at once and its higher epoch made the primary step
// down (found while building the demo). Now it first asks for pre-votes,
// which the others refuse while they still hear the primary, and it claims
// no epoch.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ProcessCluster } from '../../src/cli/processCluster.js';
import { waitFor } from '../helpers/waitFor.js';

test('a replica paused past the failover timeout rejoins without deposing the healthy primary', async () => {
  const cluster = await ProcessCluster.create({ prefix: 'engram-paused-', tuning: { heartbeatIntervalMs: 100, leaseMs: 600 }, failover: { auto: true, timeoutMs: 1000 } });
  try {
    await cluster.startAll();
    const n1 = cluster.api('n1');
    await waitFor(() => n1.write('notes', [{ id: 'warmup' }]).then(() => true, () => false), { timeoutMs: 30_000, intervalMs: 50, what: 'n1 accepts writes' });
    cluster.signal('n3', 'SIGSTOP');
    // The replica is gone for longer than the failover timeout (x1.5 for its jitter) while n1 and n2 keep working.
    const pausedAt = performance.now();
    await waitFor(async () => {
      await n1.write('notes', [{ id: `p${Math.round(performance.now())}` }], 'quorum');
      return performance.now() - pausedAt > 2500;
    }, { timeoutMs: 30_000, intervalMs: 100, what: 'writes for 2.5 s with n3 paused' });
    cluster.signal('n3', 'SIGCONT');
    const demoted = () => cluster.events.find((e) => e.node === 'n1' && e.event === 'demoted');
    await waitFor(async () => {
      if (demoted() !== undefined) return true;
      const s = await n1.status().catch(() => undefined);
      const r = s?.replicas.find((x) => x.id === 'n3');
      return r !== undefined && r.appliedLsn === s!.lsn;
    }, { timeoutMs: 30_000, what: 'n3 caught up with n1, or n1 stepped down' });
    assert.is(demoted(), undefined, `n1 stepped down: ${JSON.stringify(demoted())}`);
    assert.is((await n1.status()).epoch, 1);
  } finally {
    await cluster.cleanup();
  }
});

test.run();
