/** Send-side back-pressure: write() turns false against a paused peer, onDrain follows its resume, nothing is lost. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createTcpTransport } from '../../src/adapters/tcpTransport.js';
import type { Connection } from '../../src/ports.js';
import { waitFor } from '../helpers/waitFor.js';
import { nextTurn, patternChunk, patternMismatch, withTcp } from './tcpHarness.js';

const KiB = 1024;
const MiB = 1024 * KiB;
/** No loopback socket pair buffers this much in the kernel; reaching it means write() never said stop. */
const writeCapBytes = 256 * MiB;

/** A peer that checks every byte against the pattern and counts them. */
function patternSink(conn: Connection): { readonly received: number; readonly badAt: number } {
  const state = { received: 0, badAt: -1 };
  conn.onData((chunk) => {
    const bad = patternMismatch(chunk, state.received);
    if (bad >= 0 && state.badAt < 0) state.badAt = state.received + bad;
    state.received += chunk.length;
  });
  return state;
}

/** Writes pattern chunks, one per event-loop turn (so the peer could read if it were reading), until write() returns false. */
async function writeUntilFull(conn: Connection, chunkBytes: number, start = 0): Promise<number> {
  let written = 0;
  for (;;) {
    const ok = conn.write([patternChunk(start + written, chunkBytes)]);
    written += chunkBytes;
    if (!ok) return written;
    if (written >= writeCapBytes) throw new Error(`write() still true after ${written} bytes to a paused peer`);
    await nextTurn();
  }
}

/** Sets up a paused peer and a client with write high-water mark `clientHwm`, runs the back-pressure cycle, checks every byte. */
async function backPressureCycle(clientHwm: number, chunkBytes: number): Promise<void> {
  await withTcp(async (tcp) => {
    let peer: Connection | undefined;
    let sink: ReturnType<typeof patternSink> | undefined;
    const listener = await tcp.listen((conn) => {
      peer = conn;
      conn.pause();
      sink = patternSink(conn);
    });
    const client = await tcp.connect(listener.address, createTcpTransport({ highWaterMarkBytes: clientHwm }));
    let drains = 0;
    client.onDrain(() => drains++);
    await waitFor(() => peer !== undefined, { what: 'accepted' });

    const written = await writeUntilFull(client, chunkBytes);
    assert.ok(client.pendingBytes >= Math.max(clientHwm, 16 * KiB), `pendingBytes ${client.pendingBytes}`);
    assert.ok(sink!.received < written, 'the paused peer cannot have everything');
    assert.is(drains, 0, 'no drain while the peer is paused');

    peer!.resume();
    await waitFor(() => drains === 1, { timeoutMs: 10_000, what: 'onDrain after resume' });
    assert.ok(client.pendingBytes < Math.max(clientHwm, 16 * KiB));

    const tail = 100_000; // writing on after the drain works and stays in order
    assert.ok(client.write([patternChunk(written, tail)]));
    await waitFor(() => sink!.received === written + tail, { timeoutMs: 10_000, what: `${written + tail} bytes at the peer` });
    assert.is(sink!.badAt, -1, `first wrong byte at ${sink!.badAt}`);
    assert.is(client.pendingBytes, 0);
  });
}

test('write() turns false against a paused peer; onDrain fires once it resumes; every byte arrives in order', () =>
  backPressureCycle(256 * KiB, 64 * KiB));

test('a tiny highWaterMarkBytes is raised to the socket\'s own 16 KiB, so a false is still followed by onDrain', () =>
  backPressureCycle(1, KiB));

test('onDrain does not fire when write() never returned false', () => withTcp(async (tcp) => {
  let sink: ReturnType<typeof patternSink> | undefined;
  const listener = await tcp.listen((conn) => { sink = patternSink(conn); });
  const client = await tcp.connect(listener.address);
  let drains = 0;
  client.onDrain(() => drains++);
  const bytes = 2 * MiB; // over Node's own 16 KiB mark, under the 4 MiB default: Node drains, we stay quiet
  assert.ok(client.write([patternChunk(0, bytes)]));
  await waitFor(() => sink !== undefined && sink.received === bytes && client.pendingBytes === 0, { what: 'all bytes sent' });
  await nextTurn();
  assert.is(drains, 0);
  assert.is(sink!.badAt, -1);
}));

test('pause() stops onData until resume(), then everything arrives in order', () => withTcp(async (tcp) => {
  let peer: Connection | undefined;
  let sink: ReturnType<typeof patternSink> | undefined;
  const listener = await tcp.listen((conn) => { peer = conn; sink = patternSink(conn); });
  const client = await tcp.connect(listener.address, createTcpTransport({ highWaterMarkBytes: 64 * KiB }));
  await waitFor(() => peer !== undefined, { what: 'accepted' });
  assert.ok(client.write([patternChunk(0, 1000)]));
  await waitFor(() => sink!.received === 1000, { what: 'first 1000 bytes' });

  peer!.pause();
  const written = await writeUntilFull(client, 32 * KiB, 1000);
  const seenWhilePaused = sink!.received;
  assert.ok(seenWhilePaused < written + 1000, 'pause() stopped delivery');
  peer!.resume();
  await waitFor(() => sink!.received === written + 1000, { timeoutMs: 10_000, what: 'everything after resume' });
  assert.ok(sink!.received > seenWhilePaused);
  assert.is(sink!.badAt, -1);
}));

test.run();
