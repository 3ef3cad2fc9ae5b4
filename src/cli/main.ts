#!/usr/bin/env node
/**
 * engram-repl: the command line, a thin dispatcher. Each command lives in
 * src/cli/commands/ and resolves with its exit code; usage errors exit 2,
 * other failures 1 with the error's code, message and suggestion.
 *
 * @example
 * // engram-repl node --config cluster.json --id n1 --data ./data/n1
 * // engram-repl status --url http://127.0.0.1:8101
 */
import { UsageError } from './args.js';

type Command = (argv: string[]) => Promise<number>;

const COMMANDS: Record<string, { about: string; load: () => Promise<Command> }> = {
  node: { about: 'run one node of a cluster with its HTTP API', load: async () => (await import('./commands/nodeCommand.js')).nodeCommand },
  status: { about: "a node's role, positions and replicas (like pg_stat_replication)", load: async () => (await import('./commands/statusCommand.js')).statusCommand },
  promote: { about: 'make a node the primary', load: async () => (await import('./commands/promoteCommand.js')).promoteCommand },
  handover: { about: 'move the primary role to a replica (planned switchover)', load: async () => (await import('./commands/handoverCommand.js')).handoverCommand },
  top: { about: 'live view of a node: write rate, replica status and lag', load: async () => (await import('./commands/topCommand.js')).topCommand },
  demo: { about: 'a 3-node cluster on loopback: replication, lag, failover, rejoin', load: async () => (await import('./commands/demoCommand.js')).demoCommand },
};

const USAGE = `usage: engram-repl <command> [flags]   (engram-repl <command> --help for its flags)

${Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(8)} ${c.about}`).join('\n')}`;

function report(command: string, err: unknown): number {
  if (err instanceof UsageError) {
    process.stderr.write(`engram-repl ${command}: ${err.message}\n\n${err.usage}\n`);
    return 2;
  }
  const e = err as { code?: unknown; message?: unknown; suggestion?: unknown; stack?: unknown };
  const head = typeof e.code === 'string' ? `${e.code}: ${String(e.message)}` : String(e.stack ?? err);
  process.stderr.write(`engram-repl ${command}: ${head}\n${typeof e.suggestion === 'string' ? `  suggestion: ${e.suggestion}\n` : ''}`);
  return 1;
}

const [name, ...argv] = process.argv.slice(2);
const command = name === undefined ? undefined : COMMANDS[name];
if (command === undefined) {
  const help = name === undefined || name === '--help' || name === '-h';
  (help ? process.stdout : process.stderr).write(`${help ? '' : `engram-repl: unknown command ${name}\n\n`}${USAGE}\n`);
  process.exitCode = help ? 0 : 2;
} else {
  let code: number;
  try {
    code = await (await command.load())(argv);
  } catch (err) {
    code = report(name!, err);
  }
  process.exit(code); // a command is done once it resolves: no stray handle keeps the process up
}
