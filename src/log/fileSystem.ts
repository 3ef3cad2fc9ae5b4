/**
 * The file operations the log needs, as a small port: the real disk
 * (`src/adapters/nodeFileSystem.ts`) and the simulated disk of `./testing`
 * implement it. Paths are plain strings joined with '/'.
 */

/** An open file, read and written at explicit positions. */
export interface FileHandle {
  /** Reads up to `buffer.length` bytes at `position`; returns how many were read (0 at end of file). */
  read(buffer: Uint8Array, position: number): Promise<number>;
  /** Writes all of `buffer` at `position`. */
  write(buffer: Uint8Array, position: number): Promise<void>;
  /** Makes written data durable (fdatasync). */
  datasync(): Promise<void>;
  /** Sets the file's length. */
  truncate(length: number): Promise<void>;
  /** The file's current length in bytes. */
  size(): Promise<number>;
  /** Closes the handle. */
  close(): Promise<void>;
}

/** Options of `FileSystem.open`. */
export interface OpenOptions {
  /** Create the file (empty) when it is missing. */
  create?: boolean;
  /** Every write is durable when it resolves (O_DSYNC). */
  dsync?: boolean;
}

/** A directory tree of files. */
export interface FileSystem {
  /**
   * Opens a file for reading and writing; creates it (empty) when `create` is
   * set and it is missing. With `dsync`, every write is durable when it
   * resolves (O_DSYNC: write and fdatasync in one operation).
   */
  open(path: string, options?: OpenOptions): Promise<FileHandle>;
  /** Names (not paths) of the entries in a directory. */
  readdir(dir: string): Promise<string[]>;
  /** Creates a directory and its parents when missing. */
  mkdirp(dir: string): Promise<void>;
  /** Atomically renames a file (replacing the target). */
  rename(from: string, to: string): Promise<void>;
  /** Removes a file; a missing file is not an error. */
  unlink(path: string): Promise<void>;
  /** Makes the directory's entries (creates, renames, unlinks) durable (fsync of the directory). */
  syncDir(dir: string): Promise<void>;
  /** Whole contents of a file, or `undefined` when it does not exist. */
  readFile(path: string): Promise<Uint8Array | undefined>;
}

/** `dir + '/' + name`. */
export function joinPath(dir: string, name: string): string {
  return dir.endsWith('/') ? dir + name : `${dir}/${name}`;
}
