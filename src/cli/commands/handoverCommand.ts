/**
 * `engram-repl handover --url URL [--to ID]`: planned switchover. The
 * primary at URL stops taking writes, waits until the replica `ID` (default:
 * the most advanced streaming replica) holds every record, and lets it take
 * over in a new epoch (`POST /handover`). No acknowledged write is lost and
 * no failover timeout is waited out.
 *
 * @example
 * // engram-repl handover --url http://127.0.0.1:8101 --to n2
 */
import { ApiClient } from '../apiClient.js';
import { baseUrl, parseFlags, required } from '../args.js';

const USAGE = `usage: engram-repl handover --url URL [--to ID]

Moves the primary role from the primary at URL to a replica, for
maintenance or rebalancing. The primary refuses writes (clients get 421
and retry), waits until the replica holds every record it has, then the
replica stands for election and takes over in a new epoch; writes pause
for tens of milliseconds, not a failover timeout, and none is lost.
Refused (HandoverFailed, exit 1) on a replica, for a replica that is down,
or when the replica does not catch up in time (the old primary then keeps
its role).

  --url URL   the primary's HTTP address, e.g. http://127.0.0.1:8101
  --to ID     the replica to hand over to (default: the most advanced one)
  -h, --help  this help`;

const FLAGS = { url: { type: 'string' }, to: { type: 'string' } } as const;

/** Runs the `handover` command. */
export async function handoverCommand(argv: string[]): Promise<number> {
  const flags = parseFlags(argv, FLAGS, USAGE);
  if (flags === undefined) return 0;
  const api = new ApiClient(baseUrl(required(flags.url, 'url', USAGE), USAGE), 30_000);
  const result = await api.handover(flags.to);
  process.stdout.write(`${result.from} handed over: ${result.primary} is primary of epoch ${result.epoch} (holding LSN ${result.lsn})\n`);
  return 0;
}
