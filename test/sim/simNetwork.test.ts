// The simulated network: packets arrive in order after a delay, a partition
// makes connects time out and packets vanish, a down address refuses, a
// crashed node's peers see a reset, and a paused node receives only later.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Connection } from '../../src/ports.js';
import { NodeClock, Prng, Scheduler, SimNetwork } from '../../src/testing/index.js';

function world(seed = 1) {
  const scheduler = new Scheduler(0);
  const net = new SimNetwork(scheduler, new Prng(seed));
  const clocks = { a: new NodeClock(scheduler), b: new NodeClock(scheduler) };
  return { scheduler, net, clocks, a: net.transport('a', clocks.a), b: net.transport('b', clocks.b) };
}

async function drive<T>(scheduler: Scheduler, work: Promise<T>): Promise<T> {
  let done = false;
  const out = work.finally(() => {
    done = true;
  });
  await scheduler.runUntil(scheduler.now + 60_000, () => done);
  return out;
}

async function connected(w: ReturnType<typeof world>) {
  const received: number[] = [];
  let server: Connection | undefined;
  await drive(w.scheduler, w.b.listen(SimNetwork.address('b'), (c) => {
    server = c;
    c.onData((chunk) => received.push(...chunk));
  }));
  const client = await drive(w.scheduler, w.a.connect(SimNetwork.address('b'), { timeoutMs: 1000 }));
  return { client, server: server!, received };
}

test('packets arrive in order, after a delay', async () => {
  const w = world();
  const { client, received } = await connected(w);
  const sentAt = w.scheduler.now;
  for (let i = 0; i < 50; i++) client.write([new Uint8Array([i])]);
  assert.equal(received, [], 'nothing arrives at once');
  await w.scheduler.runUntil(sentAt + 1000);
  assert.equal(received, Array.from({ length: 50 }, (_, i) => i));
});

test('a partition: connects time out, sent packets vanish, the connection dies', async () => {
  const w = world();
  const { client, received } = await connected(w);
  let closed: Error | undefined | 'open' = 'open';
  client.onClose((err) => {
    closed = err;
  });
  w.net.partition('a', 'b');
  client.write([new Uint8Array([1])]);
  const refused = await drive(w.scheduler, w.a.connect(SimNetwork.address('b'), { timeoutMs: 700 }).then(() => 'connected', (e: { code?: string }) => e.code));
  assert.is(refused, 'ConnectionTimeout');
  await w.scheduler.runUntil(w.scheduler.now + 10_000);
  assert.equal(received, []);
  assert.ok(closed !== 'open', 'the connection across the partition closed');
  w.net.heal('a', 'b');
  const again = await drive(w.scheduler, w.a.connect(SimNetwork.address('b'), { timeoutMs: 700 }));
  assert.ok(again.remoteAddress.startsWith('b:'));
});

test('connecting to an address nobody listens on is refused', async () => {
  const w = world();
  const code = await drive(w.scheduler, w.a.connect(SimNetwork.address('b'), { timeoutMs: 5000 }).then(() => 'connected', (e: { code?: string }) => e.code));
  assert.is(code, 'ConnectionClosed');
  assert.ok(w.scheduler.now < 5000, 'refused before the timeout');
});

test('a crashed node: its peer sees a reset, its address refuses', async () => {
  const w = world();
  const { client } = await connected(w);
  let error: Error | undefined;
  client.onClose((err) => {
    error = err;
  });
  w.clocks.b.kill();
  w.net.crash('b');
  await w.scheduler.runUntil(w.scheduler.now + 1000);
  assert.match(String(error?.message), /ECONNRESET/);
  const code = await drive(w.scheduler, w.a.connect(SimNetwork.address('b'), { timeoutMs: 5000 }).then(() => 'connected', (e: { code?: string }) => e.code));
  assert.is(code, 'ConnectionClosed');
});

test('a paused node receives what was sent only when the pause ends', async () => {
  const w = world();
  const { client, received } = await connected(w);
  const until = w.scheduler.now + 2000;
  w.clocks.b.pause(until);
  client.write([new Uint8Array([5])]);
  await w.scheduler.runUntil(until - 1);
  assert.equal(received, []);
  await w.scheduler.runUntil(until + 100);
  assert.equal(received, [5]);
});

test('a duplicating link delivers a packet twice; a lossy one resets the connection', async () => {
  const w = world(3);
  const { client, received } = await connected(w);
  w.net.setLink('a', 'b', { extraDelayMs: 0, loss: 0, duplicate: 1, reorder: 0 });
  client.write([new Uint8Array([8])]);
  await w.scheduler.runUntil(w.scheduler.now + 100);
  assert.equal(received, [8, 8]);
  let closed = false;
  client.onClose(() => {
    closed = true;
  });
  w.net.setLink('a', 'b', { extraDelayMs: 0, loss: 1, duplicate: 0, reorder: 0 });
  client.write([new Uint8Array([9])]);
  await w.scheduler.runUntil(w.scheduler.now + 100);
  assert.equal(received, [8, 8]);
  assert.ok(closed);
});

test.run();
