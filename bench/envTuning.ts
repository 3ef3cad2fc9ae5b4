/**
 * Tuning overrides a benchmark takes from the environment, for A/B runs of
 * the same code: `BENCH_RECEIPT_ACK_DELAY_MS=0` sets `receiptAckDelayMs`.
 *
 * @example
 * createNode({ ..., tuning: { ...BASE, ...envTuning() } })
 */
import type { Tuning } from '../src/index.js';

/** The overrides set in the environment; `{}` when none is. */
export function envTuning(): Partial<Tuning> {
  const delay = process.env['BENCH_RECEIPT_ACK_DELAY_MS'];
  return delay === undefined ? {} : { receiptAckDelayMs: Number(delay) };
}
