/**
 * Bad input on a replica's replication port (DESIGN §5), from a raw socket
 * over real TCP while the real primary streams to the same replica: random
 * bytes, an oversized length prefix, a truncated frame, a truncated batch, a
 * bad CRC, a stale epoch, an LSN gap and a HANDOVER out of place (before
 * HELLO, or from a stale epoch) are each refused with an ERROR frame
 * carrying their code, counted in `engram_replication_protocol_errors_total{code}`,
 * the connection closed, nothing applied; the replica keeps serving and the
 * primary's stream goes on without loss. (Damage to the real stream itself:
 * corruptedStream.test.ts.)
 */
import { randomBytes } from 'node:crypto';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ReplicationNode } from '../../src/actors/replicationNode.js';
import { FrameType, encodeFrame } from '../../src/wire/frame.js';
import { FrameReader } from '../../src/wire/frameReader.js';
import { encodeMessage } from '../../src/wire/messages.js';
import { type Cluster, type RawPeer, craftBatch, digests, helloAsPrimary, metricValue, withCluster, writeMemories } from '../helpers/cluster.js';

const PROTOCOL_ERRORS = 'engram_replication_protocol_errors_total';

/** Random bytes whose first 5 bytes are not a valid frame header, and the code that header earns. */
function garbage(): { bytes: Uint8Array; code: string } {
  for (;;) {
    const bytes = new Uint8Array(randomBytes(256));
    const probe = new FrameReader();
    probe.push(bytes);
    try {
      probe.next();
    } catch (err) {
      return { bytes, code: (err as { code: string }).code };
    }
  }
}

/** `{ code: count }` of the protocol-error counter on `node`. */
async function protocolErrors(node: ReplicationNode): Promise<Record<string, number>> {
  const data = await node.register.getSingleMetric(PROTOCOL_ERRORS)!.get();
  return Object.fromEntries(data.values.map((v) => [String(v.labels['code']), v.value]));
}

/**
 * Sends the bad input `attack` builds, then checks: ERROR `code` before the
 * close, the metric up by one, n2's positions and digests unchanged, n2 still
 * serving, and the real stream carrying 50 more memories to identical digests.
 */
async function refused(c: Cluster, attack: (c: Cluster) => Promise<{ peer: RawPeer; code: string }>, round: number): Promise<void> {
  const replica = c.node('n2');
  await writeMemories(c.primary, 'notes', `before-${round}`, 20);
  await c.waitCaughtUp('n2');
  const before = { applied: replica.status().appliedLsn, lsn: replica.status().lsn, digests: digests(replica) };
  const counted = await protocolErrors(replica);
  const { peer, code } = await attack(c);
  try {
    await peer.closed;
    const errors = peer.received.filter((m) => m.kind === 'error');
    assert.equal(errors.map((m) => (m.kind === 'error' ? m.code : '')), [code], `one ERROR frame with code ${code} before the close`);
    assert.equal(await protocolErrors(replica), { ...counted, [code]: (counted[code] ?? 0) + 1 }, `${PROTOCOL_ERRORS}{code="${code}"} counted once, nothing else`);
    assert.equal({ applied: replica.status().appliedLsn, lsn: replica.status().lsn, digests: digests(replica) }, before, 'nothing applied');
    assert.not.ok(replica.spaces().includes('evil'), 'no crafted record reached the projection');
  } finally {
    peer.socket.destroy();
  }
  await writeMemories(c.primary, 'notes', `after-${round}`, 50);
  await c.waitCaughtUp('n2');
  assert.equal(digests(replica), digests(c.primary), 'the stream resumed without loss');
  assert.is(replica.read('notes', `after-${round}-49`) !== undefined, true);
}

const tuning = { heartbeatIntervalMs: 50, backoffScheduleMs: [20, 50, 100], handshakeTimeoutMs: 2000 };

test('every kind of bad input is refused with its code, counted, closed, nothing applied, and the stream resumes', () =>
  withCluster({ size: 2, tuning }, async (c) => {
    const attacks: [string, (c: Cluster) => Promise<{ peer: RawPeer; code: string }>][] = [
      ['random bytes', async (c) => {
        const peer = await c.rawPeer('n2');
        const { bytes, code } = garbage();
        peer.send([bytes]);
        return { peer, code };
      }],
      ['oversized length prefix', async (c) => {
        const { peer } = await helloAsPrimary(c, 'n2');
        const head = new Uint8Array(5);
        new DataView(head.buffer).setUint32(0, 0xffff_fff0, true);
        head[4] = 3; // BATCH
        peer.send([head, new Uint8Array(64)]);
        return { peer, code: 'FrameTooLarge' };
      }],
      ['truncated frame', async (c) => {
        const { peer } = await helloAsPrimary(c, 'n2');
        peer.send([encodeFrame(FrameType.Heartbeat, new Uint8Array(10))]); // a HEARTBEAT body is 20 bytes
        return { peer, code: 'TruncatedFrame' };
      }],
      ['truncated batch', async (c) => {
        const { peer, flushedLsn } = await helloAsPrimary(c, 'n2');
        const [head, body] = craftBatch(flushedLsn + 1, 3);
        const cut = body.subarray(0, body.length - 10);
        new DataView(head.buffer).setUint32(0, head.length - 5 + cut.length + 1, true); // frame length matches what is sent
        peer.send([head, cut]);
        return { peer, code: 'TruncatedBatch' };
      }],
      ['bad CRC', async (c) => {
        const { peer, flushedLsn } = await helloAsPrimary(c, 'n2');
        const [head, body] = craftBatch(flushedLsn + 1, 3);
        body[body.length - 3]! ^= 0xff;
        peer.send([head, body]);
        return { peer, code: 'ChecksumMismatch' };
      }],
      ['stale epoch', async (c) => {
        const { peer, flushedLsn } = await helloAsPrimary(c, 'n2');
        peer.send(craftBatch(flushedLsn + 1, 3, 0)); // the replica is in epoch 1
        return { peer, code: 'StaleEpoch' };
      }],
      ['LSN gap', async (c) => {
        const { peer, flushedLsn } = await helloAsPrimary(c, 'n2');
        peer.send(craftBatch(flushedLsn + 5, 3));
        return { peer, code: 'LogGap' };
      }],
      ['HANDOVER before HELLO', async (c) => {
        const peer = await c.rawPeer('n2');
        peer.send(encodeMessage({ kind: 'handover', epoch: 1, lsn: 1 }));
        return { peer, code: 'MalformedMessage' };
      }],
      ['HANDOVER from a stale epoch', async (c) => {
        const { peer, flushedLsn } = await helloAsPrimary(c, 'n2');
        peer.send(encodeMessage({ kind: 'handover', epoch: 0, lsn: flushedLsn }));
        return { peer, code: 'StaleEpoch' };
      }],
    ];
    let round = 0;
    for (const [name, attack] of attacks) {
      try {
        await refused(c, attack, round++);
      } catch (err) {
        throw new Error(`${name}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
    }
    const row = c.primary.status().replicas[0];
    assert.equal([c.node('n2').status().role, row?.status, row?.failures], ['replica', 'Healthy', 0], 'the real stream was never disrupted');
    assert.is(c.node('n2').status().epoch, 1, 'no HANDOVER made n2 stand');
  }));

// Regression: bytes of an incomplete frame left in the FrameReader when the
// peer closes used to be dropped silently; DESIGN §5 wants TruncatedFrame counted.
test('a frame cut short by the end of the stream is counted as TruncatedFrame, nothing applied', () =>
  withCluster({ size: 2, tuning }, async (c) => {
    await writeMemories(c.primary, 'notes', 'm', 20);
    await c.waitCaughtUp('n2');
    const replica = c.node('n2');
    const before = { applied: replica.status().appliedLsn };
    const { peer, flushedLsn } = await helloAsPrimary(c, 'n2');
    const [head, body] = craftBatch(flushedLsn + 1, 3);
    peer.send([head, body.subarray(0, 20)]); // the header promises the whole batch
    peer.socket.end();
    await peer.closed;
    await writeMemories(c.primary, 'notes', 'after', 10);
    await c.waitCaughtUp('n2');
    assert.is(await metricValue(replica, PROTOCOL_ERRORS, { code: 'TruncatedFrame' }), 1, 'TruncatedFrame counted');
    assert.ok(before.applied < replica.status().appliedLsn && !replica.spaces().includes('evil'));
  }));

test.run();
