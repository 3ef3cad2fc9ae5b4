// `npm run demo` end to end: it exits 0 having verified every acknowledged
// write on 3 node processes, shown each phase, and left no child process and
// no temp dir behind; interrupted with SIGINT it also cleans up.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { engramReplArgs } from '../../src/cli/processCluster.js';
import { waitFor } from '../helpers/waitFor.js';
import { runCli } from './runCli.js';

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The node PIDs and the temp dir the demo printed. */
function leftovers(output: string): { pids: number[]; dir: string } {
  const pids = [...output.matchAll(/^ {2}n\d {2}pid (\d+)/gm)].map((m) => Number(m[1]));
  const dir = /data and config in (\S+)/.exec(output)?.[1] ?? '';
  return { pids, dir };
}

async function assertCleanedUp(output: string): Promise<void> {
  const { pids, dir } = leftovers(output);
  assert.is(pids.length, 3, output);
  assert.ok(dir.length > 0, output);
  await waitFor(() => pids.every((pid) => !isRunning(pid)), { timeoutMs: 10_000, what: `node processes ${pids.join(', ')} gone` });
  assert.not.ok(existsSync(dir), `${dir} still exists`);
}

test('the demo exits 0 after every phase, with no missing writes, identical digests and nothing left behind', async () => {
  const run = await runCli(['demo'], 120_000);
  const output = run.stdout + run.stderr;
  assert.is(run.code, 0, output);
  assert.match(output, /writing \[█+\] 100%/);
  assert.match(output, /n3 Lagging/);
  assert.match(output, /n3 Degraded/);
  assert.match(output, /n3 caught up: Healthy again/);
  assert.match(output, /n[23] was elected primary of epoch 2 [\d,]+ ms after the SIGKILL/);
  assert.match(output, /writer: writes now acknowledged by n[23] instead of n1/);
  assert.match(output, /n1 is a replica following n[23] at epoch 2/);
  assert.match(output, /n[23] refused writes, waited until n1 held every record, and n1 won epoch 3/);
  assert.match(output, /first write acknowledged by n1 [\d,]+ ms after the call; nothing was discarded anywhere/);
  assert.match(output, /acknowledged writes read back on each of 3 nodes: 0 missing/);
  assert.match(output, /space digests identical on all nodes/);
  assert.match(output, /demo ok in/);
  assert.not.match(output, /\x1b\[/, 'no cursor control codes when stdout is not a terminal');
  await assertCleanedUp(output);
});

test('SIGINT during the demo kills every node process and removes the temp dir', async () => {
  const child = spawn(process.execPath, engramReplArgs(['demo']), { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  try {
    await waitFor(() => /^1\. Writing/m.test(output), { timeoutMs: 60_000, what: 'the demo to start writing' });
    process.kill(child.pid!, 'SIGINT');
    assert.is(await exited, 130, output);
    assert.match(output, /SIGINT: stopping the cluster/);
    await assertCleanedUp(output);
  } finally {
    if (child.exitCode === null) process.kill(child.pid!, 'SIGKILL');
    for (const pid of leftovers(output).pids) if (isRunning(pid)) process.kill(pid, 'SIGKILL');
  }
});

test.run();
