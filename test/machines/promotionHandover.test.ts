// The promotion machine's planned switchover, as a table: on the primary,
// `handover` -> HandingOver (writes refused), which a forced vote request
// from the target ends by stepping down, and its timer ends in LeaseLost; on
// the target, `handover.request` from the primary it follows -> a forced
// candidacy whose win is reported `via: 'handover'`. Node n1 of 3 at epoch 6
// (voted for itself in 6); its log ends at (epoch 3, LSN 40). Pure:
// xstate's transition() via promotionTransition.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  PROMOTION_TIMERS,
  acceptsWrites,
  promotionMachine,
  promotionTransition,
  type PromotionContext,
  type PromotionSnapshot,
} from '../../src/machines/index.js';
import { type Ev, type Row, T, assertStep, contact, forcedReq, hb, higher, leaderAt, name, preReq, promote, reply, req, show, transitionsNotTaken } from '../helpers/promotionEvents.js';

const handover = (to: string, timeoutMs = 2000): Ev => ({ type: 'handover', to, timeoutMs, nowMs: T });
const request = (from: string, epoch: number): Ev => ({ type: 'handover.request', from, epoch, nowMs: T, jitter: 0.25 });
const handoverTimer: Ev = { type: PROMOTION_TIMERS.handover };

const L = { Primary: 'Leading' } as const;
const H = { Primary: 'HandingOver' } as const;
const X = { Primary: 'LeaseLost' } as const;
const F = { Follower: 'Following' } as const;
const S = { Follower: 'Suspecting' } as const;
const handingOver = { handoverTo: 'n2', handoverTimeoutMs: 2000, handoverSent: false };

// prettier-ignore
const rows: Row[] = [
  // The primary: Leading starts a handover to another node; anything else refuses it.
  [L, {}, handover('n2'), 'Primary.HandingOver', ['beginHandover'], handingOver],
  [L, {}, handover('n1'), 'Primary.Leading', ['refuseHandover'], { handoverTo: null }],
  [X, {}, handover('n2'), 'Primary.LeaseLost', ['refuseHandover'], { handoverTo: null }],
  [H, handingOver, handover('n3'), 'Primary.HandingOver', ['refuseHandover'], handingOver],
  [F, { primaryId: 'n2', lastHeardMs: T }, handover('n3'), 'Follower.Following', ['refuseHandover']],
  [S, {}, handover('n3'), 'Follower.Suspecting', ['refuseHandover']],
  ['Candidate', {}, handover('n3'), 'Candidate', ['refuseHandover']],
  ['PreCandidate', {}, handover('n3'), 'PreCandidate', ['refuseHandover']],
  // HandingOver: the target's forced vote is granted and the primary steps down; anything short of that is refused.
  [H, handingOver, forcedReq(7), 'Follower.Suspecting', ['adoptEpoch', 'grantVote', 'stepDown'], { epoch: 7, votedEpoch: 7, handoverTo: null, steppedDown: { from: 'Primary', reason: 'higherEpoch' } }],
  [H, handingOver, forcedReq(7, true), 'Primary.HandingOver', ['refuseVote'], { epoch: 6, handoverTo: 'n2' }],
  [H, handingOver, req(7), 'Primary.HandingOver', ['refuseVote'], { epoch: 6 }],
  [H, handingOver, hb('n2', 7), 'Follower.Following', ['adoptEpoch', 'stepDown'], { epoch: 7, primaryId: 'n2', handoverTo: null }],
  [H, handingOver, higher(7), 'Follower.Suspecting', ['adoptEpoch', 'stepDown'], { epoch: 7, handoverTo: null }],
  [H, handingOver, hb('n3', 6), 'Follower.Suspecting', ['reportSplitBrain', 'stepDown']],
  [H, handingOver, contact, 'Primary.HandingOver', [], { lastQuorumMs: T, handoverTo: 'n2' }],
  [H, handingOver, promote(true), 'Primary.HandingOver', ['refusePromotion']],
  // HANDOVER went out (the target may stand from then on), or the target showed it did not act on it.
  [H, handingOver, { type: 'handover.sent' }, 'Primary.HandingOver', [], { handoverSent: true }],
  [H, { ...handingOver, handoverSent: true }, { type: 'handover.ignored' }, 'Primary.HandingOver', [], { handoverSent: false }],
  // Without a step-down in time, nothing in flight: the handover ends, and writes wait for a majority (LeaseLost).
  [H, handingOver, handoverTimer, 'Primary.LeaseLost', ['endHandover'], { handoverTo: null, epoch: 6 }],
  // ... with a HANDOVER in flight: the target may still stand, so this node steps down rather than write again in its epoch.
  [H, { ...handingOver, handoverSent: true }, handoverTimer, 'Follower.Suspecting', ['endHandover', 'stepDown'], { handoverTo: null, epoch: 6, primaryId: null, steppedDown: { from: 'Primary', reason: 'handoverTimedOut' } }],
  [X, {}, contact, 'Primary.Leading', ['leaseRegained']],
  // The target: HANDOVER from the primary it follows, in its epoch, starts a forced candidacy.
  [F, { primaryId: 'n2', lastHeardMs: T }, request('n2', 6), 'Candidate', ['startElection'], { epoch: 7, votedEpoch: 7, forcing: true, handoverFrom: 'n2' }],
  [F, { primaryId: 'n2', lastHeardMs: T }, request('n3', 6), 'Follower.Following', []],
  [F, { primaryId: 'n2', lastHeardMs: T }, request('n2', 5), 'Follower.Following', []],
  [S, {}, request('n2', 6), 'Follower.Suspecting', []],
  ['Candidate', {}, request('n2', 6), 'Candidate', []],
  [L, {}, request('n2', 6), 'Primary.Leading', []],
];

for (const [from, context, event, to, effects, after] of rows) {
  test(`${show(from)} + ${name(event)} ${JSON.stringify(event).slice(0, 60)} -> ${to}`, () => {
    assertStep(promotionTransition(leaderAt(from, context), event), to, effects, after);
  });
}

test('effect params: beginHandover, endHandover, refusals, and the win reported as a handover', () => {
  const params = (value: PromotionSnapshot['value'], patch: Partial<PromotionContext>, event: Ev) =>
    promotionTransition(leaderAt(value, patch), event).effects.map((e) => `${e.type} ${JSON.stringify(e.params)}`);
  assert.equal(params(L, {}, handover('n2', 1500)), ['beginHandover {"epoch":6,"to":"n2","timeoutMs":1500}']);
  assert.equal(params(H, handingOver, handoverTimer), ['endHandover {"epoch":6,"to":"n2","sent":false}']);
  assert.equal(params(H, { ...handingOver, handoverSent: true }, handoverTimer), [
    'endHandover {"epoch":6,"to":"n2","sent":true}',
    'stepDown {"epoch":6,"from":"Primary","reason":"handoverTimedOut","primaryId":null}',
  ]);
  assert.equal(promotionTransition(leaderAt(L, { handoverSent: true }), handover('n2')).snapshot.context.handoverSent, false, 'a new handover starts with nothing in flight');
  assert.equal(params(L, {}, handover('n1')), ['refuseHandover {"reason":"self","primaryId":"n1"}']);
  assert.equal(params(X, {}, handover('n2')), ['refuseHandover {"reason":"leaseLost","primaryId":"n1"}']);
  assert.equal(params(H, handingOver, handover('n2')), ['refuseHandover {"reason":"handoverRunning","primaryId":"n1"}']);
  assert.equal(params(F, { primaryId: 'n2', lastHeardMs: T }, handover('n3')), ['refuseHandover {"reason":"notPrimary","primaryId":"n2"}']);
  assert.equal(params(F, { primaryId: 'n2', lastHeardMs: T }, request('n2', 6)), ['startElection {"epoch":7,"force":true}']);
  assert.equal(params('Candidate', { forcing: true, handoverFrom: 'n2' }, reply(6, true)), ['becomePrimary {"epoch":6,"forced":true,"via":"handover"}']);
});

test('a primary handing over refuses writes, and is no longer handing over once primary again or a follower', () => {
  const step = promotionTransition(leaderAt(L), handover('n2'));
  assert.is(acceptsWrites(step.snapshot), false);
  const won = promotionTransition(leaderAt('Candidate', { forcing: true, handoverFrom: 'n2' }), reply(6, true));
  assert.equal([won.state, won.snapshot.context.forcing, won.snapshot.context.handoverFrom], ['Primary.Leading', false, null]);
  const lost = promotionTransition(leaderAt('Candidate', { forcing: true, handoverFrom: 'n2' }), hb('n3', 7));
  assert.equal([lost.state, lost.snapshot.context.handoverFrom], ['Follower.Following', null]);
});

test('timers: HandingOver runs the handover timer (from the event) and no lease; it ends on leaving', () => {
  const timers = (value: PromotionSnapshot['value'], patch: Partial<PromotionContext>, event: Ev) =>
    promotionTransition(leaderAt(value, patch), event).timers.map((t) => `${name({ type: t.event } as Ev)} ${t.delayMs}`);
  assert.equal(timers(L, {}, handover('n2', 750)), ['handover 750']);
  assert.equal(timers(H, handingOver, contact), []);
  assert.equal(timers(H, { ...handingOver, lastJitter: 0 }, forcedReq(7)), ['failoverTimeout 1500']);
  assert.equal(timers(H, handingOver, handoverTimer), []);
});

test('the rows take every handover transition: Leading -> HandingOver, HandingOver out, Follower -> Candidate', () => {
  const node = (id: string) => promotionMachine.getStateNodeById(id);
  const out = transitionsNotTaken(rows, [node('promotion.Primary.HandingOver')]);
  const into = transitionsNotTaken(rows, [node('promotion.Primary.Leading'), node('promotion.Follower')], (type) => type.startsWith('handover'));
  assert.ok(out.checked + into.checked >= 6, `only ${out.checked + into.checked} transitions`);
  assert.equal([...out.missing, ...into.missing], []);
});

test('a primary handing over answers pre-votes as a leading one: no', () => {
  const step = promotionTransition(leaderAt(H, handingOver), preReq(7));
  assert.equal(step.effects.map((e) => `${e.type} ${JSON.stringify(e.params)}`), ['answerPreVote {"candidateId":"n3","epoch":7,"granted":false,"currentEpoch":6}']);
  assert.is(step.state, 'Primary.HandingOver');
});

test.run();
