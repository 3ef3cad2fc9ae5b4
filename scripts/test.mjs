#!/usr/bin/env node
// `npm test`: type check, build, then every uvu test file in its own process
// (two at a time on this 2-core machine), and a last line
// `N passed, N failed` summed from each file's real uvu counts.
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const fileTimeoutMs = Number(process.env.TEST_FILE_TIMEOUT_MS ?? 240_000);
const concurrency = Number(process.env.TEST_CONCURRENCY ?? 2);

function step(name, cmd, args) {
  const started = Date.now();
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.log(`\n${name} failed`);
    console.log('0 passed, 1 failed');
    process.exit(1);
  }
  console.log(`${name}: ok (${Date.now() - started} ms)`);
}

function listTests(dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listTests(path));
    else if (entry.name.endsWith('.test.ts')) out.push(path);
  }
  return out.sort();
}

function runFile(file) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', file], {
      cwd: root,
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => {
      output += `\n[test runner] ${relative(root, file)} timed out after ${fileTimeoutMs} ms; killed\n`;
      try { process.kill(-child.pid, 'SIGKILL'); } catch {}
    }, fileTimeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      const clean = output.replace(/\x1b\[[0-9;]*m/g, '');
      const total = Number(/Total:\s+(\d+)/.exec(clean)?.[1] ?? 0);
      const passed = Number(/Passed:\s+(\d+)/.exec(clean)?.[1] ?? 0);
      const skipped = Number(/Skipped:\s+(\d+)/.exec(clean)?.[1] ?? 0);
      let failed = total - passed; // uvu's Total does not include skipped tests
      if (code !== 0 && failed === 0) failed = 1; // crashed or timed out outside a test
      resolve({ file, code, passed, failed, skipped, output: clean, ms: Date.now() - started });
    });
  });
}

step('type check', 'npx', ['tsc', '-p', 'tsconfig.json', '--noEmit']);
step('build', 'npx', ['tsc', '-p', 'tsconfig.build.json']);

const only = process.argv.slice(2);
const files = listTests(join(root, 'test')).filter(
  (f) => only.length === 0 || only.some((o) => f.includes(o)),
);
const queue = [...files];
const results = [];
async function worker() {
  for (let file = queue.shift(); file; file = queue.shift()) {
    const r = await runFile(file);
    results.push(r);
    const mark = r.failed > 0 ? 'FAIL' : 'ok  ';
    console.log(`${mark} ${relative(root, file)}  ${r.passed} passed, ${r.failed} failed (${r.ms} ms)`);
    if (r.failed > 0) console.log(r.output.split('\n').map((l) => '     | ' + l).join('\n'));
  }
}
await Promise.all(Array.from({ length: concurrency }, worker));
const passed = results.reduce((n, r) => n + r.passed, 0);
const failed = results.reduce((n, r) => n + r.failed, 0);
const skipped = results.reduce((n, r) => n + r.skipped, 0);
console.log(`\n${files.length} test files`);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || files.length === 0 ? 1 : 0);
