/**
 * Flag parsing shared by every command (`node:util` parseArgs, strict): an
 * unknown flag, a missing value or a stray argument is a `UsageError` naming
 * it (the dispatcher prints it with the command's usage and exits 2);
 * `--help` / `-h` prints the usage and returns `undefined`.
 *
 * @example
 * const flags = parseFlags(argv, { url: { type: 'string' } }, USAGE)
 * if (flags === undefined) return 0 // --help was printed
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';

/** Bad command-line usage: exit code 2, with the command's usage text. */
export class UsageError extends Error {
  readonly usage: string;

  constructor(message: string, usage: string) {
    super(message);
    this.name = 'UsageError';
    this.usage = usage;
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;
type Values<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: O & { help: { type: 'boolean'; short: 'h' } }; strict: true; allowPositionals: false }>>['values'];

/** Parses `argv` against `options` (plus `--help`); `undefined` once the usage was printed for `--help`. */
export function parseFlags<O extends Options>(argv: string[], options: O, usage: string): Values<O> | undefined {
  let values: Values<O>;
  try {
    values = parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false }).values as Values<O>;
  } catch (err) {
    const message = (err as Error).message;
    const flag = /'([^']+)'/.exec(message)?.[1];
    const code = (err as { code?: string }).code;
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && flag !== undefined) throw new UsageError(`unknown flag ${flag}`, usage);
    if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL' && flag !== undefined) throw new UsageError(`unexpected argument ${flag}`, usage);
    throw new UsageError(message.split('\n')[0] ?? message, usage);
  }
  if ((values as { help?: boolean }).help === true) {
    process.stdout.write(usage.endsWith('\n') ? usage : `${usage}\n`);
    return undefined;
  }
  return values;
}

/** The value of a required string flag; `UsageError` naming it when absent. */
export function required(value: string | undefined, flag: string, usage: string): string {
  if (value === undefined || value.length === 0) throw new UsageError(`missing required flag --${flag}`, usage);
  return value;
}

/** `http://host:port` from `--url` given with or without the scheme; `UsageError` for anything else. */
export function baseUrl(value: string, usage: string): string {
  const withScheme = /^[a-z]+:\/\//i.test(value) ? value : `http://${value}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new UsageError(`--url ${value} is not a URL (e.g. http://127.0.0.1:8101)`, usage);
  }
  if (url.protocol !== 'http:') throw new UsageError(`--url ${value}: only http:// is served`, usage);
  return `${url.protocol}//${url.host}`;
}
