// `engram-repl node --inspect URL` streams the node process's actors to an
// inspector relay (a viewer on the relay sees them); a URL that is not
// ws:// stops the command with InvalidConfig before the node starts.
import { type StatelyInspectionEvent, createWebSocketReceiver } from '@statelyai/inspect';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startInspectorServer } from '../../src/cli/inspector.js';
import { ProcessCluster } from '../../src/cli/processCluster.js';
import { waitFor } from '../helpers/waitFor.js';
import { runCli } from './runCli.js';

test('a node started with --inspect is seen by a viewer of the relay', async () => {
  const server = await startInspectorServer();
  const cluster = await ProcessCluster.create({ size: 2, prefix: 'engram-inspect-test-', nodeFlags: ['--inspect', server.url] });
  try {
    const seen: StatelyInspectionEvent[] = [];
    createWebSocketReceiver({ server: server.url }).subscribe((e) => seen.push(e));
    await cluster.startAll();
    await waitFor(() => seen.some((e) => e.type === '@xstate.actor' && e.name === 'shipper:n2'),
      { timeoutMs: 30_000, what: "n1's shipper:n2 actor seen through the relay" });
  } finally {
    await cluster.cleanup();
    await server.close();
  }
});

test('--inspect with a URL that is not ws:// is InvalidConfig (exit 1)', async () => {
  const cluster = await ProcessCluster.create({ size: 1, prefix: 'engram-inspect-test-' });
  try {
    const run = await runCli(['node', '--config', cluster.configPath, '--id', 'n1', '--data', `${cluster.dir}/n1`, '--inspect', 'http://127.0.0.1:9']);
    assert.is(run.code, 1);
    assert.match(run.stderr, /InvalidConfig: inspector URL/);
  } finally {
    await cluster.cleanup();
  }
});

test.run();
