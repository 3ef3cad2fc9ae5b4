/**
 * `engram-repl top --url URL`: a live view of a node refreshed every second:
 * role, epoch, write rate, and per replica its status and lag with a
 * sparkline. On a terminal it redraws in place and exits on q or Ctrl-C,
 * restoring the terminal; in a pipe it prints one block per refresh.
 *
 * @example
 * // engram-repl top --url http://127.0.0.1:8101
 */
import { ApiClient } from '../apiClient.js';
import { UsageError, baseUrl, parseFlags, required } from '../args.js';
import { TopView } from '../render/topView.js';

const USAGE = `usage: engram-repl top --url URL [--count N]

A live view of the node at URL, refreshed every second: role, epoch, write
rate, and per replica its status and lag with a sparkline of the last 30 s.
q or Ctrl-C quits.

  --url URL    the node's HTTP address, e.g. http://127.0.0.1:8101
  --count N    quit after N refreshes (default: run until q / Ctrl-C)
  -h, --help   this help`;

const FLAGS = { url: { type: 'string' }, count: { type: 'string' } } as const;
const REFRESH_MS = 1000;
const HISTORY = 30;
const ESC = '\x1b[';

/** Runs the `top` command until q, Ctrl-C or `--count` refreshes. */
export async function topCommand(argv: string[]): Promise<number> {
  const flags = parseFlags(argv, FLAGS, USAGE);
  if (flags === undefined) return 0;
  const url = baseUrl(required(flags.url, 'url', USAGE), USAGE);
  const count = flags.count === undefined ? Infinity : Number(flags.count);
  if (count !== Infinity && (!Number.isInteger(count) || count < 1)) throw new UsageError(`--count ${flags.count}: must be a whole number >= 1`, USAGE);
  const api = new ApiClient(url, REFRESH_MS);
  const view = new TopView(HISTORY);
  const tty = process.stdout.isTTY === true;
  const keys = process.stdin.isTTY === true;

  let quit: () => void = () => undefined;
  const quitting = new Promise<void>((resolve) => (quit = resolve));
  const onKey = (key: Buffer) => {
    const k = key.toString();
    if (k === 'q' || k === 'Q' || k === '\u0003') quit();
  };
  process.once('SIGINT', quit);
  process.once('SIGTERM', quit);
  if (keys) {
    process.stdin.setRawMode(true);
    process.stdin.on('data', onKey);
  }
  if (tty) process.stdout.write(`${ESC}?1049h${ESC}?25l`); // alternate screen, hide cursor
  try {
    for (let n = 0; n < count; n++) {
      const started = performance.now();
      try {
        view.add(await api.status(), performance.now());
      } catch (err) {
        view.failed((err as Error).message);
      }
      const screen = view.render(url);
      process.stdout.write(tty ? `${ESC}H${ESC}2J${screen}\n` : `${screen}\n\n`);
      if (n + 1 >= count) break;
      const stop = await Promise.race([quitting.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), Math.max(0, REFRESH_MS - (performance.now() - started))))]);
      if (stop) break;
    }
  } finally {
    if (keys) {
      process.stdin.off('data', onKey);
      process.stdin.setRawMode(false);
      process.stdin.pause();
    }
    if (tty) process.stdout.write(`${ESC}?25h${ESC}?1049l`); // show cursor, leave the alternate screen
  }
  return 0;
}
