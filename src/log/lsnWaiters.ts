/**
 * Promises waiting for a log position to reach an LSN: `waitFlushed` waits
 * on the durable end, `waitPublished` on the published end.
 *
 * @example
 * const waiters = new LsnWaiters()
 * const p = waiters.wait(10)     // pending
 * waiters.release(12)            // p resolves
 */
export class LsnWaiters {
  #waiting: { lsn: number; resolve: () => void; reject: (err: unknown) => void }[] = [];

  /** Resolves once `release` is called with a position at or past `lsn`. */
  wait(lsn: number): Promise<void> {
    return new Promise((resolve, reject) => this.#waiting.push({ lsn, resolve, reject }));
  }

  /** Resolves every waiter whose LSN is at or before `position`. */
  release(position: number): void {
    if (this.#waiting.length === 0) return;
    const ready = this.#waiting.filter((w) => w.lsn <= position);
    if (ready.length === 0) return;
    this.#waiting = this.#waiting.filter((w) => w.lsn > position);
    for (const w of ready) w.resolve();
  }

  /** Rejects every waiter with `err`. */
  rejectAll(err: unknown): void {
    for (const w of this.#waiting.splice(0)) w.reject(err);
  }
}
