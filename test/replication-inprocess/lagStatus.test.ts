/**
 * Lag drives replica status (DESIGN §7), on real TCP: replica n2 listens
 * through a transport that can hold back every byte it receives (a throttle
 * under test control, the socket itself stays open). While held, the
 * primary's time lag for n2 grows; n2 goes Healthy -> Lagging -> Degraded
 * (alert degraded, then severe) and, once released, back one level at a time
 * to Healthy. At each step the `replicaStatus` event, the
 * `engram_replication_replica_status` gauge, the `engram_replication_lag_milliseconds`
 * gauge and `status()` agree.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tcpTransport } from '../../src/adapters/tcpTransport.js';
import type { ReplicaStatus } from '../../src/actors/nodeEvents.js';
import type { Transport } from '../../src/ports.js';
import { digests, metricValue, withCluster } from '../helpers/cluster.js';
import { waitFor } from '../helpers/waitFor.js';
import { wrapConnection, wrapTransport } from '../helpers/wrapConnection.js';

/** A TCP transport whose accepted connections deliver nothing while held, then everything in order. */
function throttle(base: Transport = tcpTransport) {
  let held = false;
  const queued: (() => void)[] = [];
  const transport = wrapTransport(base, 'accepted', (conn) => wrapConnection(conn, {
    data: (chunk, deliver) => void (held ? queued.push(() => deliver(chunk)) : deliver(chunk)),
  }));
  return {
    transport,
    hold: () => { held = true; },
    release: () => {
      held = false;
      for (const deliver of queued.splice(0)) deliver();
    },
  };
}

interface Step {
  from: ReplicaStatus;
  to: ReplicaStatus;
  gauge: Record<ReplicaStatus, number>;
  lagMetricMs: number;
  lagEventMs: number;
  statusField: ReplicaStatus | undefined;
}

const STATUSES: ReplicaStatus[] = ['Healthy', 'Lagging', 'Degraded', 'Failed'];
const tuning = {
  heartbeatIntervalMs: 20, laggingLagMs: 100, degradedLagMs: 900, severeLagMs: 1500, healthGraceMs: 100,
  backoffScheduleMs: [20, 50, 100],
};

test('a held-back replica goes Healthy -> Lagging -> Degraded (alerts) and back, events and metrics agreeing', async () => {
  const link = throttle();
  await withCluster({ size: 2, tuning, nodeOptions: { n2: { transport: link.transport } } }, async (c) => {
    const primary = c.primary;
    await primary.write('notes', { id: 'warm-up' });
    await c.waitCaughtUp('n2');
    const steps: Promise<Step>[] = [];
    const alerts: { level: string; lagMs: number }[] = [];
    primary.on('lagAlert', ({ replica, level, lagMs }) => { if (replica === 'n2') alerts.push({ level, lagMs }); });
    primary.on('replicaStatus', ({ replica, from, to }) => {
      if (replica !== 'n2') return;
      // read the metrics now, in the listener: the node sets them just before it emits
      const gauges = STATUSES.map((s) => metricValue(primary, 'engram_replication_replica_status', { replica: 'n2', status: s }));
      const lag = metricValue(primary, 'engram_replication_lag_milliseconds', { replica: 'n2' });
      const row = primary.status().replicas.find((r) => r.id === 'n2');
      steps.push(Promise.all([Promise.all(gauges), lag]).then(([g, lagMetricMs]) => ({
        from, to, lagMetricMs, lagEventMs: row?.lagMs ?? -1, statusField: row?.status,
        gauge: { Healthy: g[0]!, Lagging: g[1]!, Degraded: g[2]!, Failed: g[3]! },
      })));
    });

    link.hold();
    await primary.writeMany('notes', [{ id: 'held-1' }, { id: 'held-2' }]);
    await waitFor(() => alerts.some((a) => a.level === 'severe'), { timeoutMs: 5000, what: 'a severe lag alert while n2 is held' });
    assert.is(c.node('n2').read('notes', 'held-1'), undefined, 'n2 really received nothing while held');
    link.release();
    await waitFor(() => primary.status().replicas[0]?.status === 'Healthy', { timeoutMs: 5000, what: 'n2 back to Healthy' });
    await c.waitCaughtUp('n2');
    assert.equal(digests(c.node('n2')), digests(primary), 'the held batch arrived whole');

    const seen = await Promise.all(steps);
    assert.equal(seen.map((s) => `${s.from}->${s.to}`), ['Healthy->Lagging', 'Lagging->Degraded', 'Degraded->Lagging', 'Lagging->Healthy'],
      'one level at a time, no flapping');
    for (const s of seen) {
      assert.equal(s.gauge, { ...{ Healthy: 0, Lagging: 0, Degraded: 0, Failed: 0 }, [s.to]: 1 }, `status gauge at ${s.to}`);
      assert.is(s.statusField, s.to, `status() agrees at ${s.to}`);
      assert.is(s.lagMetricMs, s.lagEventMs, `lag gauge equals status().lagMs at ${s.from}->${s.to}`);
    }
    const [toLagging, toDegraded, backToLagging, backToHealthy] = seen as [Step, Step, Step, Step];
    assert.ok(toLagging.lagMetricMs >= tuning.laggingLagMs && toLagging.lagMetricMs < tuning.degradedLagMs, `Lagging at ${toLagging.lagMetricMs} ms`);
    assert.ok(toDegraded.lagMetricMs >= tuning.degradedLagMs, `Degraded at ${toDegraded.lagMetricMs} ms`);
    assert.ok(backToLagging.lagMetricMs < tuning.degradedLagMs * 0.8, `back to Lagging at ${backToLagging.lagMetricMs} ms`);
    assert.is(backToHealthy.lagMetricMs, 0, 'caught up: no lag');
    assert.equal(alerts.map((a) => a.level), ['degraded', 'severe'], 'one alert per level');
    assert.ok(alerts[0]!.lagMs >= tuning.degradedLagMs && alerts[1]!.lagMs >= tuning.severeLagMs, JSON.stringify(alerts));
    assert.is(await metricValue(primary, 'engram_replication_lag_entries', { replica: 'n2' }), 0);
  });
});

test.run();
