/**
 * A `FileSystem` port for tests: wraps another one (the real disk by default)
 * and records every call in one timeline, together with markers the test adds
 * (e.g. "the sync() of LSN 7 resolved"). It can also hold the next call of an
 * operation at a gate until the test releases it, make an operation fail, and
 * tell which bytes of a file a completed `datasync` has made durable.
 *
 * @example
 * const fs = new RecordingFs()
 * const log = await openLog({ dir, fs })
 * const gate = fs.gate('datasync')
 * log.append(...); await gate.reached; ...; gate.release()
 */
import { nodeFileSystem } from '../../src/adapters/nodeFileSystem.js';
import type { FileHandle, FileSystem, OpenOptions } from '../../src/log/fileSystem.js';

/** Operations of the port, plus `*:done` completions and test markers. */
export type FsOp =
  | 'open' | 'read' | 'write' | 'datasync' | 'truncate' | 'size' | 'close'
  | 'readdir' | 'mkdirp' | 'rename' | 'unlink' | 'syncDir' | 'readFile';

/** One entry of the timeline. */
export interface FsEvent {
  /** Position in the timeline (0, 1, 2, ...). */
  seq: number;
  /** `write`, `write:done`, `datasync`, `datasync:done`, ... or `mark:<label>`. */
  op: string;
  path: string;
  position: number;
  length: number;
  /** Rename target, marker detail, or 'dsync' for an O_DSYNC open or write. */
  to: string;
}

/** A hold on the next matching call: `reached` when it arrives, it proceeds after `release()`. */
export interface Gate {
  reached: Promise<void>;
  release(): void;
}

interface PendingGate {
  op: FsOp;
  match: (path: string) => boolean;
  arrived: () => void;
  released: Promise<void>;
}

interface WriteDone {
  end: number;
  seq: number;
}

export class RecordingFs implements FileSystem {
  readonly events: FsEvent[] = [];
  readonly #inner: FileSystem;
  #gates: PendingGate[] = [];
  #failures: { op: FsOp; match: (path: string) => boolean; error: () => unknown }[] = [];
  /** Completed writes per path not yet covered by a completed datasync. */
  #written = new Map<string, WriteDone[]>();
  #durableEnd = new Map<string, number>();

  constructor(inner: FileSystem = nodeFileSystem) {
    this.#inner = inner;
  }

  /** Adds a test marker to the timeline (`mark:<label>`). */
  mark(label: string, detail = ''): void {
    this.#push(`mark:${label}`, '', 0, 0, detail);
  }

  /** Forgets the timeline so far. */
  clear(): void {
    this.events.length = 0;
  }

  /** Names of the calls (not completions or markers), optionally only those on paths ending with `suffix`. */
  ops(suffix = ''): string[] {
    return this.events.filter((e) => !e.op.includes(':') && e.path.endsWith(suffix)).map((e) => e.op);
  }

  /** Events of one op (`write`, `datasync:done`, `mark:x`, ...). */
  only(op: string, suffix = ''): FsEvent[] {
    return this.events.filter((e) => e.op === op && e.path.endsWith(suffix));
  }

  /** Holds the next call of `op` (on a path matching `match`) until `release()`. */
  gate(op: FsOp, match: (path: string) => boolean = () => true): Gate {
    let arrived!: () => void;
    let release!: () => void;
    const reached = new Promise<void>((resolve) => (arrived = resolve));
    const released = new Promise<void>((resolve) => (release = resolve));
    this.#gates.push({ op, match, arrived, released });
    return { reached, release };
  }

  /** Makes every later call of `op` (on matching paths) reject with `error()`. */
  failOn(op: FsOp, error: () => unknown = () => new Error(`injected ${op} failure`), match: (path: string) => boolean = () => true): void {
    this.#failures.push({ op, match, error });
  }

  /** Highest end offset of the writes to `path` that a completed datasync made durable (0 when none). */
  durableEnd(path: string): number {
    return this.#durableEnd.get(path) ?? 0;
  }

  async open(path: string, options?: OpenOptions): Promise<FileHandle> {
    const handle = await this.#call('open', path, 0, 0, options?.dsync ? 'dsync' : '', () => this.#inner.open(path, options));
    return new RecordingHandle(this, handle, path, options?.dsync ?? false);
  }

  readdir(dir: string): Promise<string[]> {
    return this.#call('readdir', dir, 0, 0, '', () => this.#inner.readdir(dir));
  }

  mkdirp(dir: string): Promise<void> {
    return this.#call('mkdirp', dir, 0, 0, '', () => this.#inner.mkdirp(dir));
  }

  async rename(from: string, to: string): Promise<void> {
    await this.#call('rename', from, 0, 0, to, () => this.#inner.rename(from, to));
    this.#durableEnd.set(to, this.#durableEnd.get(from) ?? 0);
    this.#written.set(to, this.#written.get(from) ?? []);
    this.#durableEnd.delete(from);
    this.#written.delete(from);
  }

  async unlink(path: string): Promise<void> {
    await this.#call('unlink', path, 0, 0, '', () => this.#inner.unlink(path));
    this.#durableEnd.delete(path);
    this.#written.delete(path);
  }

  syncDir(dir: string): Promise<void> {
    return this.#call('syncDir', dir, 0, 0, '', () => this.#inner.syncDir(dir));
  }

  readFile(path: string): Promise<Uint8Array | undefined> {
    return this.#call('readFile', path, 0, 0, '', () => this.#inner.readFile(path));
  }

  /** @internal called by handles. */
  async call<T>(op: FsOp, path: string, position: number, length: number, fn: () => Promise<T>, dsync = false): Promise<T> {
    if (op === 'write' && dsync) {
      // O_DSYNC: the write is durable when it completes.
      const result = await this.#call(op, path, position, length, 'dsync', fn);
      this.#durableEnd.set(path, Math.max(this.durableEnd(path), position + length));
      this.#push('write:done', path, position, length, 'dsync');
      return result;
    }
    if (op === 'write') {
      const result = await this.#call(op, path, position, length, '', fn);
      const list = this.#written.get(path) ?? [];
      list.push({ end: position + length, seq: this.events.length });
      this.#written.set(path, list);
      this.#push('write:done', path, position, length, '');
      return result;
    }
    if (op === 'datasync') {
      const covered = [...(this.#written.get(path) ?? [])];
      const result = await this.#call(op, path, position, length, '', fn);
      const end = covered.reduce((max, w) => Math.max(max, w.end), this.durableEnd(path));
      this.#durableEnd.set(path, end);
      this.#written.set(path, (this.#written.get(path) ?? []).filter((w) => !covered.includes(w)));
      this.#push('datasync:done', path, 0, 0, '');
      return result;
    }
    return this.#call(op, path, position, length, '', fn);
  }

  async #call<T>(op: FsOp, path: string, position: number, length: number, to: string, fn: () => Promise<T>): Promise<T> {
    this.#push(op, path, position, length, to);
    const gate = this.#gates.find((g) => g.op === op && g.match(path));
    if (gate !== undefined) {
      this.#gates = this.#gates.filter((g) => g !== gate);
      gate.arrived();
      await gate.released;
    }
    const failure = this.#failures.find((f) => f.op === op && f.match(path));
    if (failure !== undefined) throw failure.error();
    return fn();
  }

  #push(op: string, path: string, position: number, length: number, to: string): void {
    this.events.push({ seq: this.events.length, op, path, position, length, to });
  }
}

class RecordingHandle implements FileHandle {
  readonly #fs: RecordingFs;
  readonly #inner: FileHandle;
  readonly #path: string;
  readonly #dsync: boolean;

  constructor(fs: RecordingFs, inner: FileHandle, path: string, dsync: boolean) {
    this.#fs = fs;
    this.#inner = inner;
    this.#path = path;
    this.#dsync = dsync;
  }

  read(buffer: Uint8Array, position: number): Promise<number> {
    return this.#fs.call('read', this.#path, position, buffer.length, () => this.#inner.read(buffer, position));
  }

  write(buffer: Uint8Array, position: number): Promise<void> {
    return this.#fs.call('write', this.#path, position, buffer.length, () => this.#inner.write(buffer, position), this.#dsync);
  }

  datasync(): Promise<void> {
    return this.#fs.call('datasync', this.#path, 0, 0, () => this.#inner.datasync());
  }

  truncate(length: number): Promise<void> {
    return this.#fs.call('truncate', this.#path, length, 0, () => this.#inner.truncate(length));
  }

  size(): Promise<number> {
    return this.#fs.call('size', this.#path, 0, 0, () => this.#inner.size());
  }

  close(): Promise<void> {
    return this.#fs.call('close', this.#path, 0, 0, () => this.#inner.close());
  }
}
