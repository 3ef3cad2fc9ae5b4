/**
 * `engram-repl promote --url URL [--force]`: asks the node at URL to become
 * the primary (`POST /promote`). Without `--force` it is refused while a
 * healthy primary is reachable; `--force` starts an election that nodes
 * grant even while they hear the primary (which steps down), fencing it; it
 * still needs a majority whose logs are no more complete than this node's.
 *
 * @example
 * // engram-repl promote --url http://127.0.0.1:8102 --force
 */
import { ApiClient, ApiError } from '../apiClient.js';
import { baseUrl, parseFlags, required } from '../args.js';

const USAGE = `usage: engram-repl promote --url URL [--force]

Asks the node at URL to become the primary. Refused (PromotionRefused) while
a healthy primary is reachable, unless --force: an election that nodes grant
even while they hear the primary (which steps down), so it fences the old
primary. Forced or not, a majority must vote for it, and a node votes only
for a log at least as complete as its own: promote the replica with the
highest LSN (engram-repl status).

  --url URL   the node's HTTP address, e.g. http://127.0.0.1:8102
  --force     promote even though a primary is reachable
  -h, --help  this help`;

const FLAGS = { url: { type: 'string' }, force: { type: 'boolean' } } as const;

/** Runs the `promote` command. */
export async function promoteCommand(argv: string[]): Promise<number> {
  const flags = parseFlags(argv, FLAGS, USAGE);
  if (flags === undefined) return 0;
  const api = new ApiClient(baseUrl(required(flags.url, 'url', USAGE), USAGE), 30_000);
  const result = await api.promote(flags.force === true).catch((err: unknown) => {
    if (err instanceof ApiError && err.code === 'PromotionRefused') {
      throw new ApiError(err.status, err.code, err.message, err.message.includes('did not win') ? 'promote the replica with the highest LSN (engram-repl status): voters refuse a less complete log' : 'engram-repl handover --url <primary> --to <this node> moves the role without losing a write; engram-repl promote --force fences the current primary (it still needs a majority\'s votes)');
    }
    throw err;
  });
  process.stdout.write(`${result.id} is ${result.role} of epoch ${result.epoch}\n`);
  return 0;
}
