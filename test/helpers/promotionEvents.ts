/**
 * Events for the promotion machine's table tests: node n1 at simulated time
 * T, with a log ending at (epoch 3, LSN 40); requests come from n3, replies
 * from n2 unless named.
 */
import * as assert from 'uvu/assert';
import type { AnyStateNode } from 'xstate';
import {
  type PromotionContext,
  type PromotionEvent,
  type PromotionSnapshot,
  type PromotionStep,
  type PromotionTimerEvent,
  initialPromotion,
  promotionMachine,
} from '../../src/machines/index.js';

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

/** A table row: from state and context patch, event, the state reached, the effects, and context fields after. */
export type Row = [from: PromotionSnapshot['value'], context: Partial<PromotionContext>, event: Ev, to: string, effects: string[], after?: Partial<PromotionContext>];

/** A state value as a dotted name: `Candidate`, `Primary.Leading`. */
export const show = (v: PromotionSnapshot['value']): string => (typeof v === 'string' ? v : Object.entries(v).map(([k, s]) => `${k}.${String(s)}`).join(''));

/**
 * A snapshot of n1 of 3 at epoch 6, having voted for itself in 6 (the leader
 * tables): in `value`, primary itself when `value` is a Primary state.
 */
export function leaderAt(value: PromotionSnapshot['value'], patch: Partial<PromotionContext> = {}): PromotionSnapshot {
  const base = initialPromotion({ nodeId: 'n1', clusterSize: 3, epoch: 6, votedEpoch: 6 });
  const role = typeof value === 'string' ? value : Object.keys(value)[0];
  const context = { ...base.context, votes: ['n1'], primaryId: role === 'Primary' ? 'n1' : null, ...patch };
  return promotionMachine.resolveState({ value, context });
}

/**
 * The targeted transitions of `nodes` whose event passes `keep` that no row
 * takes (`from --event--> to`; a step-down counts as reaching Follower), and
 * how many transitions were checked.
 */
export function transitionsNotTaken(rows: readonly Row[], nodes: readonly AnyStateNode[], keep: (eventType: string) => boolean = () => true): { missing: string[]; checked: number } {
  const taken = rows.map(([from, , event, to]) => [show(from), event.type, to] as const);
  const missing: string[] = [];
  let checked = 0;
  for (const node of nodes) {
    for (const t of [...node.transitions.values()].flat().filter((x) => keep(x.eventType))) {
      checked++;
      for (const target of t.target ?? []) {
        const from = node.path.join('.');
        const dest = target.key === 'SteppingDown' ? 'Follower' : target.path.join('.');
        if (!taken.some(([f, type, to]) => f.startsWith(from) && type === t.eventType && to.startsWith(dest))) missing.push(`no row for ${from} --${t.eventType}--> ${dest}`);
      }
    }
  }
  return { missing, checked };
}
