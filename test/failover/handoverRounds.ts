/**
 * Planned switchovers under load, shared by test/failover/handover.test.ts
 * and the failover benchmark: `rounds` handovers, each from the current
 * primary to the next node in id order, while a {@link LoadWriter} writes;
 * for each, how long `handover()` took and the longest gap between two
 * acknowledged writes around it (the pause clients saw).
 */
import { waitFor } from '../helpers/waitFor.js';
import type { LoadWriter, ProcCluster } from './processHarness.js';

/** One handover: from, to, the epoch it made, its duration and the write pause around it (ms). */
export interface HandoverSample {
  from: string;
  to: string;
  epoch: number;
  handoverMs: number;
  pauseMs: number;
}

/** The longest gap between consecutive times in `times` that ends within [fromMs, toMs]. */
function longestGap(times: readonly number[], fromMs: number, toMs: number): number {
  let gap = 0;
  for (let i = 1; i < times.length; i++) {
    if (times[i]! >= fromMs && times[i - 1]! <= toMs) gap = Math.max(gap, times[i]! - times[i - 1]!);
  }
  return gap;
}

/** Runs `rounds` handovers while `writer` writes; the writer must be started. */
export async function handoverRounds(c: ProcCluster, writer: LoadWriter, rounds: number): Promise<HandoverSample[]> {
  const samples: HandoverSample[] = [];
  for (let round = 0; round < rounds; round++) {
    const from = await c.primary(20_000);
    const ids = c.ids;
    const to = ids[(ids.indexOf(from.id) + 1) % ids.length]!;
    // Writes flowing, and the target streaming from this primary (and caught up once).
    const acked = writer.acked.size;
    await waitFor(() => writer.acked.size >= acked + 200, { timeoutMs: 20_000, what: 'writes under way' });
    await waitFor(async () => (await from.status()).replicas.some((r) => r.id === to && r.lastContactAgoMs !== null && r.appliedLsn > 0),
      { timeoutMs: 20_000, intervalMs: 20, what: `${to} streaming from ${from.id}` });
    const started = performance.now();
    const result = await from.handover(to);
    const done = performance.now();
    // The pause ends with the first write the new primary acknowledges.
    const after = writer.ackTimes.length;
    await waitFor(() => writer.ackTimes.length > after + 10, { timeoutMs: 20_000, what: `writes acknowledged by ${to}` });
    samples.push({ from: from.id, to: result.primary, epoch: result.epoch, handoverMs: done - started, pauseMs: longestGap(writer.ackTimes, started, performance.now()) });
  }
  return samples;
}
