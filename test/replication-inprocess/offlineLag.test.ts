/**
 * Lag keeps counting while a replica is unreachable (DESIGN §7: time lag is
 * the age of the oldest entry it has not applied). Replica n2 is closed while
 * the primary goes on writing; its failed reconnects are kept from making it
 * Failed (`failuresToFail` out of reach), so only lag can move its status:
 * Healthy -> Lagging -> Degraded (alert `degraded`) with no connection at
 * all, `status()` showing the growing lag. Back, it catches up to Healthy.
 * Before, the lag froze at its last streamed value and the replica stayed
 * Healthy until its failures made it Failed.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type Cluster, digests, metricValue, withCluster } from '../helpers/cluster.js';
import { waitFor } from '../helpers/waitFor.js';

const tuning = {
  heartbeatIntervalMs: 20, laggingLagMs: 100, degradedLagMs: 600, severeLagMs: 5000, healthGraceMs: 100,
  backoffScheduleMs: [20, 50, 100], failuresToFail: 1_000_000,
};

/** A primary n1 and a caught-up replica n2; `path` collects n2's status changes and `alerts` its lag alerts from then on. */
function withWatchedReplica(fn: (c: Cluster, path: string[], alerts: string[]) => Promise<void>): Promise<void> {
  return withCluster({ size: 2, tuning }, async (c) => {
    await c.primary.write('notes', { id: 'warm-up' });
    await c.waitCaughtUp('n2');
    const path: string[] = [];
    const alerts: string[] = [];
    c.primary.on('replicaStatus', ({ replica, from, to }) => { if (replica === 'n2') path.push(`${from}->${to}`); });
    c.primary.on('lagAlert', ({ replica, level }) => { if (replica === 'n2') alerts.push(level); });
    await fn(c, path, alerts);
  });
}

test('an unreachable replica missing writes goes Lagging, then Degraded, on lag alone', async () => {
  await withWatchedReplica(async (c, path, alerts) => {
    const primary = c.primary;
    await c.stop('n2');
    const stoppedAt = primary.status().lsn;
    const first = await primary.write('notes', { id: 'missed-0' });
    let written = 1;
    const row = () => primary.status().replicas.find((r) => r.id === 'n2')!;
    await waitFor(async () => {
      await primary.write('notes', { id: `missed-${written++}` });
      return row().status === 'Degraded';
    }, { timeoutMs: 10_000, intervalMs: 20, what: 'n2 Degraded while unreachable' });

    assert.equal(path, ['Healthy->Lagging', 'Lagging->Degraded']);
    assert.equal(alerts, ['degraded']);
    const r = row();
    assert.is(r.appliedLsn, stoppedAt, 'its position is the one it had when it went away');
    assert.is(r.lagEntries, primary.status().lsn - stoppedAt);
    assert.ok(r.lagMs >= 600, `time lag ${r.lagMs} ms: the age of LSN ${first.lsn}, the first record it lacks`);
    assert.ok(r.failures > 0, 'its reconnects failed meanwhile');
    assert.is(await metricValue(primary, 'engram_replication_replica_status', { replica: 'n2', status: 'Degraded' }), 1);
    assert.ok(await metricValue(primary, 'engram_replication_lag_milliseconds', { replica: 'n2' }) >= 600);

    const replica = await c.start('n2');
    await c.waitCaughtUp('n2');
    await waitFor(() => row().status === 'Healthy', { what: 'n2 Healthy once caught up' });
    assert.is(row().lagMs, 0);
    assert.equal(digests(replica), digests(primary));
  });
});

test('an unreachable replica that misses nothing stays Healthy with lag 0', async () => {
  await withWatchedReplica(async (c, path, alerts) => {
    const primary = c.primary;
    await c.stop('n2');
    const row = () => primary.status().replicas.find((r) => r.id === 'n2')!;
    await waitFor(() => row().failures >= 5, { what: 'several failed reconnects (offline lag ticks ran meanwhile)' });
    assert.equal(path, []);
    assert.equal(alerts, []);
    assert.is(row().status, 'Healthy');
    assert.is(row().lagMs, 0);
    assert.is(row().lagEntries, 0);
  });
});

test.run();
