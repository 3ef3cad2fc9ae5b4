/**
 * `engram-repl node --config FILE --id ID --data DIR`: runs one node of the
 * cluster with its HTTP API until SIGINT or SIGTERM, then shuts down
 * gracefully (stop accepting HTTP, let requests in flight finish,
 * `node.close()`, exit 0). `--inspect URL` streams its actors to a Stately
 * inspector relay (src/cli/inspector.ts).
 *
 * @example
 * // engram-repl node --config cluster.json --id n1 --data ./data/n1
 */
import { createNode } from '../../index.js';
import { UsageError, parseFlags, required } from '../args.js';
import { loadConfig, nodeOptionsFor } from '../config.js';
import { type LogFormat, eventLog, logNodeEvents, warningsTo } from '../eventLog.js';
import { startHttpApi } from '../http/httpApi.js';
import { connectInspector } from '../inspector.js';

const USAGE = `usage: engram-repl node --config FILE --id ID --data DIR [--log text|json] [--inspect URL]

Runs node ID of the cluster in FILE (see docs/cli.md) with its data in DIR,
serving the HTTP API on the node's "http" address, until SIGINT or SIGTERM.

  --config FILE   cluster config file (JSON)
  --id ID         which node of the config this process is
  --data DIR      data directory (created if missing)
  --log FORMAT    log lines as text (default) or json
  --inspect URL   send the node's actor events to a Stately inspector relay
                  (the ws:// URL that engram-repl demo --inspect prints)
  -h, --help      this help`;

const FLAGS = {
  config: { type: 'string' },
  id: { type: 'string' },
  data: { type: 'string' },
  log: { type: 'string' },
  inspect: { type: 'string' },
} as const;

/** Runs the `node` command; resolves with the exit code once shut down. */
export async function nodeCommand(argv: string[]): Promise<number> {
  const flags = parseFlags(argv, FLAGS, USAGE);
  if (flags === undefined) return 0;
  const configPath = required(flags.config, 'config', USAGE);
  const id = required(flags.id, 'id', USAGE);
  const dataDir = required(flags.data, 'data', USAGE);
  const format = flags.log ?? 'text';
  if (format !== 'text' && format !== 'json') throw new UsageError(`--log ${format}: use text or json`, USAGE);
  const config = await loadConfig(configPath);
  const self = config.nodes.find((n) => n.id === id);
  if (self === undefined) throw new UsageError(`--id ${id} is not a node of ${configPath} (nodes: ${config.nodes.map((n) => n.id).join(', ')})`, USAGE);

  const log = eventLog(id, format as LogFormat, process.stdout);
  const inspector = flags.inspect === undefined ? undefined : await connectInspector(flags.inspect);
  const node = await createNode({
    ...nodeOptionsFor(config, id, dataDir), logger: warningsTo(log),
    ...(inspector === undefined ? {} : { inspect: inspector.observer }),
  }).catch((err: unknown) => {
    inspector?.close();
    throw err;
  });
  logNodeEvents(node, log);
  const api = await startHttpApi(node, config, self.http).catch(async (err: unknown) => {
    await node.close();
    throw err;
  });
  const status = node.status();
  log('ready', { role: status.role, epoch: status.epoch, lsn: status.lsn, replication: node.replicationAddress, http: `http://${api.address}`, pid: process.pid });

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  log('stopping', { signal });
  // A second signal while draining stops at once.
  const force = () => process.exit(1);
  process.once('SIGINT', force);
  process.once('SIGTERM', force);
  await api.close();
  await node.close();
  inspector?.close();
  log('stopped');
  return 0;
}
