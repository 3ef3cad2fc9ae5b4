/** How TCP connections end: clean end, destroy (reset), peer reset, listener errors, end timeout; onClose exactly once. */
import net from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createTcpTransport, parseTcpAddress } from '../../src/adapters/tcpTransport.js';
import { isReplicationError } from '../../src/errors.js';
import type { Connection } from '../../src/ports.js';
import { once, waitFor } from '../helpers/waitFor.js';
import { closes, collect, nextTurn, patternChunk, patternMismatch, withTcp } from './tcpHarness.js';

const MiB = 1024 * 1024;

/** A raw `node:net` client (to act as a misbehaving peer); destroyed by the caller. */
async function rawClient(address: string): Promise<net.Socket> {
  const { host, port } = parseTcpAddress(address);
  const socket = net.connect({ host, port });
  socket.on('error', () => {});
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
  return socket;
}

test('end() flushes every queued byte first; both sides see onClose(undefined) exactly once', () => withTcp(async (tcp) => {
  let server: { got: ReturnType<typeof collect>; closed: (Error | undefined)[] } | undefined;
  const listener = await tcp.listen((conn) => { server = { got: collect(conn), closed: closes(conn) }; });
  const client = await tcp.connect(listener.address);
  const clientClosed = closes(client);
  client.onData(() => {});
  const bytes = 8 * MiB;
  for (let at = 0; at < bytes; at += MiB) client.write([patternChunk(at, MiB / 2), patternChunk(at + MiB / 2, MiB / 2)]);
  client.end();
  client.end(); // a second end is a no-op
  assert.is(client.write([Uint8Array.of(1)]), false, 'a write after end() is refused');
  await waitFor(() => clientClosed.length > 0 && server !== undefined && server.closed.length > 0, { timeoutMs: 10_000, what: 'both closed' });
  assert.is(server!.got.length, bytes);
  assert.is(patternMismatch(server!.got.bytes(), 0), -1);
  assert.equal(server!.closed, [undefined]);
  assert.equal(clientClosed, [undefined]);
  const late = await once<Error | undefined>((l) => client.onClose(l), { what: 'late onClose' });
  assert.is(late, undefined, 'a listener added after the close still hears it, once');
  assert.equal(clientClosed, [undefined]);
}));

// The peer reads everything before the reset arrives: libuv reports a reset that finds unread bytes
// in the receive queue as a plain end of stream, so only this order gives a deterministic Error.
test('destroy() aborts with a reset: the peer gets an Error, the local side undefined', () => withTcp(async (tcp) => {
  let server: { got: ReturnType<typeof collect>; closed: (Error | undefined)[] } | undefined;
  const listener = await tcp.listen((conn) => { server = { got: collect(conn), closed: closes(conn) }; });
  const client = await tcp.connect(listener.address);
  const clientClosed = closes(client);
  client.write([patternChunk(0, 1000)]);
  await waitFor(() => server !== undefined && server.got.length === 1000, { what: 'bytes before the reset' });
  client.destroy();
  client.destroy(); // idempotent
  await waitFor(() => clientClosed.length === 1 && server!.closed.length === 1, { what: 'both closed' });
  assert.is(clientClosed[0], undefined);
  assert.instance(server!.closed[0], Error);
  assert.is((server!.closed[0] as NodeJS.ErrnoException).code, 'ECONNRESET');
  assert.is(client.write([Uint8Array.of(1)]), false);
}));

test('a peer reset reaches onClose as an Error while reading (never an uncaught exception)', () => withTcp(async (tcp) => {
  let server: { got: ReturnType<typeof collect>; closed: (Error | undefined)[] } | undefined;
  const listener = await tcp.listen((conn) => { server = { got: collect(conn), closed: closes(conn) }; });
  const raw = await rawClient(listener.address);
  try {
    raw.write(Buffer.from('partial frame'));
    await waitFor(() => server !== undefined && server.got.length === 13, { what: 'bytes before the reset' });
    raw.resetAndDestroy();
    await waitFor(() => server!.closed.length === 1, { what: 'server onClose' });
    assert.is((server!.closed[0] as NodeJS.ErrnoException).code, 'ECONNRESET');
  } finally {
    raw.destroy();
  }
}));

test('writing into a connection the peer reset ends in onClose(Error), write() never throws', () => withTcp(async (tcp) => {
  let server: Connection | undefined;
  const listener = await tcp.listen((conn) => { server = conn; }); // never reads: only writes notice the reset
  const raw = await rawClient(listener.address);
  try {
    await waitFor(() => server !== undefined, { what: 'accepted' });
    const serverClosed = closes(server!);
    raw.resetAndDestroy();
    for (let i = 0; serverClosed.length === 0; i++) {
      if (i > 10_000) throw new Error('no onClose after 10000 writes into a reset connection');
      server!.write([patternChunk(0, 16 * 1024)]);
      await nextTurn();
    }
    assert.instance(serverClosed[0], Error);
    assert.match(String((serverClosed[0] as NodeJS.ErrnoException).code), /^(EPIPE|ECONNRESET)$/);
    assert.is(server!.write([Uint8Array.of(1)]), false);
  } finally {
    raw.destroy();
  }
}));

test('an onData listener that throws closes the connection with that error', () => withTcp(async (tcp) => {
  let serverClosed: (Error | undefined)[] = [];
  const listener = await tcp.listen((conn) => {
    serverClosed = closes(conn);
    conn.onData(() => { throw new Error('listener bug'); });
  });
  const client = await tcp.connect(listener.address);
  const clientClosed = closes(client);
  client.onData(() => {});
  client.write([Uint8Array.of(1, 2, 3)]);
  await waitFor(() => serverClosed.length === 1 && clientClosed.length === 1, { what: 'both closed' });
  assert.is(serverClosed[0]?.message, 'listener bug');
}));

test('a throwing onClose listener does not stop the others', () => withTcp(async (tcp) => {
  const listener = await tcp.listen((conn) => conn.onData(() => {}));
  const client = await tcp.connect(listener.address);
  client.onClose(() => { throw new Error('close listener bug'); });
  const after = closes(client);
  client.destroy();
  await waitFor(() => after.length === 1, { what: 'second listener' });
  assert.equal(after, [undefined]);
}));

test('end() against a peer that never reads: ConnectionTimeout if bytes were left, clean otherwise', () => withTcp(async (tcp) => {
  const listener = await tcp.listen((conn) => conn.pause());
  const transport = createTcpTransport({ endTimeoutMs: 150, highWaterMarkBytes: 64 * 1024 });

  const small = await tcp.connect(listener.address, transport);
  const smallClosed = closes(small);
  small.write([patternChunk(0, 1000)]); // fits in the kernel buffers: fully sent
  small.end();

  const stuck = await tcp.connect(listener.address, transport);
  const stuckClosed = closes(stuck);
  for (let written = 0; stuck.write([patternChunk(written, 64 * 1024)]); written += 64 * 1024) {
    if (written > 256 * MiB) throw new Error('write() never returned false');
    await nextTurn();
  }
  stuck.end();

  await waitFor(() => smallClosed.length === 1 && stuckClosed.length === 1, { what: 'both ended connections closed' });
  assert.equal(smallClosed, [undefined]);
  assert.ok(isReplicationError(stuckClosed[0], 'ConnectionTimeout'), String(stuckClosed[0]));
  assert.match(stuckClosed[0]!.message, /did not take the last \d+ bytes within 150 ms/);
}));

test.run();
