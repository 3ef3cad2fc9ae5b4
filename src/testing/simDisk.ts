/**
 * A simulated disk behind the log's `FileSystem` port, in memory. It keeps
 * what a real disk keeps across a crash: file data as of the last
 * `datasync` (or O_DSYNC write) and directory entries as of the last
 * `syncDir`. A crash (`crash()`) throws away the rest, except that a prefix
 * of the unsynced writes may have reached the platter, the last of them
 * possibly torn, and so may part of a write still in flight (an O_DSYNC
 * write that had not completed). Each operation completes after a seeded delay on the
 * node's clock; faults inject a failing write or fsync. A node incarnation
 * talks to the disk through a {@link SimDisk.mount}: after a crash the old
 * mount's operations never complete.
 *
 * @example
 * const disk = new SimDisk(rng); const fs = disk.mount(clock); ...; disk.crash(); const fs2 = disk.mount(newClock)
 */
import { ReplicationError } from '../errors.js';
import type { FileHandle, FileSystem, OpenOptions } from '../log/fileSystem.js';
import type { Prng } from './prng.js';
import type { NodeClock } from './simClock.js';

type Pending = { kind: 'write'; position: number; bytes: Uint8Array } | { kind: 'truncate'; length: number };

/** One file's contents: what the node sees, and what survives a crash. */
class Inode {
  data = new Uint8Array(0);
  durable = new Uint8Array(0);
  pending: Pending[] = [];

  write(bytes: Uint8Array, position: number): void {
    const end = position + bytes.length;
    if (end > this.data.length) {
      const grown = new Uint8Array(end);
      grown.set(this.data);
      this.data = grown;
    }
    this.data.set(bytes, position);
  }

  truncate(length: number): void {
    const next = new Uint8Array(length);
    next.set(this.data.subarray(0, Math.min(length, this.data.length)));
    this.data = next;
  }
}

/** A write issued but not completed: a crash may leave part of it on disk. */
interface InFlightWrite {
  inode: Inode;
  position: number;
  bytes: Uint8Array;
}

/** Which operations fail next (`failNext`). */
export type DiskFault = 'write' | 'datasync';

/** Options of a simulated disk. */
export interface SimDiskOptions {
  /** Largest delay of one operation, in ms (default 2). */
  latencyMaxMs?: number;
  /**
   * A deliberately broken disk for checker tests: `datasync`, O_DSYNC writes
   * and `syncDir` return without making anything durable.
   */
  fsyncIsNoop?: boolean;
}

function dirOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

export class SimDisk {
  readonly #rng: Prng;
  readonly #latencyMaxMs: number;
  readonly #fsyncIsNoop: boolean;
  #files = new Map<string, Inode>();
  #durableFiles = new Map<string, Inode>();
  readonly #dirs = new Set<string>(['/']);
  readonly #faults: DiskFault[] = [];
  readonly #inFlight = new Set<InFlightWrite>();
  #onNextWrite: (() => void) | undefined;
  #generation = 0;
  /** Operations run, crashes, torn writes and injected faults, for the run's statistics. */
  readonly stats = { operations: 0, crashes: 0, tornWrites: 0, injectedFaults: 0 };

  constructor(rng: Prng, options: SimDiskOptions = {}) {
    this.#rng = rng;
    this.#latencyMaxMs = options.latencyMaxMs ?? 2;
    this.#fsyncIsNoop = options.fsyncIsNoop ?? false;
  }

  /** The file system of one node incarnation; its operations complete on `clock`. */
  mount(clock: NodeClock): FileSystem {
    return new SimFileSystem(this, this.#generation, clock);
  }

  /** Makes the next operation of `kind` fail with an I/O error. */
  failNext(kind: DiskFault): void {
    this.#faults.push(kind);
    this.stats.injectedFaults++;
  }

  /** Forgets injected faults that have not fired, and a pending `onNextWrite`. */
  clearFaults(): void {
    this.#faults.length = 0;
    this.#onNextWrite = undefined;
  }

  /** Calls `fn` (once) when the next write is issued, while it is still in flight: a crash then may tear it. */
  onNextWrite(fn: () => void): void {
    this.#onNextWrite = fn;
  }

  /**
   * Power loss: directory entries fall back to the last `syncDir`, file data
   * to the last durable state plus a random prefix of the later writes (the
   * last one possibly torn). Operations of earlier mounts never complete.
   */
  crash(): void {
    this.stats.crashes++;
    this.#generation++;
    const intact = new Set<Inode>(); // every unsynced write survived: an in-flight one may follow, torn
    for (const inode of new Set([...this.#files.values(), ...this.#durableFiles.values()])) {
      const kept = this.#rng.int(0, inode.pending.length);
      const survivor = new Inode();
      survivor.data = inode.durable.slice();
      for (let i = 0; i < kept; i++) {
        const op = inode.pending[i]!;
        if (op.kind === 'truncate') survivor.truncate(op.length);
        else if (i === kept - 1 && this.#rng.chance(0.5)) {
          this.stats.tornWrites++;
          survivor.write(op.bytes.subarray(0, this.#rng.int(0, op.bytes.length)), op.position);
        } else survivor.write(op.bytes, op.position);
      }
      if (kept === inode.pending.length) intact.add(inode);
      inode.data = survivor.data;
      inode.durable = survivor.data.slice();
      inode.pending = [];
    }
    // Writes in flight at the crash (an O_DSYNC write not yet done): each may have reached the platter in part.
    for (const w of this.#inFlight) {
      if (!intact.has(w.inode)) continue;
      intact.delete(w.inode); // only the first write in flight of a file may land (in part): no holes
      if (!this.#rng.chance(0.5)) continue;
      this.stats.tornWrites++;
      w.inode.write(w.bytes.subarray(0, this.#rng.int(0, w.bytes.length)), w.position);
      w.inode.durable = w.inode.data.slice();
    }
    this.#inFlight.clear();
    this.#files = new Map(this.#durableFiles);
  }

  /** @internal runs `op` for mount `generation` after a seeded delay; a stale mount's operations never settle. */
  operate<T>(generation: number, clock: NodeClock, kind: DiskFault | 'other', op: () => T, write?: InFlightWrite): Promise<T> {
    if (write !== undefined) {
      this.#inFlight.add(write);
      const armed = this.#onNextWrite;
      this.#onNextWrite = undefined;
      armed?.();
    }
    return new Promise<T>((resolve, reject) => {
      clock.run(() => {
        if (write !== undefined) this.#inFlight.delete(write);
        if (generation !== this.#generation) return;
        this.stats.operations++;
        const fault = this.#faults.indexOf(kind as DiskFault);
        if (fault >= 0) {
          this.#faults.splice(fault, 1);
          reject(new ReplicationError('IoError', `simulated ${kind} failure (EIO)`, { context: { op: kind, injected: true } }));
          return;
        }
        try {
          resolve(op());
        } catch (err) {
          reject(err);
        }
      }, this.#rng.int(0, this.#latencyMaxMs));
    });
  }

  /** @internal */
  inode(path: string, create: boolean): Inode {
    let inode = this.#files.get(path);
    if (inode === undefined) {
      if (!create) throw new ReplicationError('IoError', `open ${path} failed (ENOENT)`, { context: { path, op: 'open' } });
      if (!this.#dirs.has(dirOf(path))) throw new ReplicationError('IoError', `open ${path} failed (ENOENT: no directory)`, { context: { path, op: 'open' } });
      inode = new Inode();
      this.#files.set(path, inode);
    }
    return inode;
  }

  /** @internal */
  record(inode: Inode, op: Pending, durable: boolean): void {
    if (op.kind === 'write') inode.write(op.bytes, op.position);
    else inode.truncate(op.length);
    if (durable) this.sync(inode);
    else inode.pending.push(op.kind === 'write' ? { ...op, bytes: op.bytes.slice() } : op);
  }

  /** @internal fdatasync of one file. */
  sync(inode: Inode): void {
    if (this.#fsyncIsNoop) return;
    inode.durable = inode.data.slice();
    inode.pending = [];
  }

  /** @internal fsync of a directory: its entries as they are now survive a crash. */
  syncDir(dir: string): void {
    if (this.#fsyncIsNoop) return;
    for (const path of [...this.#durableFiles.keys()]) if (dirOf(path) === dir && !this.#files.has(path)) this.#durableFiles.delete(path);
    for (const [path, inode] of this.#files) if (dirOf(path) === dir) this.#durableFiles.set(path, inode);
  }

  /** @internal */
  readdir(dir: string): string[] {
    const names = new Set<string>();
    for (const path of this.#files.keys()) if (dirOf(path) === dir) names.add(path.slice(dir.length + 1));
    for (const d of this.#dirs) if (d !== dir && dirOf(d) === dir) names.add(d.slice(dir.length + 1));
    return [...names].sort();
  }

  /** @internal directories are kept across crashes (created once, never removed). */
  mkdirp(dir: string): void {
    for (let d = dir; d !== '/' && d !== ''; d = dirOf(d)) this.#dirs.add(d);
  }

  /** @internal */
  rename(from: string, to: string): void {
    const inode = this.#files.get(from);
    if (inode === undefined) throw new ReplicationError('IoError', `rename ${from} failed (ENOENT)`, { context: { path: from, op: 'rename' } });
    this.#files.delete(from);
    this.#files.set(to, inode);
  }

  /** @internal */
  unlink(path: string): void {
    this.#files.delete(path);
  }

  /** @internal */
  file(path: string): Inode | undefined {
    return this.#files.get(path);
  }
}

class SimFileSystem implements FileSystem {
  readonly #disk: SimDisk;
  readonly #generation: number;
  readonly #clock: NodeClock;

  constructor(disk: SimDisk, generation: number, clock: NodeClock) {
    this.#disk = disk;
    this.#generation = generation;
    this.#clock = clock;
  }

  /** @internal */
  op<T>(kind: DiskFault | 'other', fn: () => T, write?: InFlightWrite): Promise<T> {
    return this.#disk.operate(this.#generation, this.#clock, kind, fn, write);
  }

  open(path: string, options: OpenOptions = {}): Promise<FileHandle> {
    return this.op('other', () => new SimFileHandle(this, this.#disk, this.#disk.inode(path, options.create === true), options.dsync === true));
  }

  readdir(dir: string): Promise<string[]> {
    return this.op('other', () => this.#disk.readdir(dir));
  }

  mkdirp(dir: string): Promise<void> {
    return this.op('other', () => this.#disk.mkdirp(dir));
  }

  rename(from: string, to: string): Promise<void> {
    return this.op('other', () => this.#disk.rename(from, to));
  }

  unlink(path: string): Promise<void> {
    return this.op('other', () => this.#disk.unlink(path));
  }

  syncDir(dir: string): Promise<void> {
    return this.op('datasync', () => this.#disk.syncDir(dir));
  }

  readFile(path: string): Promise<Uint8Array | undefined> {
    return this.op('other', () => this.#disk.file(path)?.data.slice());
  }
}

class SimFileHandle implements FileHandle {
  readonly #fs: SimFileSystem;
  readonly #disk: SimDisk;
  readonly #inode: Inode;
  readonly #dsync: boolean;

  constructor(fs: SimFileSystem, disk: SimDisk, inode: Inode, dsync: boolean) {
    this.#fs = fs;
    this.#disk = disk;
    this.#inode = inode;
    this.#dsync = dsync;
  }

  read(buffer: Uint8Array, position: number): Promise<number> {
    return this.#fs.op('other', () => {
      const data = this.#inode.data;
      if (position >= data.length) return 0;
      const n = Math.min(buffer.length, data.length - position);
      buffer.set(data.subarray(position, position + n));
      return n;
    });
  }

  write(buffer: Uint8Array, position: number): Promise<void> {
    const bytes = buffer.slice(); // the caller may reuse its buffer once the write resolves; the disk keeps its own copy now
    return this.#fs.op('write', () => this.#disk.record(this.#inode, { kind: 'write', position, bytes }, this.#dsync), { inode: this.#inode, position, bytes });
  }

  datasync(): Promise<void> {
    return this.#fs.op('datasync', () => this.#disk.sync(this.#inode));
  }

  truncate(length: number): Promise<void> {
    return this.#fs.op('other', () => this.#disk.record(this.#inode, { kind: 'truncate', length }, false));
  }

  size(): Promise<number> {
    return this.#fs.op('other', () => this.#inode.data.length);
  }

  close(): Promise<void> {
    return this.#fs.op('other', () => undefined);
  }
}
