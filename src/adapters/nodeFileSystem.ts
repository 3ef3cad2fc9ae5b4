/**
 * The real disk behind the log's `FileSystem` port: `node:fs/promises` with
 * real `fdatasync` and directory fsync. Errors surface as `IoError` with the
 * path and the system error as `cause`.
 */
import { constants, promises as fsp } from 'node:fs';
import { ReplicationError } from '../errors.js';
import type { FileHandle, FileSystem } from '../log/fileSystem.js';

function ioError(op: string, path: string, cause: unknown): ReplicationError {
  const code = (cause as { code?: string }).code ?? 'unknown';
  return new ReplicationError('IoError', `${op} ${path} failed (${code})`, { cause, context: { path, op } });
}

async function io<T>(op: string, path: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (cause) {
    throw ioError(op, path, cause);
  }
}

class NodeFileHandle implements FileHandle {
  readonly #fh: fsp.FileHandle;
  readonly #path: string;

  constructor(fh: fsp.FileHandle, path: string) {
    this.#fh = fh;
    this.#path = path;
  }

  read(buffer: Uint8Array, position: number): Promise<number> {
    return io('read', this.#path, async () => (await this.#fh.read(buffer, 0, buffer.length, position)).bytesRead);
  }

  write(buffer: Uint8Array, position: number): Promise<void> {
    return io('write', this.#path, async () => {
      let done = 0;
      while (done < buffer.length) {
        const { bytesWritten } = await this.#fh.write(buffer, done, buffer.length - done, position + done);
        done += bytesWritten;
      }
    });
  }

  datasync(): Promise<void> {
    return io('fdatasync', this.#path, () => this.#fh.datasync());
  }

  truncate(length: number): Promise<void> {
    return io('truncate', this.#path, () => this.#fh.truncate(length));
  }

  size(): Promise<number> {
    return io('stat', this.#path, async () => (await this.#fh.stat()).size);
  }

  close(): Promise<void> {
    return io('close', this.#path, () => this.#fh.close());
  }
}

/**
 * The real file system.
 *
 * @example
 * const log = await openLog({ dir: '/var/lib/engram/wal', fs: nodeFileSystem })
 */
export const nodeFileSystem: FileSystem = {
  async open(path, options = {}) {
    const flags = constants.O_RDWR | (options.create ? constants.O_CREAT : 0) | (options.dsync ? constants.O_DSYNC : 0);
    return new NodeFileHandle(await io('open', path, () => fsp.open(path, flags, 0o644)), path);
  },
  readdir: (dir) => io('readdir', dir, () => fsp.readdir(dir)),
  mkdirp: (dir) => io('mkdir', dir, async () => void (await fsp.mkdir(dir, { recursive: true }))),
  rename: (from, to) => io('rename', from, () => fsp.rename(from, to)),
  unlink: (path) =>
    io('unlink', path, async () => {
      await fsp.rm(path, { force: true });
    }),
  syncDir: (dir) =>
    io('fsync', dir, async () => {
      const fh = await fsp.open(dir, constants.O_RDONLY);
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
    }),
  async readFile(path) {
    try {
      return await fsp.readFile(path);
    } catch (cause) {
      if ((cause as { code?: string }).code === 'ENOENT') return undefined;
      throw ioError('read', path, cause);
    }
  },
};
