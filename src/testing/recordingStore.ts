/**
 * The default memory store, reporting every record it applies and every
 * state it installs, so the checkers see exactly what each node folded.
 *
 * @example
 * const store = new RecordingStore({ applied: (r) => seen.push(r.lsn), restored: () => seen.length = 0 })
 */
import { MemoryStore } from '../store/memoryStore.js';
import type { AppliedRecord } from '../store/reducer.js';

/** What a recording store reports. */
export interface ApplyObserver {
  /** A record was applied (the object is reused: copy what you keep). */
  applied(record: AppliedRecord): void;
  /** The state was replaced (snapshot install, rebuild after a cut). */
  restored(): void;
}

export class RecordingStore extends MemoryStore {
  readonly #observer: ApplyObserver;

  constructor(observer: ApplyObserver) {
    super();
    this.#observer = observer;
  }

  override apply(record: AppliedRecord): void {
    this.#observer.applied(record);
    super.apply(record);
  }

  override restore(bytes: Uint8Array): void {
    super.restore(bytes);
    this.#observer.restored();
  }
}
