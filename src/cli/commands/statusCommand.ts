/**
 * `engram-repl status --url URL [--json]`: a node's role, epoch and
 * positions, and on a primary one row per replica (status, LSNs, lag), like
 * `pg_stat_replication`; `--json` prints `GET /status` as is, for scripts.
 *
 * @example
 * // engram-repl status --url http://127.0.0.1:8101
 */
import { ApiClient } from '../apiClient.js';
import { baseUrl, parseFlags, required } from '../args.js';
import { statusView } from '../render/statusView.js';

const USAGE = `usage: engram-repl status --url URL [--json]

Prints the status of the node at URL: role, epoch, LSNs, the primary it
follows and, on a primary, one row per replica with its status and lag.

  --url URL   the node's HTTP address, e.g. http://127.0.0.1:8101
  --json      print the raw JSON of GET /status
  -h, --help  this help`;

const FLAGS = { url: { type: 'string' }, json: { type: 'boolean' } } as const;

/** Runs the `status` command. */
export async function statusCommand(argv: string[]): Promise<number> {
  const flags = parseFlags(argv, FLAGS, USAGE);
  if (flags === undefined) return 0;
  const api = new ApiClient(baseUrl(required(flags.url, 'url', USAGE), USAGE));
  const status = await api.status();
  process.stdout.write(`${flags.json === true ? JSON.stringify(status, null, 2) : statusView(status)}\n`);
  return 0;
}
