/**
 * One node's view of simulated time: the `Clock` port (and xstate's `clock`
 * option) over the shared {@link Scheduler}. Pausing it models a paused
 * process (GC, SIGSTOP): nothing of the node runs until the pause ends, its
 * due timers fire late. Killing it models a crash: none of its timers ever
 * fires again.
 *
 * @example
 * const clock = new NodeClock(scheduler); clock.setTimeout(() => tick(), 250); clock.pause(scheduler.now + 1000)
 */
import type { Clock } from '../ports.js';
import type { Scheduler, Task } from './scheduler.js';

interface Timer {
  task: Task;
  cleared: boolean;
}

export class NodeClock implements Clock {
  readonly #scheduler: Scheduler;
  #pausedUntil = -Infinity;
  #dead = false;

  constructor(scheduler: Scheduler) {
    this.#scheduler = scheduler;
  }

  now(): number {
    return this.#scheduler.now;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const timer: Timer = { task: undefined as unknown as Task, cleared: false };
    const fire = (): void => {
      if (this.#dead || timer.cleared) return;
      if (this.#pausedUntil > this.#scheduler.now) {
        timer.task = this.#scheduler.at(this.#pausedUntil, fire);
        return;
      }
      fn();
    };
    timer.task = this.#scheduler.at(this.#scheduler.now + Math.max(0, ms), fire);
    return timer;
  }

  clearTimeout(handle: unknown): void {
    const timer = handle as Timer | undefined;
    if (timer === undefined || timer === null || typeof timer !== 'object' || !('cleared' in timer)) return;
    timer.cleared = true;
    timer.task.cancelled = true;
  }

  /** Runs `fn` as this node as soon as it is not paused (a network delivery, a disk completion, a client call). */
  run(fn: () => void, delayMs = 0): void {
    this.setTimeout(fn, delayMs);
  }

  /** Freezes the node until `untilMs`. */
  pause(untilMs: number): void {
    this.#pausedUntil = Math.max(this.#pausedUntil, untilMs);
  }

  /** True while paused. */
  get paused(): boolean {
    return this.#pausedUntil > this.#scheduler.now;
  }

  /** The node crashed: nothing scheduled through this clock runs any more. */
  kill(): void {
    this.#dead = true;
  }

  get dead(): boolean {
    return this.#dead;
  }
}
