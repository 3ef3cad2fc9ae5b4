// The HTTP error answers that no end-to-end request can provoke on demand
// (a node closing under a request, an unexpected exception, a replica that
// knows no primary): status, code, headers and body shape, on a real
// node:http server on 127.0.0.1.
import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ReplicationError } from '../../src/errors.js';
import { type PrimaryHint, sendError, statusOfCode } from '../../src/cli/http/apiErrors.js';

async function answer(err: unknown, primary?: PrimaryHint | null): Promise<{ status: number; headers: Headers; body: { error: Record<string, unknown> } }> {
  const server: Server = createServer((_req, res) => sendError(res, err, primary));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    return { status: res.status, headers: res.headers, body: (await res.json()) as { error: Record<string, unknown> } };
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

test('Closed and LogClosed are 503; Corruption is 500; the body carries code, message and suggestion', async () => {
  const closed = await answer(new ReplicationError('Closed', 'node n1 is closed', { suggestion: 'retry on another node' }));
  assert.is(closed.status, 503);
  assert.equal(closed.body, { error: { code: 'Closed', message: 'node n1 is closed', suggestion: 'retry on another node' } });
  assert.is((await answer(new ReplicationError('LogClosed', 'log closed'))).status, 503);
  const corrupt = await answer(new ReplicationError('Corruption', 'bad CRC', { context: { file: 'x' } }));
  assert.is(corrupt.status, 500);
  assert.equal(corrupt.body, { error: { code: 'Corruption', message: 'bad CRC' } });
});

test('NotPrimary without a known primary: 421, primary null, no Location, a retry suggestion', async () => {
  const res = await answer(new ReplicationError('NotPrimary', 'lease lost'), null);
  assert.is(res.status, 421);
  assert.is(res.body.error.primary, null);
  assert.is(res.headers.get('location'), null);
  assert.match(String(res.body.error.suggestion), /retry/);
});

test('an unexpected exception is 500 InternalError', async () => {
  const res = await answer(new TypeError('boom'));
  assert.is(res.status, 500);
  assert.equal(res.body, { error: { code: 'InternalError', message: 'boom' } });
});

test('every status is a 4xx or 5xx', () => {
  for (const [code, status] of Object.entries(statusOfCode)) assert.ok(status >= 400 && status < 600, `${code}: ${status}`);
});

test.run();
