/**
 * The simulated time line: one queue of timed tasks ordered by (time, order
 * of scheduling), run one at a time. Between two tasks every pending promise
 * callback runs (a macrotask turn drains the microtask queue), so the async
 * code of the nodes interleaves only at the points the simulation chose.
 *
 * @example
 * const s = new Scheduler(0); s.at(10, () => console.log(s.now)); await s.runUntil(100)
 */

/** A scheduled task; `cancelled` tasks are skipped. */
export interface Task {
  time: number;
  readonly order: number;
  readonly run: () => void;
  cancelled: boolean;
}

/** Lets every queued promise callback run before the next task. */
function drainMicrotasks(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export class Scheduler {
  #now: number;
  #order = 0;
  readonly #heap: Task[] = [];
  /** Tasks run so far. */
  steps = 0;

  constructor(startMs: number) {
    this.#now = startMs;
  }

  /** Simulated time in ms. */
  get now(): number {
    return this.#now;
  }

  /** Runs `run` at simulated time `time` (not before now). */
  at(time: number, run: () => void): Task {
    const task: Task = { time: Math.max(time, this.#now), order: this.#order++, run, cancelled: false };
    this.#push(task);
    return task;
  }

  /** Runs tasks in time order until the queue is empty, time passes `endMs`, or `stop()` returns true. */
  async runUntil(endMs: number, stop: () => boolean = () => false): Promise<void> {
    await drainMicrotasks();
    while (!stop()) {
      const task = this.#heap[0];
      if (task === undefined || task.time > endMs) break;
      this.#pop();
      if (task.cancelled) continue;
      this.#now = task.time;
      this.steps++;
      task.run();
      await drainMicrotasks();
    }
    if (!stop()) this.#now = Math.max(this.#now, endMs);
  }

  #less(a: Task, b: Task): boolean {
    return a.time < b.time || (a.time === b.time && a.order < b.order);
  }

  #push(task: Task): void {
    const h = this.#heap;
    h.push(task);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  #pop(): void {
    const h = this.#heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.#less(h[l]!, h[m]!)) m = l;
      if (r < h.length && this.#less(h[r]!, h[m]!)) m = r;
      if (m === i) break;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
}
