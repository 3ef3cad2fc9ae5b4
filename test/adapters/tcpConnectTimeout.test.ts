/**
 * Connect timeout against a real loopback listener whose accept queue is full.
 *
 * A worker thread listens on 127.0.0.1 with backlog 1 and then blocks its own
 * event loop (Atomics.wait), so it never accepts. The kernel completes
 * handshakes into the accept queue until it is full (backlog + 1 on Linux)
 * and from then on drops every SYN: a further connect stays in SYN_SENT and
 * only our timer can end it. Deterministic, no sleeps, no other host.
 */
import { Worker } from 'node:worker_threads';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tcpTransport } from '../../src/adapters/tcpTransport.js';
import { ReplicationError } from '../../src/errors.js';
import type { Connection } from '../../src/ports.js';
import { once, waitFor } from '../helpers/waitFor.js';
import { withTcp } from './tcpHarness.js';

const stuckListenerSource = `
const { parentPort, workerData } = require('node:worker_threads');
const net = require('node:net');
const server = net.createServer();
server.listen({ host: '127.0.0.1', port: 0, backlog: 1 }, () => {
  parentPort.postMessage(server.address().port);
  Atomics.wait(new Int32Array(workerData), 0, 0); // blocks until the test wakes it: nothing is accepted
  server.close();
  parentPort.close();
});
`;

/** Runs `fn` with the address of a listener that never accepts; wakes and joins the worker afterwards. */
async function withStuckListener(fn: (address: string) => Promise<void>): Promise<void> {
  const wake = new SharedArrayBuffer(4);
  const worker = new Worker(stuckListenerSource, { eval: true, workerData: wake });
  const exited = once<number>((l) => worker.once('exit', l), { timeoutMs: 5000, what: 'worker exit' });
  try {
    const port = await once<number>((l) => worker.once('message', l), { what: 'worker listening' });
    await fn(`127.0.0.1:${port}`);
  } finally {
    Atomics.store(new Int32Array(wake), 0, 1);
    Atomics.notify(new Int32Array(wake), 0);
    await exited.catch(() => worker.terminate());
  }
}

function count(resource: string): number {
  return process.getActiveResourcesInfo().filter((r) => r === resource).length;
}

test('connect rejects ConnectionTimeout after timeoutMs once the accept queue is full, and drops the socket', () =>
  withStuckListener((address) => withTcp(async (tcp) => {
    const timeoutMs = 250;
    let timedOut: ReplicationError | undefined;
    let elapsedMs = 0;
    let queued = 0;
    for (let attempt = 0; attempt < 16 && timedOut === undefined; attempt++) {
      const started = performance.now();
      try {
        await tcp.connect(address, tcp.transport, timeoutMs); // completes in the kernel's accept queue
        queued++;
      } catch (err) {
        if (!(err instanceof ReplicationError)) throw err;
        timedOut = err;
        elapsedMs = performance.now() - started;
      }
    }
    assert.ok(timedOut !== undefined, 'no connect attempt timed out');
    assert.ok(queued >= 1, 'the queue took at least one connection before filling');
    assert.is(timedOut.code, 'ConnectionTimeout');
    assert.ok(timedOut.message.includes(address) && timedOut.message.includes(`${timeoutMs} ms`), timedOut.message);
    assert.ok(elapsedMs >= timeoutMs - 2, `rejected after ${elapsedMs} ms, before the timeout`);
    assert.ok(elapsedMs < timeoutMs + 2000, `rejected after ${elapsedMs} ms`);
    // The half-open socket was destroyed: only the queued connections' sockets remain.
    await waitFor(() => count('TCPSocketWrap') === queued, { what: `${queued} TCP sockets left` });
  })));

test('a connect that succeeds leaves no timer behind', () => withTcp(async (tcp) => {
  const listener = await tcp.listen(() => {});
  const timersBefore = count('Timeout');
  const conn: Connection = await tcp.connect(listener.address, tcp.transport, 60_000);
  assert.is(count('Timeout'), timersBefore);
  assert.is(conn.remoteAddress, listener.address);
}));

test('timeoutMs must be a positive number', async () => {
  for (const timeoutMs of [0, -1, Number.NaN]) {
    const err = await tcpTransport.connect('127.0.0.1:9', { timeoutMs }).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof ReplicationError && err.code === 'InvalidConfig', `timeoutMs ${timeoutMs}: ${String(err)}`);
  }
});

test.run();
