// Planned switchover (node.handover) on real TCP, three nodes in one
// process: under continuous writes the role moves to the named replica in
// one new epoch, with no acknowledged write lost (even `local` ones: the
// target holds every record before it stands) and nothing discarded on the
// old primary; refusals are typed; a target that cannot catch up in time
// leaves the old primary in charge, writing again.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type ReplicationNode, isReplicationError } from '../../src/index.js';
import { tcpTransport } from '../../src/adapters/tcpTransport.js';
import { type Cluster, metricValue, withCluster } from '../helpers/cluster.js';
import { waitFor } from '../helpers/waitFor.js';
import { wrapConnection, wrapTransport } from '../helpers/wrapConnection.js';
import { FrameType } from '../../src/wire/frame.js';

/** Writes 20-entry batches back to back to whoever is primary until stopped; records what was acknowledged and what was refused. */
function writeLoop(c: Cluster, ack: 'local' | 'quorum') {
  const acked: string[] = [];
  const refused: { code: string; atMs: number }[] = [];
  const ackedBy = new Map<string, number>();
  let stop = false;
  let batch = 0;
  const done = (async () => {
    let target = 'n1';
    while (!stop) {
      const ids = Array.from({ length: 20 }, (_, i) => `w${batch}-${i}`);
      try {
        await c.node(target).writeMany('s', ids.map((id) => ({ id })), { ack });
        acked.push(...ids);
        ackedBy.set(target, (ackedBy.get(target) ?? 0) + 1);
        batch++;
      } catch (err) {
        if (!isReplicationError(err, 'NotPrimary')) throw err;
        refused.push({ code: err.code, atMs: performance.now() });
        target = c.node(target).status().primary ?? target;
        await new Promise((resolve) => setTimeout(resolve, 5)); // a client's retry pause
      }
    }
  })();
  return { acked, refused, ackedBy, stop: async () => { stop = true; await done; } };
}

/** How a handover failed: it must reject with HandoverFailed; its context's reason, sends and whether a HANDOVER is in flight. */
async function handoverFailure(handover: Promise<unknown>): Promise<[reason: unknown, sends: unknown, inFlight: unknown]> {
  const err = await handover.then(() => undefined, (e: unknown) => e);
  assert.ok(isReplicationError(err, 'HandoverFailed'), `expected HandoverFailed, got ${String(err)}`);
  return [err.context?.['reason'], err.context?.['handoverSends'], err.context?.['handoverInFlight']];
}

async function caughtUp(c: Cluster, primary: ReplicationNode): Promise<void> {
  await waitFor(() => {
    const st = primary.status();
    return st.replicas.length === 2 && st.replicas.every((r) => r.appliedLsn === st.lsn);
  }, { timeoutMs: 15_000, what: `replicas caught up with ${primary.id}` });
}

for (const ack of ['local', 'quorum'] as const) {
  test(`handover under continuous ${ack} writes: n2 leads the next epoch, every acknowledged write is everywhere, nothing discarded`, () =>
    withCluster({ size: 3 }, async (c) => {
      const events: string[] = [];
      for (const id of ['n1', 'n2', 'n3']) {
        c.node(id).on('promoted', (e) => events.push(`${id} promoted ${e.epoch} via ${e.via}`));
        c.node(id).on('demoted', (e) => events.push(`${id} demoted ${e.epoch}`));
        c.node(id).on('truncated', (e) => events.push(`${id} truncated ${e.count}`));
      }
      const epoch = c.primary.status().epoch;
      const load = writeLoop(c, ack);
      let handoverMs = 0;
      try {
        await waitFor(() => load.acked.length >= 2000, { timeoutMs: 15_000, what: 'writes under way' });
        const started = performance.now();
        const result = await c.primary.handover({ to: 'n2' });
        handoverMs = performance.now() - started;
        assert.equal([result.primary, result.epoch], ['n2', epoch + 1]);
        await waitFor(() => (load.ackedBy.get('n2') ?? 0) >= 10, { timeoutMs: 10_000, what: 'writes acknowledged by n2' });
      } finally {
        await load.stop();
      }
      const n2 = c.node('n2');
      assert.equal([n2.role, c.primary.role, c.node('n3').role], ['primary', 'replica', 'replica']);
      assert.ok(load.refused.length > 0 && load.refused.every((r) => r.code === 'NotPrimary'), JSON.stringify(load.refused.slice(0, 3)));
      await caughtUp(c, n2);
      for (const id of ['n1', 'n2', 'n3']) {
        const node = c.node(id);
        const missing = load.acked.filter((w) => node.read('s', w) === undefined);
        assert.equal(missing.length, 0, `${id} lacks ${missing.length} acknowledged writes, e.g. ${missing.slice(0, 3).join(', ')}`);
        assert.is(node.space('s').count, load.acked.length, `${id}: no record that no client wrote`);
        assert.is(node.status().epoch, epoch + 1);
      }
      assert.equal(events.filter((e) => !e.includes('demoted')), [`n2 promoted ${epoch + 1} via handover`]);
      assert.ok(events.includes(`n1 demoted ${epoch + 1}`), events.join('; '));
      assert.is(await metricValue(c.node('n1'), 'engram_replication_handovers_total', { outcome: 'completed' }), 1);
      const refusedMs = load.refused.at(-1)!.atMs - load.refused[0]!.atMs;
      console.log(`  ${ack}: handover took ${handoverMs.toFixed(0)} ms; writes refused for ${refusedMs.toFixed(0)} ms (${load.refused.length} retries); ${load.acked.length} writes acknowledged`);
    }));
}

test('handover without automatic failover still moves the role (nobody else stands)', () =>
  withCluster({ size: 3, nodeOptions: { n1: { autoFailover: false }, n2: { autoFailover: false }, n3: { autoFailover: false } } }, async (c) => {
    await c.primary.writeMany('s', Array.from({ length: 100 }, (_, i) => ({ id: `a${i}` })));
    await c.waitCaughtUp('n2');
    await c.waitCaughtUp('n3');
    const result = await c.primary.handover(); // default target: the streaming replica with the highest flushed LSN
    assert.ok(result.primary === 'n2' || result.primary === 'n3', result.primary);
    const next = c.node(result.primary);
    assert.is(next.role, 'primary');
    await next.write('s', { id: 'after' });
    await caughtUp(c, next);
    assert.equal(c.primary.read('s', 'after'), { id: 'after' });
  }));

test('refusals are HandoverFailed with a reason: on a replica, to an unknown node, to itself, to a replica that is down, twice at once', () =>
  withCluster({ size: 3 }, async (c) => {
    const reason = async (handover: Promise<unknown>): Promise<unknown> => (await handoverFailure(handover))[0];
    await c.primary.write('s', { id: 'a' });
    await c.waitCaughtUp('n2');
    assert.is(await reason(c.node('n2').handover({ to: 'n3' })), 'notPrimary');
    assert.is(await reason(c.primary.handover({ to: 'n9' })), 'unknownTarget');
    assert.is(await reason(c.primary.handover({ to: 'n1' })), 'self');
    await c.stop('n3');
    await waitFor(() => (c.primary.status().replicas.find((r) => r.id === 'n3')?.failures ?? 0) > 0, { what: 'n1 to notice n3 is down' });
    assert.is(await reason(c.primary.handover({ to: 'n3' })), 'targetUnreachable');
    const first = c.primary.handover({ to: 'n2' });
    assert.is(await reason(c.primary.handover({ to: 'n2' })), 'handoverRunning');
    assert.equal((await first).primary, 'n2');
    assert.is(await metricValue(c.node('n1'), 'engram_replication_handovers_total', { outcome: 'failed' }), 4);
    assert.is(await metricValue(c.node('n2'), 'engram_replication_handovers_total', { outcome: 'failed' }), 1);
  }));

test('a target that cannot catch up in time: HandoverFailed (timeout), the old primary keeps its epoch and writes again', () => {
  let held: [deliver: (chunk: Uint8Array) => void, chunk: Uint8Array][] | undefined;
  const holding = wrapTransport(tcpTransport, 'accepted', (conn) => wrapConnection(conn, {
    data: (chunk, deliver) => {
      if (held === undefined) deliver(chunk);
      else held.push([deliver, chunk]);
    },
  }));
  return withCluster({ size: 3, nodeOptions: { n3: { transport: holding } } }, async (c) => {
    await c.primary.writeMany('s', [{ id: 'a' }]);
    await c.waitCaughtUp('n3');
    const epoch = c.primary.status().epoch;
    held = []; // n3 stops reading its stream
    await c.primary.writeMany('s', Array.from({ length: 50 }, (_, i) => ({ id: `b${i}` })));
    assert.equal(await handoverFailure(c.primary.handover({ to: 'n3', timeoutMs: 300 })), ['timeout', 0, false], 'n3 cannot hold every record');
    await waitFor(async () => {
      try {
        await c.primary.write('s', { id: 'after' });
        return true;
      } catch (err) {
        if (!isReplicationError(err, 'NotPrimary')) throw err;
        return false;
      }
    }, { timeoutMs: 5_000, what: 'n1 to accept writes again' });
    assert.equal([c.primary.role, c.primary.status().epoch], ['primary', epoch]);
    const backlog = held;
    held = undefined;
    for (const [deliver, chunk] of backlog) deliver(chunk);
    await c.waitCaughtUp('n3');
    assert.equal(c.node('n3').read('s', 'after'), { id: 'after' });
  });
});

/** Is this write a HANDOVER frame (one buffer, frame type 13)? */
const isHandover = (chunks: readonly Uint8Array[]): boolean => chunks.length === 1 && chunks[0]![4] === FrameType.Handover;

test('a HANDOVER lost on the way is sent again once the target shows it read past it, and the handover completes', () => {
  let handovers = 0;
  const dropFirst = wrapTransport(tcpTransport, 'dialled', (conn) => wrapConnection(conn, {
    write: (chunks, real) => {
      if (isHandover(chunks) && handovers++ === 0) return true; // lost: the target never sees it
      return real.write(chunks);
    },
  }));
  return withCluster({ size: 3, nodeOptions: { n1: { transport: dropFirst } } }, async (c) => {
    await c.primary.writeMany('s', Array.from({ length: 20 }, (_, i) => ({ id: `a${i}` })));
    await c.waitCaughtUp('n2');
    const result = await c.primary.handover({ to: 'n2' });
    assert.equal([result.primary, handovers], ['n2', 2]);
    assert.is(c.node('n2').role, 'primary');
  });
});

test('a HANDOVER still in flight when the handover times out: the old primary steps down instead of writing again, and the target stands when it arrives', () => {
  // The connection n1 sends a HANDOVER on holds it, and everything after it, until the connection is torn
  // down; then it delivers what it held (bytes already on their way) before closing, as a slow network would.
  const delaying = wrapTransport(tcpTransport, 'dialled', (conn) => {
    let held: Uint8Array[][] | undefined;
    const wrapped = wrapConnection(conn, {
      write: (chunks, real) => {
        if (held === undefined && isHandover(chunks)) held = [];
        if (held === undefined) return real.write(chunks);
        held.push([...chunks]);
        return true;
      },
    });
    const destroy = (): void => {
      if (held === undefined) return conn.destroy();
      for (const chunks of held) conn.write(chunks);
      held = undefined;
      conn.end(); // the held bytes go out before the FIN
    };
    return { ...wrapped, get remoteAddress() { return conn.remoteAddress; }, get pendingBytes() { return conn.pendingBytes; }, destroy };
  });
  return withCluster({ size: 3, nodeOptions: { n1: { transport: delaying } } }, async (c) => {
    const events: string[] = [];
    for (const id of ['n1', 'n2', 'n3']) {
      c.node(id).on('promoted', (e) => events.push(`${id} promoted ${e.epoch} via ${e.via}`));
      c.node(id).on('demoted', (e) => events.push(`${id} demoted ${e.epoch} ${e.reason}`));
      c.node(id).on('truncated', (e) => events.push(`${id} truncated ${e.count}`));
    }
    await c.primary.writeMany('s', Array.from({ length: 50 }, (_, i) => ({ id: `a${i}` })), { ack: 'quorum' });
    await c.waitCaughtUp('n2');
    const epoch = c.primary.status().epoch;
    assert.equal(await handoverFailure(c.primary.handover({ to: 'n2', timeoutMs: 500 })), ['timeout', 1, true], 'the HANDOVER is held past the timeout');
    assert.is(c.primary.role, 'replica', 'stepped down: the target may still stand in the next epoch');
    try {
      await c.primary.write('s', { id: 'refused' });
      assert.unreachable('n1 stepped down');
    } catch (err) {
      assert.ok(isReplicationError(err, 'NotPrimary'), String(err));
    }
    await waitFor(() => c.node('n2').role === 'primary', { timeoutMs: 10_000, what: 'n2 to stand on the late HANDOVER and win' });
    assert.is(c.node('n2').status().epoch, epoch + 1);
    await c.node('n2').write('s', { id: 'after' }, { ack: 'quorum' });
    await caughtUp(c, c.node('n2'));
    assert.equal(events.filter((e) => !e.startsWith('n3')).sort(), [`n1 demoted ${epoch} handoverTimedOut`, `n2 promoted ${epoch + 1} via handover`]);
    for (const id of ['n1', 'n3']) {
      assert.equal(c.node(id).read('s', 'a49'), { id: 'a49' });
      assert.equal(c.node(id).read('s', 'after'), { id: 'after' });
      assert.is(c.node(id).read('s', 'refused'), undefined);
    }
  });
});

test('closing the primary during a handover settles it: HandoverFailed (closed)', () => {
  let held = false;
  const holding = wrapTransport(tcpTransport, 'accepted', (conn) => wrapConnection(conn, { data: (chunk, deliver) => { if (!held) deliver(chunk); } }));
  return withCluster({ size: 3, nodeOptions: { n2: { transport: holding } } }, async (c) => {
    await c.primary.write('s', { id: 'a' });
    await c.waitCaughtUp('n2');
    held = true; // n2 stops reading: it cannot catch up
    await c.primary.write('s', { id: 'b' });
    const failure = handoverFailure(c.primary.handover({ to: 'n2', timeoutMs: 60_000 }));
    await c.stop('n1');
    assert.is((await failure)[0], 'closed');
  });
});

test.run();
