/**
 * Regression test for a src/adapters/tcpTransport.ts bug found by the
 * multi-process replication tests: `destroy()` while a graceful `end()` is
 * still shutting the socket down. `TcpConnection.destroy()` calls
 * `socket.resetAndDestroy()`; libuv refuses `uv_tcp_close_reset` while a
 * shutdown request is pending (EINVAL), but Node has already marked the
 * handle as closing: the socket never emits 'close' (so `onClose` never
 * fires), its fd leaks, and at exit Node's environment cleanup spins at
 * 100% CPU forever waiting for that handle. Node itself calls `end()` when
 * the peer's FIN arrives (allowHalfOpen false), so a host that closes a node
 * just as a peer dies hits the same window.
 *
 * The scenario runs in a child process (this file, forked with an env var)
 * so that a hang at exit fails the test instead of hanging the run.
 * Regression (fixed): TcpConnection.destroy() now calls `socket.destroy()`
 * instead of `resetAndDestroy()` while a graceful end is in progress.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tcpTransport } from '../../src/adapters/tcpTransport.js';

const CHILD_FLAG = 'ENGRAM_DESTROY_AFTER_END_CHILD';

/** In the child: end() then destroy() a connection; print whether onClose fired; then exit naturally. */
async function childScenario(): Promise<void> {
  const listener = await tcpTransport.listen('127.0.0.1:0', (conn) => conn.onData(() => {}));
  const conn = await tcpTransport.connect(listener.address, { timeoutMs: 2000 });
  let closed = false;
  conn.onClose(() => {
    closed = true;
  });
  conn.end();
  conn.destroy();
  await listener.close();
  const deadline = Date.now() + 2000;
  while (!closed && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  console.log(closed ? 'onClose fired' : 'onClose never fired');
  // The process now ends on its own: it must not be kept busy by a leaked socket.
}

if (process.env[CHILD_FLAG] === '1') {
  await childScenario();
} else {
  test('destroy() after end(): onClose fires and the process exits (tcpTransport destroy during a pending shutdown)', async () => {
    const child = fork(fileURLToPath(import.meta.url), [], {
      execArgv: ['--import', 'tsx'], env: { ...process.env, [CHILD_FLAG]: '1' }, stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    let output = '';
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL'); // the child we started, by PID
    }, 8000);
    try {
      const code = await exited;
      assert.match(output, /onClose fired/, `the connection reported its close (child said: ${output.trim()})`);
      assert.is(code, 0, 'the child exited on its own instead of spinning in exit cleanup');
    } finally {
      clearTimeout(timer);
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    }
  });

  test.run();
}
