// The inspector relay end to end: a real node sends its inspection events
// through connectInspector over a real WebSocket on 127.0.0.1 to
// startInspectorServer, which relays them to a viewer (the receiver of
// @statelyai/inspect, as a browser page would be) and replays them to a
// viewer that connects late; the HTTP page embeds the Stately UI; everything
// closes cleanly. Error paths: a bad URL, an unreachable server, and a
// missing @statelyai/inspect (the built module run from a directory with no
// node_modules) each give a typed error with a suggestion.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createWebSocketReceiver, type StatelyInspectionEvent } from '@statelyai/inspect';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { connectInspector, startInspectorServer } from '../../src/cli/inspector.js';
import { isReplicationError } from '../../src/errors.js';
import { freePorts, withCluster, writeMemories } from '../helpers/cluster.js';
import { withTempDir } from '../helpers/tempDir.js';
import { waitFor } from '../helpers/waitFor.js';

function viewer(url: string): StatelyInspectionEvent[] {
  const seen: StatelyInspectionEvent[] = [];
  createWebSocketReceiver({ server: url }).subscribe((e) => seen.push(e));
  return seen;
}

test('a real node is seen through the relay, live and replayed, then everything closes', async () => {
  const server = await startInspectorServer();
  try {
    assert.match(server.url, /^ws:\/\/127\.0\.0\.1:\d+$/);
    const page = await (await fetch(server.url.replace('ws:', 'http:'))).text();
    assert.ok(page.includes('https://stately.ai/inspect'), 'the page embeds the Stately inspector UI');
    assert.ok(server.howToOpen.includes(server.url.replace('ws:', 'http:')), server.howToOpen);

    const live = viewer(server.url);
    const connection = await connectInspector(server.url);
    try {
      await withCluster({ size: 2, nodeOptions: { n1: { inspect: connection.observer } } }, async (c) => {
        await writeMemories(c.primary, 'notes', 'm', 20);
        await c.waitCaughtUp('n2', 30_000);
        await waitFor(() => live.some((e) => e.type === '@xstate.actor' && e.name === 'health:n2'),
          { timeoutMs: 10_000, what: "n1's health:n2 actor seen by a live viewer" });
        assert.ok(live.some((e) => e.type === '@xstate.snapshot'), 'snapshots are relayed');
        assert.ok(live.every((e) => !JSON.stringify(e).includes('"type":"Buffer"')), 'no serialised buffers');

        const late = viewer(server.url);
        await waitFor(() => late.some((e) => e.type === '@xstate.actor' && e.name === 'shipper:n2'),
          { timeoutMs: 10_000, what: 'a viewer that opens late gets the actor tree replayed' });
      });
    } finally {
      connection.close();
    }
  } finally {
    await server.close();
  }
  // No socket of the relay is left: this process exits when the tests end (the runner would time out otherwise).
});

test('a URL that is not ws:// is refused with InvalidConfig', async () => {
  for (const url of ['http://127.0.0.1:1', 'not a url', '']) {
    try {
      await connectInspector(url);
      assert.unreachable(`${url} accepted`);
    } catch (err) {
      assert.ok(isReplicationError(err, 'InvalidConfig'), String(err));
      assert.equal(err.context?.url, url);
      assert.ok(err.suggestion?.includes('ws://'));
    }
  }
});

test('an unreachable server is refused with ConnectionClosed', async () => {
  const [port] = await freePorts(1);
  try {
    await connectInspector(`ws://127.0.0.1:${port}`);
    assert.unreachable('connected to a closed port');
  } catch (err) {
    assert.ok(isReplicationError(err, 'ConnectionClosed'), String(err));
    assert.ok(err.suggestion !== undefined);
  }
});

test('without @statelyai/inspect installed both functions say what to install', async () => {
  await withTempDir(async (dir) => {
    // The built module and the one module it imports, in a directory with no node_modules above it.
    mkdirSync(join(dir, 'cli'));
    copyFileSync(join('dist', 'cli', 'inspector.js'), join(dir, 'cli', 'inspector.js'));
    copyFileSync(join('dist', 'errors.js'), join(dir, 'errors.js'));
    const script = `
      const m = await import(${JSON.stringify(join(dir, 'cli', 'inspector.js'))});
      const out = [];
      for (const call of [() => m.startInspectorServer(), () => m.connectInspector('ws://127.0.0.1:9')]) {
        try { await call(); out.push('resolved'); } catch (e) { out.push({ code: e.code, suggestion: e.suggestion }); }
      }
      console.log(JSON.stringify(out));`;
    const out = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: dir, encoding: 'utf8' })) as unknown[];
    assert.equal(out.length, 2);
    for (const result of out) {
      assert.equal((result as { code: string }).code, 'InvalidConfig');
      assert.match((result as { suggestion: string }).suggestion, /npm install --save-dev @statelyai\/inspect/);
    }
  }, 'engram-inspector-');
});

test.run();
