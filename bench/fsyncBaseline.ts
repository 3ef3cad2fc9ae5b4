/**
 * The baseline the log is measured against: a bare group-commit loop with
 * no log format at all — pending byte buffers are concatenated, written with
 * one `write` and made durable with one `fdatasync`, and every waiter of the
 * group resolves. `preallocate` zero-fills the file first (as the log does).
 */
import { promises as fsp } from 'node:fs';

export class FsyncBaseline {
  #fh: fsp.FileHandle;
  #position = 0;
  #pending: Uint8Array[] = [];
  #waiters: (() => void)[] = [];
  #flushing = false;

  private constructor(fh: fsp.FileHandle) {
    this.#fh = fh;
  }

  static async open(path: string, preallocateBytes = 0): Promise<FsyncBaseline> {
    const fh = await fsp.open(path, 'w+');
    if (preallocateBytes > 0) {
      const zeros = new Uint8Array(1 << 20);
      for (let at = 0; at < preallocateBytes; at += zeros.length) await fh.write(zeros, 0, zeros.length, at);
      await fh.datasync();
    }
    return new FsyncBaseline(fh);
  }

  /** Queues `bytes`; resolves once they are written and fdatasync'ed. */
  append(bytes: Uint8Array): Promise<void> {
    this.#pending.push(bytes);
    const done = new Promise<void>((resolve) => this.#waiters.push(resolve));
    if (!this.#flushing) {
      this.#flushing = true;
      queueMicrotask(() => void this.#loop());
    }
    return done;
  }

  async #loop(): Promise<void> {
    while (this.#pending.length > 0) {
      const chunks = this.#pending.splice(0, 1000);
      const waiters = this.#waiters.splice(0, chunks.length);
      const buffer = Buffer.concat(chunks);
      await this.#fh.write(buffer, 0, buffer.length, this.#position);
      this.#position += buffer.length;
      await this.#fh.datasync();
      for (const w of waiters) w();
    }
    this.#flushing = false;
  }

  close(): Promise<void> {
    return this.#fh.close();
  }
}
