/**
 * An open-loop load generator: issues operations at a fixed offered rate
 * whatever the latency, and measures each from the moment it was *due*
 * (so queueing delay is counted; no coordinated omission).
 *
 * Between bursts it sleeps on a 1 ms timer rather than spinning on
 * `setImmediate`: a spinning generator keeps one of this machine's two cores
 * 100 % busy, which starves the other processes of a cluster benchmark (and
 * no host application issues its writes that way). Operations due while it
 * sleeps are issued together when it wakes, and their wait is counted.
 */
import { setTimeout as sleep } from 'node:timers/promises';

/** How long the generator sleeps between bursts. */
export const PACER_TICK_MS = 1;

/**
 * Latencies in ms of every operation issued at `ratePerSec` for `durationMs`,
 * sorted; an operation that rejected counts as `Infinity` (see {@link refusedCount}).
 */
export async function openLoop(ratePerSec: number, durationMs: number, op: () => Promise<unknown>): Promise<Float64Array> {
  const total = Math.floor((ratePerSec * durationMs) / 1000);
  const latencies = new Float64Array(total);
  const start = performance.now();
  let issued = 0;
  let completed = 0;
  let allDone: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (allDone = resolve));
  while (issued < total) {
    const due = Math.min(total, Math.floor(((performance.now() - start) * ratePerSec) / 1000) + 1);
    while (issued < due) {
      const i = issued++;
      const dueAt = start + (i * 1000) / ratePerSec;
      op().then(
        () => { latencies[i] = performance.now() - dueAt; },
        () => { latencies[i] = Number.POSITIVE_INFINITY; }, // refused (e.g. Overloaded): counted, never hidden
      ).finally(() => {
        if (++completed === total) allDone();
      });
    }
    await sleep(PACER_TICK_MS);
  }
  await finished;
  return latencies.sort();
}

/** How many operations of an {@link openLoop} result were refused (sorted: they are at the end). */
export function refusedCount(latencies: Float64Array): number {
  let n = 0;
  for (let i = latencies.length - 1; i >= 0 && latencies[i] === Number.POSITIVE_INFINITY; i--) n++;
  return n;
}
