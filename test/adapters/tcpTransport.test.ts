/** TCP transport basics on loopback: listen/connect, addresses, refusal, listener close, raw bytes, many connections. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { formatTcpAddress, parseTcpAddress, tcpTransport } from '../../src/adapters/tcpTransport.js';
import { ReplicationError, isReplicationError } from '../../src/errors.js';
import type { Connection } from '../../src/ports.js';
import { waitFor } from '../helpers/waitFor.js';
import { closes, collect, echo, pseudoRandomBytes, withTcp } from './tcpHarness.js';

async function rejection(promise: Promise<unknown>): Promise<ReplicationError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof ReplicationError) return err;
    throw new Error(`expected a ReplicationError, got ${String(err)}`);
  }
  throw new Error('expected a rejection, but the promise resolved');
}

async function roundTrip(conn: Connection, bytes: Uint8Array): Promise<void> {
  const got = collect(conn);
  assert.ok(conn.write([bytes.subarray(0, 10), bytes.subarray(10)]));
  await waitFor(() => got.length >= bytes.length, { what: `echo of ${bytes.length} bytes` });
  assert.equal(got.bytes(), Buffer.from(bytes));
}

test('listen on port 0 reports the real port; a connection echoes bytes both ways', () => withTcp(async (tcp) => {
  let serverSide: Connection | undefined;
  const listener = await tcp.listen((conn) => { serverSide = conn; echo(conn); });
  const port = Number(/^127\.0\.0\.1:(\d+)$/.exec(listener.address)?.[1]);
  assert.ok(port > 0 && port <= 65535, listener.address);
  const client = await tcp.connect(listener.address);
  assert.is(client.remoteAddress, listener.address);
  await roundTrip(client, pseudoRandomBytes(50_000, 1));
  assert.match(serverSide!.remoteAddress, /^127\.0\.0\.1:\d+$/);
  assert.is(client.pendingBytes, 0);
}));

test('[::1] works and its address is bracketed', () => withTcp(async (tcp) => {
  const listener = await tcp.listen(echo, '[::1]:0');
  assert.match(listener.address, /^\[::1\]:[1-9]\d*$/);
  const client = await tcp.connect(listener.address);
  await roundTrip(client, pseudoRandomBytes(1000, 2));
}));

test('parseTcpAddress / formatTcpAddress', () => {
  assert.equal(parseTcpAddress('127.0.0.1:7400'), { host: '127.0.0.1', port: 7400 });
  assert.equal(parseTcpAddress('[::1]:65535'), { host: '::1', port: 65535 });
  assert.equal(parseTcpAddress('db-1.internal:1'), { host: 'db-1.internal', port: 1 });
  assert.equal(parseTcpAddress('127.0.0.1:0', true), { host: '127.0.0.1', port: 0 });
  assert.is(formatTcpAddress('::1', 9), '[::1]:9');
  assert.is(formatTcpAddress('127.0.0.1', 9), '127.0.0.1:9');
});

test('malformed addresses reject with InvalidConfig, before any socket is opened', async () => {
  const bad = ['', '127.0.0.1', '127.0.0.1:', ':7400', '127.0.0.1:65536', '127.0.0.1:-1', '127.0.0.1:7x',
    '::1:7400', '[::1]7400', '[not-v6]:7400', '[]:7400', '999.1.1.1:7400', 'a b:7400', 'bad_host:7400'];
  for (const address of bad) {
    const listenErr = await rejection(tcpTransport.listen(address, () => {}));
    assert.is(listenErr.code, 'InvalidConfig', `listen ${address}`);
    assert.ok(listenErr.message.includes(JSON.stringify(address)), listenErr.message);
    assert.is((await rejection(tcpTransport.connect(address, { timeoutMs: 100 }))).code, 'InvalidConfig', `connect ${address}`);
  }
  const zero = await rejection(tcpTransport.connect('127.0.0.1:0', { timeoutMs: 100 }));
  assert.is(zero.code, 'InvalidConfig');
  assert.match(zero.message, /port 0/);
});

test('connecting to a closed port rejects ConnectionClosed at once, naming the address', async () => {
  const listener = await tcpTransport.listen('127.0.0.1:0', () => {});
  await listener.close();
  const started = performance.now();
  const err = await rejection(tcpTransport.connect(listener.address, { timeoutMs: 5000 }));
  const elapsedMs = performance.now() - started;
  assert.is(err.code, 'ConnectionClosed');
  assert.ok(err.message.includes(listener.address), err.message);
  assert.is((err.cause as NodeJS.ErrnoException).code, 'ECONNREFUSED');
  assert.ok(elapsedMs < 1000, `took ${elapsedMs} ms`);
});

test('closing the listener refuses new connections; accepted ones keep working', () => withTcp(async (tcp) => {
  const listener = await tcp.listen(echo);
  const client = await tcp.connect(listener.address);
  await listener.close();
  await listener.close(); // idempotent
  assert.ok(isReplicationError(await rejection(tcpTransport.connect(listener.address, { timeoutMs: 5000 })), 'ConnectionClosed'));
  await roundTrip(client, pseudoRandomBytes(5000, 3));
}));

test('garbage bytes are delivered as data: the transport does no framing', () => withTcp(async (tcp) => {
  let got: ReturnType<typeof collect> | undefined;
  let serverCloses: (Error | undefined)[] = [];
  const listener = await tcp.listen((conn) => { got = collect(conn); serverCloses = closes(conn); });
  const client = await tcp.connect(listener.address);
  const garbage = pseudoRandomBytes(300_000, 4);
  garbage.set([0xff, 0xff, 0xff, 0xff, 0xee], 0); // an impossible frame header first
  for (let at = 0; at < garbage.length; at += 7_001) client.write([garbage.subarray(at, at + 7_001)]);
  await waitFor(() => got !== undefined && got.length >= garbage.length, { what: 'all garbage bytes' });
  assert.equal(got!.bytes(), Buffer.from(garbage));
  assert.equal(serverCloses, []);
}));

test('64 concurrent connections each get their own bytes back', () => withTcp(async (tcp) => {
  let accepted = 0;
  const listener = await tcp.listen((conn) => { accepted++; echo(conn); });
  const clients = await Promise.all(Array.from({ length: 64 }, () => tcp.connect(listener.address)));
  await Promise.all(clients.map((client, i) => roundTrip(client, pseudoRandomBytes(20_000 + i, 100 + i))));
  assert.is(accepted, 64);
}));

test('a throwing onConnection handler costs only that connection', () => withTcp(async (tcp) => {
  let calls = 0;
  const listener = await tcp.listen((conn) => {
    if (++calls === 1) throw new Error('handler bug');
    echo(conn);
  });
  // The reset may beat the client's own connect completion: either way the first connection fails.
  const first = await tcp.connect(listener.address).catch((err: unknown) => err);
  if (first instanceof ReplicationError) {
    assert.is(first.code, 'ConnectionClosed');
  } else {
    const firstCloses = closes(first as Connection);
    (first as Connection).onData(() => {});
    await waitFor(() => firstCloses.length === 1, { what: 'first connection closed' });
    assert.instance(firstCloses[0], Error);
  }
  const second = await tcp.connect(listener.address);
  await roundTrip(second, pseudoRandomBytes(100, 5));
}));

test.run();
