/**
 * `engram-repl demo` (`npm run demo`): starts 3 `engram-repl node` child
 * processes on free loopback ports with temp data dirs and runs the demo
 * script (load, live status and lag, a paused replica, the primary killed,
 * automatic promotion, rejoin, verification). Every child is SIGKILLed by
 * PID and the temp dir removed when it ends: success, failure, Ctrl-C or
 * SIGTERM. `--inspect` starts a Stately inspector relay and connects every
 * node to it.
 *
 * @example
 * // npm run demo
 */
import type { Tuning } from '../../actors/nodeOptions.js';
import { parseFlags } from '../args.js';
import { runDemoScript } from '../demo/demoScript.js';
import { startInspectorServer } from '../inspector.js';
import { ProcessCluster } from '../processCluster.js';

const USAGE = `usage: engram-repl demo [--inspect]

Starts a 3-node cluster (engram-repl node child processes on free 127.0.0.1
ports, temp data dirs), writes a load over HTTP, pauses a replica to show
Lagging -> Degraded and its catch-up, SIGKILLs the primary to show an
automatic promotion, restarts it to show the rejoin, then verifies every
acknowledged write on every node and the space digests. Cleans up after
itself (also on Ctrl-C). Exits 0 when everything checked out.

  --inspect   also start a Stately inspector relay on 127.0.0.1 and send
              every node's actors to it (prints what to open in a browser)
  -h, --help  this help`;

/** Health thresholds tuned down so each phase takes a few seconds. */
const DEMO_TUNING: Partial<Tuning> = {
  heartbeatIntervalMs: 100,
  laggingLagMs: 100,
  degradedLagMs: 700,
  severeLagMs: 3000,
  healthGraceMs: 300,
  leaseMs: 1000,
  electionRoundMs: 500,
  backoffScheduleMs: [50, 100, 200, 400],
  ackTimeoutMs: 3000,
};
/** Above the default 1.5 s: a margin against false failovers on a loaded machine (a paused replica cannot depose the primary: pre-vote). */
const FAILOVER = { auto: true, timeoutMs: 2000 };
/** The demo gives up (and cleans up) past this. */
const DEADLINE_MS = 55_000;

/** Runs the demo; 0 when every check passed. */
export async function demoCommand(argv: string[]): Promise<number> {
  const flags = parseFlags(argv, { inspect: { type: 'boolean' } }, USAGE);
  if (flags === undefined) return 0;
  const started = performance.now();
  const say = (line: string) => process.stdout.write(`${line}\n`);
  const inspector = flags.inspect === true ? await startInspectorServer() : undefined;
  const cluster = await ProcessCluster.create({
    prefix: 'engram-demo-', tuning: DEMO_TUNING, failover: FAILOVER,
    ...(inspector === undefined ? {} : { nodeFlags: ['--inspect', inspector.url] }),
  });
  const interrupted = (signal: NodeJS.Signals, code: number) => () => {
    say(`\n${signal}: stopping the cluster and removing ${cluster.dir}`);
    cluster.cleanupNow();
    process.exit(code);
  };
  if (inspector !== undefined) say(`inspector: ${inspector.howToOpen}\n`);
  process.once('SIGINT', interrupted('SIGINT', 130));
  process.once('SIGTERM', interrupted('SIGTERM', 143));
  let deadline: NodeJS.Timeout | undefined;
  try {
    say(`engram-repl demo: 3 nodes on 127.0.0.1, data and config in ${cluster.dir}`);
    await cluster.startAll();
    say(`  started in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    for (const node of cluster.config.nodes) {
      say(`  ${node.id}  pid ${cluster.nodes.get(node.id)!.pid}  replication ${node.replication}  http http://${node.http}${node.id === cluster.config.primary ? '  (bootstraps as primary)' : ''}`);
    }
    const summary = await Promise.race([
      runDemoScript(cluster, say, started),
      new Promise<never>((_, reject) => (deadline = setTimeout(() => reject(new Error(`the demo did not finish within ${DEADLINE_MS / 1000} s`)), DEADLINE_MS))),
    ]);
    say('\nSummary');
    for (const line of summary) say(`  ${line}`);
    say(`\ndemo ok in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    return 0;
  } catch (err) {
    say(`\ndemo FAILED: ${(err as Error).message}`);
    for (const node of cluster.nodes.values()) if (node.stderr.trim()) say(`  ${node.id} stderr:\n${node.stderr.trim()}`);
    return 1;
  } finally {
    clearTimeout(deadline);
    await cluster.cleanup();
    await inspector?.close();
    say(`stopped ${cluster.nodes.size} node processes, removed ${cluster.dir}`);
  }
}
