/**
 * Runs `engram-repl <args>` as a child process (the way the tests run: from
 * the TypeScript sources through tsx) and collects its exit code and output;
 * SIGKILLed by PID if it outlives `timeoutMs`.
 *
 * @example
 * const { code, stdout } = await runCli(['status', '--url', url])
 */
import { spawn } from 'node:child_process';
import { engramReplArgs } from '../../src/cli/processCluster.js';

/** Exit code and output of one CLI run. */
export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI with `args` to completion. */
export function runCli(args: string[], timeoutMs = 60_000): Promise<CliRun> {
  const child = spawn(process.execPath, engramReplArgs(args), { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const timer = setTimeout(() => child.pid !== undefined && process.kill(child.pid, 'SIGKILL'), timeoutMs);
  return new Promise((resolve) => child.on('close', (code) => {
    clearTimeout(timer);
    resolve({ code, stdout, stderr });
  }));
}
