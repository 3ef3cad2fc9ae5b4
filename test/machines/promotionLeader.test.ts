// The promotion machine as a table, candidate and primary side: from state +
// context, event -> next state, effects (named actions, in order) and
// context. Pure: xstate's transition() via promotionTransition. Node n1 of 3
// (majority 2) at epoch 6, having voted for itself in 6; its log ends at
// (epoch 3, LSN 40). Every way out of Candidate or Primary passes through
// SteppingDown (effect stepDown) and ends in Follower.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  PROMOTION_TIMERS,
  promotionMachine,
  promotionTransition,
  type PromotionContext,
  type PromotionSnapshot,
} from '../../src/machines/index.js';
import { type Ev, type Row, assertStep, T, hb, req, forcedReq, reply, higher, promote, contact, name, leaderAt, show, transitionsNotTaken } from '../helpers/promotionEvents.js';

const round: Ev = { type: PROMOTION_TIMERS.electionRound };
const lease: Ev = { type: PROMOTION_TIMERS.lease };

const C = 'Candidate' as const;
const L = { Primary: 'Leading' } as const;
const X = { Primary: 'LeaseLost' } as const;
const down = (...effects: string[]) => [...effects, 'stepDown'];

// prettier-ignore
const rows: Row[] = [
  // Candidate: votes ['n1'] for epoch 6
  [C, {}, reply(6, true), 'Primary.Leading', ['becomePrimary'], { votes: ['n1', 'n2'], primaryId: 'n1', epoch: 6 }],
  [C, {}, reply(6, false), 'Candidate', [], { votes: ['n1'] }],
  [C, {}, reply(5, true), 'Candidate', [], { votes: ['n1'] }],
  [C, {}, reply(6, true, 'n1'), 'Candidate', [], { votes: ['n1'] }],
  [C, { clusterSize: 5, votes: ['n1', 'n2'] }, reply(6, true), 'Candidate', [], { votes: ['n1', 'n2'] }],
  [C, { clusterSize: 5, votes: ['n1', 'n2'] }, reply(6, true, 'n4'), 'Primary.Leading', ['becomePrimary'], { votes: ['n1', 'n2', 'n4'] }],
  [C, {}, reply(7, false), 'Follower.Suspecting', down('adoptEpoch'), { epoch: 7, votedEpoch: 6, steppedDown: { from: 'Candidate', reason: 'higherEpoch' } }],
  [C, {}, hb('n2', 6), 'Follower.Following', down(), { primaryId: 'n2', lastHeardMs: T, steppedDown: { from: 'Candidate', reason: 'primaryElected' } }],
  [C, {}, hb('n2', 7), 'Follower.Following', down('adoptEpoch'), { primaryId: 'n2', epoch: 7 }],
  [C, {}, hb('n2', 5), 'Candidate', ['rejectStale'], { epoch: 6 }],
  [C, {}, req(6), 'Candidate', ['refuseVote'], { votedEpoch: 6 }],
  [C, {}, req(7), 'Follower.Suspecting', down('adoptEpoch', 'grantVote'), { epoch: 7, votedEpoch: 7 }],
  [C, {}, req(7, true), 'Follower.Suspecting', down('adoptEpoch', 'refuseVote'), { epoch: 7, votedEpoch: 6 }],
  [C, {}, higher(9), 'Follower.Suspecting', down('adoptEpoch'), { epoch: 9 }],
  [C, {}, promote(false), 'Candidate', ['refusePromotion'], { epoch: 6 }],
  [C, {}, promote(true), 'Candidate', ['startElection'], { epoch: 7, votedEpoch: 7, votes: ['n1'], forcing: true }],
  [C, { forcing: true }, reply(6, true), 'Primary.Leading', ['becomePrimary'], { primaryId: 'n1', epoch: 6, forcing: false }],
  [C, { votes: ['n1', 'n2'] }, round, 'Candidate', ['startElection'], { epoch: 7, votedEpoch: 7, votes: ['n1'] }],
  // Leading
  [L, {}, contact, 'Primary.Leading', [], { lastQuorumMs: T }],
  [L, {}, lease, 'Primary.LeaseLost', ['leaseLost']],
  [L, {}, req(7), 'Primary.Leading', ['refuseVote'], { epoch: 6, votedEpoch: 6 }],
  // A forced promotion's request: granted (and the primary steps down) when the vote and log checks pass.
  [L, {}, forcedReq(7), 'Follower.Suspecting', down('adoptEpoch', 'grantVote'), { epoch: 7, votedEpoch: 7, primaryId: null, steppedDown: { from: 'Primary', reason: 'higherEpoch' } }],
  [L, {}, forcedReq(7, true), 'Primary.Leading', ['refuseVote'], { epoch: 6, votedEpoch: 6, primaryId: 'n1' }],
  [L, {}, forcedReq(6), 'Primary.Leading', ['refuseVote'], { epoch: 6 }],
  [L, {}, hb('n2', 7), 'Follower.Following', down('adoptEpoch'), { epoch: 7, primaryId: 'n2', steppedDown: { from: 'Primary', reason: 'higherEpoch' } }],
  [L, {}, hb('n2', 6), 'Follower.Suspecting', down('reportSplitBrain'), { epoch: 6, primaryId: null, steppedDown: { from: 'Primary', reason: 'splitBrain' } }],
  [L, {}, hb('n2', 5), 'Primary.Leading', ['rejectStale']],
  [L, {}, reply(8, false), 'Follower.Suspecting', down('adoptEpoch'), { epoch: 8 }],
  [L, {}, higher(7), 'Follower.Suspecting', down('adoptEpoch'), { epoch: 7, primaryId: null }],
  [L, {}, promote(true), 'Primary.Leading', ['refusePromotion'], { epoch: 6 }],
  // LeaseLost: still the primary of epoch 6, writes refused
  [X, {}, contact, 'Primary.Leading', ['leaseRegained'], { lastQuorumMs: T }],
  [X, {}, req(7), 'Follower.Suspecting', down('adoptEpoch', 'grantVote'), { epoch: 7, votedEpoch: 7, primaryId: null }],
  [X, {}, req(7, true), 'Follower.Suspecting', down('adoptEpoch', 'refuseVote'), { epoch: 7, votedEpoch: 6 }],
  [X, {}, req(6), 'Primary.LeaseLost', ['refuseVote'], { epoch: 6 }],
  [X, {}, hb('n2', 7), 'Follower.Following', down('adoptEpoch'), { primaryId: 'n2' }],
  [X, {}, hb('n2', 6), 'Follower.Suspecting', down('reportSplitBrain')],
  [X, {}, hb('n2', 5), 'Primary.LeaseLost', ['rejectStale']],
  [X, {}, higher(7), 'Follower.Suspecting', down('adoptEpoch')],
  [X, {}, reply(7, true), 'Follower.Suspecting', down('adoptEpoch')],
  [X, {}, promote(false), 'Primary.LeaseLost', ['refusePromotion']],
];

for (const [from, context, event, to, effects, after] of rows) {
  test(`${show(from)} + ${name(event)} ${JSON.stringify(event).slice(0, 70)} -> ${to}`, () => {
    const step = promotionTransition(leaderAt(from, context), event);
    assertStep(step, to, effects, after);
  });
}

test('effect params: election, lease, step-down, split brain, refusals', () => {
  const params = (value: PromotionSnapshot['value'], patch: Partial<PromotionContext>, event: Ev) =>
    promotionTransition(leaderAt(value, patch), event).effects.map((e) => `${e.type} ${JSON.stringify(e.params)}`);
  assert.equal(params(C, {}, reply(6, true)), ['becomePrimary {"epoch":6,"forced":false,"via":"election"}']);
  assert.equal(params(C, { forcing: true }, reply(6, true)), ['becomePrimary {"epoch":6,"forced":true,"via":"force"}']);
  assert.equal(params(L, {}, forcedReq(7, true)), ['refuseVote {"candidateId":"n3","epoch":7,"reason":"logBehind","currentEpoch":6}']);
  assert.equal(params(C, {}, round), ['startElection {"epoch":7,"force":false}']);
  assert.equal(params(L, { lastQuorumMs: 9000 }, lease), ['leaseLost {"epoch":6,"lastContactMs":9000}']);
  assert.equal(params(X, {}, contact), [`leaseRegained {"epoch":6,"nowMs":${T}}`]);
  assert.equal(params(L, {}, req(7)), ['refuseVote {"candidateId":"n3","epoch":7,"reason":"leading","currentEpoch":6}']);
  assert.equal(params(L, {}, hb('n2', 6)), [
    'reportSplitBrain {"from":"n2","epoch":6}',
    'stepDown {"epoch":6,"from":"Primary","reason":"splitBrain","primaryId":null}',
  ]);
  assert.equal(params(X, {}, req(7)), [
    'adoptEpoch {"epoch":7}',
    'grantVote {"candidateId":"n3","epoch":7}',
    'stepDown {"epoch":7,"from":"Primary","reason":"higherEpoch","primaryId":null}',
  ]);
  assert.equal(params(C, {}, hb('n2', 6)), ['stepDown {"epoch":6,"from":"Candidate","reason":"primaryElected","primaryId":"n2"}']);
  assert.equal(params(C, {}, promote(false)), ['refusePromotion {"primaryId":null,"reason":"electionRunning"}']);
  assert.equal(params(L, {}, promote(false)), ['refusePromotion {"primaryId":"n1","reason":"alreadyPrimary"}']);
});

test('timers: rounds and the lease are re-armed on entry; leaving a state drops its timer', () => {
  const timers = (value: PromotionSnapshot['value'], patch: Partial<PromotionContext>, event: Ev) =>
    promotionTransition(leaderAt(value, patch), event).timers.map((t) => `${name({ type: t.event } as Ev)} ${t.delayMs}`);
  assert.equal(timers(C, { lastJitter: 0 }, round), ['electionRound 1000']);
  assert.equal(timers(C, { lastJitter: 0.5 }, round), ['electionRound 1250']);
  assert.equal(timers(C, {}, reply(6, true)), ['lease 1000']);
  assert.equal(timers(L, {}, contact), ['lease 1000']);
  assert.equal(timers(X, {}, contact), ['lease 1000']);
  assert.equal(timers(L, {}, { type: 'epoch.higher', epoch: 7, from: 'n2', jitter: 0 }), ['failoverTimeout 1500']);
  assert.equal(timers(C, {}, reply(6, false)), []);
});

test('candidates and primaries ignore what has no meaning for them', () => {
  const ignored: Array<[PromotionSnapshot['value'], Ev]> = [
    [C, contact], [C, higher(6)], [C, higher(2)], [C, { type: PROMOTION_TIMERS.failoverTimeout }], [C, lease],
    [L, higher(6)], [L, reply(6, true)], [L, round], [L, { type: PROMOTION_TIMERS.failoverTimeout }],
    [X, higher(5)], [X, reply(6, true)], [X, lease], [X, round],
  ];
  for (const [value, event] of ignored) {
    const before = leaderAt(value);
    const step = promotionTransition(before, event);
    assert.equal(step.snapshot.value, before.value, `${show(value)} + ${event.type}`);
    assert.equal([step.effects, step.timers], [[], []], `${show(value)} + ${event.type}`);
    assert.equal(step.snapshot.context, before.context);
  }
});

test('a cluster of one elects itself at once', () => {
  const step = promotionTransition(leaderAt({ Follower: 'Suspecting' }, { clusterSize: 1, votes: [], primaryId: null }), { type: PROMOTION_TIMERS.failoverTimeout });
  assert.is(step.state, 'Primary.Leading');
  assert.equal(step.effects, [
    { type: 'requestPreVotes', params: { epoch: 7 } }, // to no peers: its own pre-vote is a majority
    { type: 'startElection', params: { epoch: 7, force: false } },
    { type: 'becomePrimary', params: { epoch: 7, forced: false, via: 'election' } },
  ]);
});

test('the candidate and primary rows take every targeted transition of Candidate, Primary and SteppingDown', () => {
  const nodes = ['Candidate', 'Primary', 'Primary.Leading', 'Primary.LeaseLost'].map((p) => promotionMachine.getStateNodeById(`promotion.${p}`));
  // Leading's handover transition is covered in promotionHandover.test.ts
  assert.equal(transitionsNotTaken(rows, nodes, (type) => type !== 'handover').missing, []);
});

test.run();
