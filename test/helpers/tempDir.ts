/**
 * Real temporary directories for tests that touch the disk. Every directory
 * is made under `os.tmpdir()` and removed in a `finally`, so a failing test
 * leaves nothing behind.
 *
 * @example
 * test('writes a file', () => withTempDir(async (dir) => { ... }))
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Creates a fresh empty directory under the system temp dir. */
export function makeTempDir(prefix = 'engram-test-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** Removes `dir` and everything in it (missing is fine). */
export function removeDir(dir: string): Promise<void> {
  return rm(dir, { recursive: true, force: true });
}

/**
 * Runs `fn` with a fresh temp dir and removes the dir afterwards, even when `fn` throws.
 * An unexpected `ReplicationError` is rethrown as a plain `Error`: uvu reads an
 * error's `details` as a diff string, and the object `details` of a
 * ReplicationError would make uvu drop the failure report.
 */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>, prefix?: string): Promise<T> {
  const dir = await makeTempDir(prefix);
  try {
    return await fn(dir);
  } catch (err) {
    throw reportable(err);
  } finally {
    await removeDir(dir);
  }
}

/** `err`, or a plain Error saying the same when its `details` is not a string. */
export function reportable(err: unknown): unknown {
  const e = err as { details?: unknown; code?: unknown; message?: unknown; stack?: unknown } | null;
  if (e === null || typeof e !== 'object' || e.details === undefined || typeof e.details === 'string') return err;
  const plain = new Error(`${String(e.code)}: ${String(e.message)} ${JSON.stringify(e.details)}`, { cause: err });
  if (typeof e.stack === 'string') plain.stack = `${plain.message}\n${e.stack.split('\n').slice(1).join('\n')}`;
  return plain;
}
