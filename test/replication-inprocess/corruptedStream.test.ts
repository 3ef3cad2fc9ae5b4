/**
 * Bad input on the real stream itself: the primary n1 dials its replicas
 * through a transport that can damage ONE outgoing BATCH frame on demand (a
 * bit flipped in flight, or the frame lost). The replica refuses what
 * follows with the right code (ChecksumMismatch, LogGap), counts it, closes;
 * the primary counts a `protocol` failure, reconnects, and resumes from the
 * replica's flushed LSN: every write arrives once, digests identical,
 * nothing applied out of order, the replica never leaves Healthy.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tcpTransport } from '../../src/adapters/tcpTransport.js';
import type { ReplicationNode } from '../../src/actors/replicationNode.js';
import type { Transport } from '../../src/ports.js';
import { FrameType } from '../../src/wire/frame.js';
import { digests, metricValue, withCluster, writeMemories } from '../helpers/cluster.js';
import { waitFor } from '../helpers/waitFor.js';
import { wrapConnection, wrapTransport } from '../helpers/wrapConnection.js';

type Damage = 'flip' | 'drop';

/** A TCP transport whose outgoing connections damage the next BATCH frame once armed. */
function damaging(base: Transport = tcpTransport) {
  let armed: Damage | undefined;
  let damaged = 0;
  const transport = wrapTransport(base, 'dialled', (conn) => wrapConnection(conn, {
    write: (chunks, real) => {
      const [head, payload] = chunks;
      if (armed === undefined || head === undefined || payload === undefined || head[4] !== FrameType.Batch) return real.write(chunks);
      const damage = armed;
      armed = undefined;
      damaged++;
      if (damage === 'drop') return true;
      const flipped = payload.slice();
      flipped[flipped.length >> 1]! ^= 0x20;
      return real.write([head, flipped]);
    },
  }));
  return { transport, arm: (damage: Damage) => { armed = damage; }, damaged: () => damaged };
}

const tuning = { heartbeatIntervalMs: 50, backoffScheduleMs: [20, 50, 100] };

for (const [damage, code] of [['flip', 'ChecksumMismatch'], ['drop', 'LogGap']] as const) {
  test(`a BATCH that is ${damage === 'flip' ? 'damaged' : 'lost'} in flight is refused as ${code}; the stream resumes without loss`, async () => {
    const link = damaging();
    await withCluster({ size: 3, tuning, nodeOptions: { n1: { transport: link.transport } } }, async (c) => {
      const primary = c.primary;
      const statuses: string[] = [];
      primary.on('replicaStatus', (e) => statuses.push(`${e.replica}:${e.to}`));
      await writeMemories(primary, 'notes', 'before', 100, 20, 10);
      await c.waitCaughtUp('n2');
      await c.waitCaughtUp('n3');

      link.arm(damage); // the next BATCH to n2 or n3, whichever the primary ships first
      for (let i = 0; i < 20; i++) await primary.writeMany('notes', [{ id: `during-${i}`, n: i }, { op: 'link', from: `during-${i}`, to: 'before-0' }]);
      await writeMemories(primary, 'notes', 'after', 100, 20, 10);
      assert.is(link.damaged(), 1, 'exactly one frame was damaged');

      const victim = await waitForVictim(c.node('n2'), c.node('n3'), code);
      await c.waitCaughtUp('n2');
      await c.waitCaughtUp('n3');
      for (const id of ['n2', 'n3']) assert.equal(digests(c.node(id)), digests(primary), `${id} holds every write once`);
      assert.is(victim.status().lsn, primary.status().lsn, 'no record appended twice or skipped');

      const other = victim.id === 'n2' ? c.node('n3') : c.node('n2');
      assert.is(await metricValue(victim, 'engram_replication_protocol_errors_total', { code }), 1, `${victim.id} counted ${code} once`);
      assert.is(await metricValue(other, 'engram_replication_protocol_errors_total', { code }), 0, `${other.id} saw nothing wrong`);
      const failures = (await primary.register.getSingleMetric('engram_replication_failures_total')!.get()).values;
      assert.equal(failures.map((v) => [v.labels['replica'], v.value]), [[victim.id, 1]], 'the primary counted one failure, for the victim');
      const row = primary.status().replicas.find((r) => r.id === victim.id);
      assert.ok(row?.failures === 1 && row.lastError?.includes(code), `the primary knows why: ${row?.lastError}`);
      await waitFor(() => primary.status().replicas.every((r) => r.status === 'Healthy'), { what: 'both replicas Healthy' });
      assert.not.ok(statuses.some((s) => s.endsWith(':Failed')), `one failure does not fail a replica: ${statuses.join(', ')}`);
    });
  });
}

/** The replica that refused the damaged frame (it emits an `error` event with `code`). */
async function waitForVictim(n2: ReplicationNode, n3: ReplicationNode, code: string): Promise<ReplicationNode> {
  let victim: ReplicationNode | undefined;
  await waitFor(async () => {
    for (const node of [n2, n3]) {
      if ((await metricValue(node, 'engram_replication_protocol_errors_total', { code })) > 0) victim = node;
    }
    return victim !== undefined;
  }, { what: `a replica refusing the frame as ${code}` });
  return victim as ReplicationNode;
}

test.run();
