/**
 * A stopped replica goes Failed. A Failed replica holds back retention only
 * up to the size cap (docs/architecture.md: a replica back after a short
 * outage catches up from the log; one dead replica cannot fill the disk):
 * once the log passes the cap the primary deletes the segments n2 would
 * need. When n2 comes back it
 * recovers through reconnect -> snapshot -> stream, Failed -> Healthy, with
 * the status gauge following every step and identical digests at the end.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tcpTransport } from '../../src/adapters/tcpTransport.js';
import { parseSegmentName } from '../../src/log/segmentName.js';
import type { Transport } from '../../src/ports.js';
import { digests, metricValue, withCluster, writeMemories } from '../helpers/cluster.js';
import { waitFor } from '../helpers/waitFor.js';
import { wrapConnection, wrapTransport } from '../helpers/wrapConnection.js';

const tuning = {
  segmentBytes: 64 * 1024, retentionMaxBytes: 256 * 1024, failuresToFail: 3, heartbeatIntervalMs: 50,
  backoffScheduleMs: [20, 50, 100], connectTimeoutMs: 1000,
};

async function firstSegment(walDir: string): Promise<number> {
  const starts = (await readdir(walDir)).map(parseSegmentName).filter((n): n is number => n !== undefined);
  return Math.min(...starts);
}

async function statusGauge(node: Parameters<typeof metricValue>[0], replica: string): Promise<string[]> {
  const on: string[] = [];
  for (const status of ['Healthy', 'Lagging', 'Degraded', 'Failed']) {
    if ((await metricValue(node, 'engram_replication_replica_status', { replica, status })) === 1) on.push(status);
  }
  return on;
}

interface Change { from: string; to: string; lagEntries: number; lagMs: number }

/** A TCP transport whose accepted connections deliver every chunk `delayMs` late (a slow link), in order. */
function slowLink(delayMs: number): Transport {
  return wrapTransport(tcpTransport, 'accepted', (conn) => wrapConnection(conn, {
    data: (chunk, deliver) => void setTimeout(() => deliver(chunk), delayMs),
  }));
}

/**
 * Stop n2 until Failed, write past its position, let retention cut, restart
 * n2 (on `restartTransport` if given): `check` gets the status changes seen.
 */
async function failAndRecover(check: (changes: Change[]) => Promise<void> | void, restartTransport?: Transport): Promise<void> {
  await withCluster({ size: 2, tuning }, async (c) => {
    const primary = c.primary;
    const changes: Change[] = [];
    primary.on('replicaStatus', ({ replica, from, to }) => {
      const row = primary.status().replicas.find((r) => r.id === replica);
      if (replica === 'n2') changes.push({ from, to, lagEntries: row?.lagEntries ?? -1, lagMs: row?.lagMs ?? -1 });
    });
    await writeMemories(primary, 'notes', 'early', 100, 100);
    await c.waitCaughtUp('n2');
    assert.equal(await statusGauge(primary, 'n2'), ['Healthy']);

    await c.stop('n2');
    const stoppedAt = primary.status().lsn;
    await waitFor(() => primary.status().replicas[0]?.status === 'Failed', { what: 'n2 Failed after 3 failed connects' });
    assert.equal(changes.map((x) => `${x.from}->${x.to}`), ['Healthy->Failed'], 'straight to Failed: no lag samples without a connection');
    assert.equal(await statusGauge(primary, 'n2'), ['Failed']);
    assert.ok((primary.status().replicas[0]?.failures ?? 0) >= 3);

    const walDir = join(c.dirs.get('n1')!, 'wal');
    await writeMemories(primary, 'bulk', 'b', 1000, 200, 100); // ~4-5 segments: past the 256 KiB cap
    await waitFor(async () => (await firstSegment(walDir)) > stoppedAt + 1,
      { timeoutMs: 4000, what: "retention passes the Failed replica's position" });

    const installed: number[] = [];
    const replica = await c.start('n2', restartTransport === undefined ? {} : { transport: restartTransport });
    replica.on('snapshot', (e) => installed.push(e.lsn));
    await waitFor(() => installed.length > 0, { what: 'n2 comes back through a snapshot (its records are gone from the log)' });
    await c.waitCaughtUp('n2');
    await waitFor(() => primary.status().replicas[0]?.status === 'Healthy', { what: 'n2 Healthy again' });
    assert.equal(await statusGauge(primary, 'n2'), ['Healthy']);
    assert.ok(await metricValue(primary, 'engram_replication_snapshots_sent_total', { replica: 'n2' }) >= 1);
    assert.equal(digests(replica), digests(primary));
    assert.equal(replica.read('bulk', 'b-999'), primary.read('bulk', 'b-999'));
    await check(changes);
  });
}

test('a Failed replica holds back retention only up to the cap, then recovers through a snapshot to Healthy', () =>
  failAndRecover((changes) => {
    const path = changes.map((x) => `${x.from}->${x.to}`);
    assert.is(path[0], 'Healthy->Failed');
    assert.is(path[1]?.startsWith('Failed->'), true, `Failed recovers through reconnect -> catch-up: ${path.join(', ')}`);
    assert.is(path[path.length - 1]?.endsWith('->Healthy'), true);
  }));

// Regression (fixed in src/actors/shipperSession.ts, #sampleLag): while a reconnected replica is
// caught up by snapshot nothing is in flight and the oldest unapplied record is gone from
// the log, so the time lag keeps its stale value (0) and the replica goes Failed -> Healthy
// "with lag 0 ms" while lagEntries is ~1000. A 200 ms slow link for n2 makes the primary's
// first lag sample (a heartbeat tick 50 ms after the snapshot went out) land before the
// install, every time.
test('a replica that reconnects 1000 entries behind is not reported Healthy with lag 0', () =>
  failAndRecover((changes) => {
    const back = changes[1]!;
    assert.ok(back.lagEntries > 0, `n2 was behind when it left Failed (${back.lagEntries} entries)`);
    assert.ok(back.lagMs > 0, `time lag ${back.lagMs} ms while ${back.lagEntries} entries behind`);
    assert.is.not(back.to, 'Healthy', 'not Healthy while a snapshot is still on its way');
  }, slowLink(200)));

test.run();
