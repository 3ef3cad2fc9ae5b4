/**
 * Events for the promotion machine's table tests: node n1 at simulated time
 * T, with a log ending at (epoch 3, LSN 40); requests come from n3, replies
 * from n2 unless named.
 */
import * as assert from 'uvu/assert';
import type { PromotionContext, PromotionEvent, PromotionStep, PromotionTimerEvent } from '../../src/machines/index.js';

/** Any event the machine takes, fired timers included. */
export type Ev = PromotionEvent | PromotionTimerEvent;
/** The simulated time of every event. */
export const T = 10_000;
/** A heartbeat of the primary `from` in `epoch`. */
export const hb = (from: string, epoch: number, nowMs = T): Ev => ({ type: 'heartbeat', from, epoch, nowMs, jitter: 0.5 });
/** A vote request from n3; `behind` gives it a log older than n1's (epoch 3, LSN 40). */
export const req = (epoch: number, behind = false, nowMs = T): Ev => ({
  type: 'vote.request', candidateId: 'n3', epoch, lastEpoch: 3, lastLsn: behind ? 39 : 40, ownLastEpoch: 3, ownLastLsn: 40, nowMs,
});
/** A forced promotion's vote request from n3 (same logs as {@link req}). */
export const forcedReq = (epoch: number, behind = false, nowMs = T): Ev => ({ ...req(epoch, behind, nowMs), force: true } as Ev);
/** A pre-vote request from n3 (same logs as {@link req}). */
export const preReq = (epoch: number, behind = false, nowMs = T): Ev => ({
  type: 'prevote.request', candidateId: 'n3', epoch, lastEpoch: 3, lastLsn: behind ? 39 : 40, ownLastEpoch: 3, ownLastLsn: 40, nowMs,
});
/** A vote answer. */
export const reply = (epoch: number, granted: boolean, from = 'n2'): Ev => ({ type: 'vote.reply', from, epoch, granted });
/** A pre-vote answer. */
export const preReply = (epoch: number, granted: boolean, from = 'n2'): Ev => ({ type: 'prevote.reply', from, epoch, granted });
/** A frame of a higher epoch seen anywhere. */
export const higher = (epoch: number): Ev => ({ type: 'epoch.higher', epoch, from: 'n2' });
/** `promote()`, forced or not. */
export const promote = (force: boolean, nowMs = T): Ev => ({ type: 'promote', force, nowMs });
/** A majority acknowledged the primary. */
export const contact: Ev = { type: 'quorum.contact', nowMs: T };
/** The event's short name in test titles (a timer by its delay name). */
export const name = (e: Ev): string => (e.type.startsWith('xstate.after') ? e.type.split('.')[2]! : e.type);

/** Asserts one table row: the state reached, the effects in order, and the context fields in `after`. */
export function assertStep(step: PromotionStep, to: string, effects: readonly string[], after: Partial<PromotionContext> = {}): void {
  assert.is(step.state, to);
  assert.equal(step.effects.map((e) => e.type), effects);
  for (const [key, value] of Object.entries(after)) assert.equal(step.snapshot.context[key as keyof PromotionContext], value, key);
}
