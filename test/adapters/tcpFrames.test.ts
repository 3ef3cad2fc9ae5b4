/** Protocol frames over real TCP: multi-buffer writes (MiB batches included) arrive whole and in order, both ways. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Connection } from '../../src/ports.js';
import {
  type Frame,
  FrameReader,
  type WireMessage,
  decodeMessage,
  encodeBatchFrame,
  encodeMessage,
} from '../../src/wire/index.js';
import { once, waitFor } from '../helpers/waitFor.js';
import { pseudoRandomBytes, withTcp } from './tcpHarness.js';

const MiB = 1024 * 1024;

/** Decodes every whole frame `conn` receives into `out`. */
function readMessages(conn: Connection, out: WireMessage[]): void {
  const reader = new FrameReader();
  conn.onData((chunk) => {
    reader.push(chunk);
    for (let f: Frame | undefined = reader.next(); f !== undefined; f = reader.next()) out.push(decodeMessage(f));
  });
}

/** Writes each message's buffers as one write, waiting for onDrain whenever write() says so. */
async function writeAll(conn: Connection, messages: Uint8Array[][]): Promise<number> {
  let drains = 0;
  for (const buffers of messages) {
    if (!conn.write(buffers)) {
      await once<void>((l) => conn.onDrain(l), { timeoutMs: 10_000, what: 'drain while writing frames' });
      drains++;
    }
  }
  return drains;
}

/** A batch frame split into 3+ buffers: frame+batch header, then the payload cut in two views. */
function batchBuffers(startLsn: number, payload: Uint8Array): Uint8Array[] {
  const [head, body] = encodeBatchFrame({ epoch: 3, startLsn, count: 1, primaryId: 'n1', firstTimestampMs: startLsn, sentAtMs: 7 }, payload);
  const cut = Math.floor(body.length / 3);
  return [head, body.subarray(0, cut), body.subarray(cut)];
}

test('a mixed stream of 2000 frames, MiB batches included, arrives intact and in order', () => withTcp(async (tcp) => {
  const received: WireMessage[] = [];
  const listener = await tcp.listen((conn) => readMessages(conn, received));
  const client = await tcp.connect(listener.address);

  const payloads = new Map<number, Uint8Array>();
  const messages: Uint8Array[][] = [];
  for (let i = 0; i < 2000; i++) {
    if (i % 5 === 0) {
      const size = i === 500 ? 6 * MiB : i === 1500 ? 3 * MiB + 17 : 40 + (i % 700) * 13;
      const payload = pseudoRandomBytes(size, i + 1);
      payloads.set(i, payload);
      messages.push(batchBuffers(i, payload));
    } else if (i % 5 === 1) {
      messages.push(encodeMessage({ kind: 'ack', epoch: 3, receivedLsn: i, flushedLsn: i, appliedLsn: i - 1, echoSentAtMs: 7 }));
    } else if (i % 5 === 2) {
      messages.push(encodeMessage({ kind: 'snapshotChunk', offset: i, bytes: pseudoRandomBytes(i % 300, i) }));
    } else if (i % 5 === 3) {
      messages.push(encodeMessage({ kind: 'heartbeat', epoch: 3, primaryLsn: i, sentAtMs: 9 }));
    } else {
      messages.push(encodeMessage({ kind: 'hello', protocolVersion: 1, clusterId: 'c', fromId: 'n1', toId: 'n2', epoch: 3,
        lastLsn: i, epochHistory: [{ epoch: 1, startLsn: 1 }, { epoch: 3, startLsn: 40 }] }));
    }
  }
  await writeAll(client, messages);
  await waitFor(() => received.length === messages.length, { timeoutMs: 20_000, what: `${messages.length} frames` });

  received.forEach((msg, i) => {
    switch (msg.kind) {
      case 'batch':
        assert.is(msg.batch.startLsn, i, `batch at ${i}`);
        assert.ok(Buffer.from(msg.batch.payload).equals(payloads.get(i)!), `payload of batch ${i}`);
        break;
      case 'ack': assert.is(msg.receivedLsn, i); break;
      case 'snapshotChunk':
        assert.is(msg.offset, i);
        assert.equal(Buffer.from(msg.bytes), Buffer.from(pseudoRandomBytes(i % 300, i)));
        break;
      case 'heartbeat': assert.is(msg.primaryLsn, i); break;
      case 'hello':
        assert.is(msg.lastLsn, i);
        assert.equal(msg.epochHistory, [{ epoch: 1, startLsn: 1 }, { epoch: 3, startLsn: 40 }]);
        break;
      default: assert.unreachable(`unexpected ${msg.kind} at ${i}`);
    }
  });
}));

test('full duplex: batches one way, an ACK back for each, both streams whole', () => withTcp(async (tcp) => {
  const batches: WireMessage[] = [];
  const listener = await tcp.listen((conn) => {
    const reader = new FrameReader();
    conn.onData((chunk) => {
      reader.push(chunk);
      for (let f: Frame | undefined = reader.next(); f !== undefined; f = reader.next()) {
        const msg = decodeMessage(f);
        batches.push(msg);
        if (msg.kind === 'batch') {
          const lsn = msg.batch.startLsn;
          conn.write(encodeMessage({ kind: 'ack', epoch: 3, receivedLsn: lsn, flushedLsn: lsn, appliedLsn: lsn, echoSentAtMs: 7 }));
        }
      }
    });
  });
  const client = await tcp.connect(listener.address);
  const acks: WireMessage[] = [];
  readMessages(client, acks);

  const count = 300;
  const messages = Array.from({ length: count }, (_, i) => batchBuffers(i + 1, pseudoRandomBytes(i === 150 ? 5 * MiB : 64 + i * 50, i)));
  await writeAll(client, messages);
  await waitFor(() => acks.length === count, { timeoutMs: 20_000, what: `${count} acks` });
  assert.equal(batches.map((m) => (m.kind === 'batch' ? m.batch.startLsn : -1)), Array.from({ length: count }, (_, i) => i + 1));
  assert.equal(acks.map((m) => (m.kind === 'ack' ? m.receivedLsn : -1)), Array.from({ length: count }, (_, i) => i + 1));
}));

test('a frame arriving in 1-byte writes is still read whole (chunking is invisible)', () => withTcp(async (tcp) => {
  const received: WireMessage[] = [];
  const listener = await tcp.listen((conn) => readMessages(conn, received));
  const client = await tcp.connect(listener.address);
  const frame = Buffer.concat(encodeMessage({ kind: 'heartbeat', epoch: 1, primaryLsn: 42, sentAtMs: 5 }));
  for (const byte of frame) client.write([Uint8Array.of(byte)]);
  client.write([]); // an empty write is a no-op
  await waitFor(() => received.length === 1, { what: 'one heartbeat' });
  assert.equal(received[0], { kind: 'heartbeat', epoch: 1, primaryLsn: 42, sentAtMs: 5 });
}));

test.run();
