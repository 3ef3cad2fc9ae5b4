// A replica that was down long enough for the primary's reconnect backoff to
// reach its last step (60 s by default) is not left waiting that long when it
// comes back: within a failover timeout it asks its peers for pre-votes, the
// primary takes that as the sign it is up and dials it at once (shipper event
// `replica.seen`). Real TCP, nodes in one process, automatic failover on.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { withCluster } from '../helpers/cluster.js';
import { waitFor } from '../helpers/waitFor.js';

const failover = { autoFailover: true };
const LONG_BACKOFF_MS = 60_000;

test('a replica restarted while the primary waits out a 60 s backoff is caught up within seconds, not a minute', () =>
  withCluster({
    size: 3,
    tuning: { backoffScheduleMs: [50, LONG_BACKOFF_MS], failuresToFail: 2 },
    nodeOptions: { n1: failover, n2: failover, n3: failover },
  }, async (c) => {
    const primary = c.primary;
    await primary.writeMany('s', Array.from({ length: 100 }, (_, i) => ({ id: `a-${i}` })), { ack: 'all' });
    await c.stop('n3');
    await waitFor(() => primary.status().replicas.find((r) => r.id === 'n3')?.status === 'Failed', { timeoutMs: 10_000, what: 'n3 Failed' });
    await primary.writeMany('s', Array.from({ length: 100 }, (_, i) => ({ id: `b-${i}` })), { ack: 'quorum' });
    const restartedAt = performance.now();
    const n3 = await c.start('n3');
    await waitFor(() => n3.status().appliedLsn === primary.status().lsn, { timeoutMs: 15_000, intervalMs: 20, what: 'n3 caught up' });
    const tookMs = performance.now() - restartedAt;
    assert.ok(tookMs < LONG_BACKOFF_MS / 4, `caught up ${Math.round(tookMs)} ms after its restart`);
    assert.is(primary.status().epoch, 1, 'its pre-votes deposed no one');
    assert.equal(n3.space('s'), primary.space('s'));
  }));

test.run();
