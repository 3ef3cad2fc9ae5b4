/**
 * Atomic node metadata (node id, epoch, vote, epoch history, ...): written to
 * a temp file, fsynced, renamed over the real file, then the directory is
 * fsynced — so a crash at any point leaves either the old or the new
 * contents, never a mix. Stored as JSON with a CRC32C of the body, readable
 * by an operator.
 *
 * @example
 * await writeMetaFile(nodeFileSystem, dir, { epoch: 3, votedFor: 'n2' })
 * const meta = await readMetaFile(nodeFileSystem, dir) // { epoch: 3, votedFor: 'n2' }
 */
import { ReplicationError } from '../errors.js';
import { crc32c } from '../wire/checksum.js';
import { type FileSystem, joinPath } from './fileSystem.js';

/** Name of the metadata file inside a node's directory. */
export const META_FILE = 'meta.json';
const TEMP_FILE = 'meta.json.tmp';
const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

/** Writes `data` (JSON-serialisable) atomically as the node's metadata. */
export async function writeMetaFile(fs: FileSystem, dir: string, data: unknown): Promise<void> {
  const body = JSON.stringify(data) as string | undefined;
  // undefined, a function or a symbol has no JSON form: the file would be
  // written without `data` and read back as Corruption on the next start.
  if (body === undefined) {
    throw new ReplicationError('InvalidEntry', `metadata must be JSON-serialisable, got ${typeof data}`);
  }
  const text = JSON.stringify({ format: 1, crc32c: crc32c(utf8.encode(body)), data }, null, 2) + '\n';
  const temp = joinPath(dir, TEMP_FILE);
  await fs.unlink(temp);
  const handle = await fs.open(temp, { create: true });
  try {
    await handle.write(utf8.encode(text), 0);
    await handle.datasync();
  } finally {
    await handle.close();
  }
  await fs.rename(temp, joinPath(dir, META_FILE));
  await fs.syncDir(dir);
}

/**
 * Reads the node's metadata; `undefined` when none was ever written. A left
 * over temp file (crash before rename) is ignored. A damaged file is
 * `Corruption`.
 */
export async function readMetaFile(fs: FileSystem, dir: string): Promise<unknown> {
  const path = joinPath(dir, META_FILE);
  const bytes = await fs.readFile(path);
  if (bytes === undefined) return undefined;
  let parsed: { format?: unknown; crc32c?: unknown; data?: unknown };
  try {
    parsed = JSON.parse(utf8Decoder.decode(bytes)) as typeof parsed;
  } catch (cause) {
    throw new ReplicationError('Corruption', `${path} is not valid JSON`, { cause, context: { file: path } });
  }
  if (parsed.format !== 1 || typeof parsed.crc32c !== 'number' || !('data' in parsed)) {
    throw new ReplicationError('Corruption', `${path} is not an engram-replication metadata file`, { context: { file: path } });
  }
  if (crc32c(utf8.encode(JSON.stringify(parsed.data))) !== parsed.crc32c) {
    throw new ReplicationError('Corruption', `${path} fails its checksum`, { context: { file: path } });
  }
  return parsed.data;
}
