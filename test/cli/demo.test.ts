// `npm run demo` runs end to end as a child process and exits 0 having
// verified every acknowledged write and identical digests.
import { spawn } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

test('the demo exits 0 and reports no missing writes and identical digests', async () => {
  const root = new URL('../..', import.meta.url).pathname;
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'demo'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  try {
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.is(code, 0, output);
    assert.match(output, /acknowledged writes checked on 3 nodes: 0 missing/);
    assert.match(output, /space digests identical on all nodes/);
    assert.match(output, /was elected primary of epoch 2/);
  } finally {
    clearTimeout(timer);
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});

test.run();
