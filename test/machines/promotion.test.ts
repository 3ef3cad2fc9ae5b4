// The promotion machine as a table, follower side: from state + context,
// event -> next state, effects (named actions, in order) and context. Pure:
// xstate's transition() via promotionTransition, nothing executed. Node n1 of
// 3 at epoch 5 having voted in epoch 4; T = 10 000 ms. A primary is live
// while heard less than failoverTimeoutMs (1500) ago. The leader side is in
// promotionLeader.test.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  PROMOTION_TIMERS,
  initialPromotion,
  initialPromotionStep,
  promotionMachine,
  promotionRole,
  promotionTransition,
  type PromotionContext,
  type PromotionSnapshot,
} from '../../src/machines/index.js';
import { type Ev, type Row, show, transitionsNotTaken, assertStep, T, hb, req, forcedReq, preReq, reply, preReply, higher, promote, contact, name } from '../helpers/promotionEvents.js';

const failover: Ev = { type: PROMOTION_TIMERS.failoverTimeout };

function at(value: PromotionSnapshot['value'], patch: Partial<PromotionContext> = {}): PromotionSnapshot {
  const base = initialPromotion({ nodeId: 'n1', clusterSize: 3, epoch: 5, votedEpoch: 4 });
  return promotionMachine.resolveState({ value, context: { ...base.context, ...patch } });
}
const S = { Follower: 'Suspecting' } as const;
const F = { Follower: 'Following' } as const;
const heard = { primaryId: 'n2', lastHeardMs: T - 100 };

// prettier-ignore
const rows: Row[] = [
  // Suspecting: no primary known
  [S, {}, hb('n2', 4), 'Follower.Suspecting', ['rejectStale'], { epoch: 5, primaryId: null }],
  [S, {}, hb('n2', 5), 'Follower.Following', [], { primaryId: 'n2', lastHeardMs: T, epoch: 5 }],
  [S, {}, hb('n2', 7), 'Follower.Following', ['adoptEpoch'], { primaryId: 'n2', epoch: 7, votedEpoch: 4 }],
  [S, {}, req(5), 'Follower.Suspecting', ['grantVote'], { epoch: 5, votedEpoch: 5 }],
  [S, {}, req(6), 'Follower.Suspecting', ['adoptEpoch', 'grantVote'], { epoch: 6, votedEpoch: 6 }],
  [S, {}, req(4), 'Follower.Suspecting', ['refuseVote'], { epoch: 5, votedEpoch: 4 }],
  [S, { votedEpoch: 5 }, req(5), 'Follower.Suspecting', ['refuseVote'], { votedEpoch: 5 }],
  [S, {}, req(5, true), 'Follower.Suspecting', ['refuseVote'], { votedEpoch: 4 }],
  [S, {}, req(6, true), 'Follower.Suspecting', ['adoptEpoch', 'refuseVote'], { epoch: 6, votedEpoch: 4 }],
  [S, {}, reply(6, false), 'Follower.Suspecting', ['adoptEpoch'], { epoch: 6 }],
  [S, {}, higher(8), 'Follower.Suspecting', ['adoptEpoch'], { epoch: 8, votedEpoch: 4 }],
  [S, {}, promote(false), 'Candidate', ['startElection'], { epoch: 6, votedEpoch: 6, votes: ['n1'] }],
  [S, {}, promote(true), 'Candidate', ['startElection'], { epoch: 6, votedEpoch: 6, votes: ['n1'], forcing: true }],
  [S, {}, failover, 'PreCandidate', ['requestPreVotes'], { epoch: 5, votedEpoch: 4, preVoteEpoch: 6, preVotes: ['n1'], primaryId: null }],
  [S, { epoch: 0, votedEpoch: 0 }, failover, 'PreCandidate', ['requestPreVotes'], { epoch: 0, votedEpoch: 0, preVoteEpoch: 2 }],
  [S, {}, preReq(6), 'Follower.Suspecting', ['answerPreVote'], { epoch: 5, votedEpoch: 4 }],
  [S, {}, preReply(6, true), 'Follower.Suspecting', [], { epoch: 5 }],
  // Following: a primary heard at T - 100
  [F, heard, hb('n2', 5), 'Follower.Following', [], { lastHeardMs: T }],
  [F, heard, hb('n3', 6), 'Follower.Following', ['adoptEpoch'], { primaryId: 'n3', epoch: 6 }],
  [F, heard, hb('n3', 4), 'Follower.Following', ['rejectStale'], { primaryId: 'n2', lastHeardMs: T - 100 }],
  [F, heard, req(6), 'Follower.Following', ['refuseVote'], { epoch: 5, votedEpoch: 4, primaryId: 'n2' }],
  [F, heard, req(6, false, T + 1399), 'Follower.Following', ['refuseVote'], { epoch: 5 }],
  [F, heard, req(6, false, T + 1400), 'Follower.Suspecting', ['adoptEpoch', 'grantVote'], { epoch: 6, votedEpoch: 6, primaryId: null }],
  [F, heard, req(6, true, T + 1400), 'Follower.Suspecting', ['adoptEpoch', 'refuseVote'], { epoch: 6, votedEpoch: 4, primaryId: null }],
  [F, heard, higher(6), 'Follower.Suspecting', ['adoptEpoch'], { epoch: 6, primaryId: null }],
  [F, heard, reply(6, true), 'Follower.Suspecting', ['adoptEpoch'], { epoch: 6, primaryId: null }],
  [F, heard, promote(false), 'Follower.Following', ['refusePromotion'], { epoch: 5 }],
  [F, heard, promote(false, T + 1400), 'Candidate', ['startElection'], { epoch: 6, primaryId: null }],
  [F, heard, promote(true), 'Candidate', ['startElection'], { epoch: 6, primaryId: null, forcing: true }],
  // A forced promotion's vote request is not refused for the live primary; the vote and log checks still hold.
  [F, heard, forcedReq(6), 'Follower.Suspecting', ['adoptEpoch', 'grantVote'], { epoch: 6, votedEpoch: 6, primaryId: null }],
  [F, heard, forcedReq(6, true), 'Follower.Suspecting', ['adoptEpoch', 'refuseVote'], { epoch: 6, votedEpoch: 4, primaryId: null }],
  [F, { ...heard, votedEpoch: 6 }, forcedReq(6), 'Follower.Suspecting', ['adoptEpoch', 'refuseVote'], { epoch: 6, votedEpoch: 6 }],
  [F, heard, failover, 'PreCandidate', ['requestPreVotes'], { epoch: 5, preVoteEpoch: 6, primaryId: null }],
  [F, heard, preReq(6), 'Follower.Following', ['answerPreVote'], { epoch: 5, votedEpoch: 4, primaryId: 'n2' }],
];

for (const [from, context, event, to, effects, after] of rows) {
  test(`${show(from)} + ${name(event)} ${JSON.stringify(event).slice(0, 70)} -> ${to}`, () => {
    const step = promotionTransition(at(from, context), event);
    assertStep(step, to, effects, after);
  });
}

test('refusals and grants carry the reason and the epochs the shell replies with', () => {
  const reasons = (value: PromotionSnapshot['value'], patch: Partial<PromotionContext>, event: Ev) =>
    promotionTransition(at(value, patch), event).effects.map((e) => JSON.stringify(e.params)).join(' ');
  assert.is(reasons(S, {}, req(4)), '{"candidateId":"n3","epoch":4,"reason":"staleEpoch","currentEpoch":5}');
  assert.is(reasons(S, { votedEpoch: 5 }, req(5)), '{"candidateId":"n3","epoch":5,"reason":"alreadyVoted","currentEpoch":5}');
  assert.is(reasons(S, {}, req(5, true)), '{"candidateId":"n3","epoch":5,"reason":"logBehind","currentEpoch":5}');
  assert.is(reasons(F, heard, req(6)), '{"candidateId":"n3","epoch":6,"reason":"primaryLive","currentEpoch":5}');
  assert.is(reasons(F, heard, req(4)), '{"candidateId":"n3","epoch":4,"reason":"staleEpoch","currentEpoch":5}');
  assert.is(reasons(S, {}, req(6)), '{"epoch":6} {"candidateId":"n3","epoch":6}');
  assert.is(reasons(S, {}, hb('n2', 4)), '{"from":"n2","epoch":4,"currentEpoch":5}');
  assert.is(reasons(F, heard, promote(false)), '{"primaryId":"n2","reason":"primaryLive"}');
  assert.is(reasons(S, {}, promote(true)), '{"epoch":6,"force":true}');
  assert.is(reasons(F, heard, forcedReq(6, true)), '{"epoch":6} {"candidateId":"n3","epoch":6,"reason":"logBehind","currentEpoch":6}');
  // Pre-votes: granted exactly when the real vote could be; nothing recorded either way.
  assert.is(reasons(S, {}, preReq(6)), '{"candidateId":"n3","epoch":6,"granted":true,"currentEpoch":5}');
  assert.is(reasons(S, { votedEpoch: 5 }, preReq(6)), '{"candidateId":"n3","epoch":6,"granted":true,"currentEpoch":5}');
  assert.is(reasons(S, {}, preReq(5)), '{"candidateId":"n3","epoch":5,"granted":false,"currentEpoch":5}');
  assert.is(reasons(S, {}, preReq(6, true)), '{"candidateId":"n3","epoch":6,"granted":false,"currentEpoch":5}');
  assert.is(reasons(F, heard, preReq(6)), '{"candidateId":"n3","epoch":6,"granted":false,"currentEpoch":5}');
  assert.is(reasons(F, heard, preReq(6, false, T + 1400)), '{"candidateId":"n3","epoch":6,"granted":true,"currentEpoch":5}');
});

test('an accepted heartbeat or a granted vote re-arms the failover timer; a higher epoch or a refusal does not', () => {
  const timers = (value: PromotionSnapshot['value'], patch: Partial<PromotionContext>, event: Ev) =>
    promotionTransition(at(value, patch), event).timers.map((t) => `${name({ type: t.event } as Ev)} ${t.delayMs}`);
  assert.equal(timers(S, {}, hb('n2', 5)), ['failoverTimeout 1875']);
  assert.equal(timers(F, heard, { type: 'heartbeat', from: 'n2', epoch: 5, nowMs: T, jitter: 0 }), ['failoverTimeout 1500']);
  assert.equal(timers(S, {}, { ...(req(6) as object), jitter: 0.2 } as Ev), ['failoverTimeout 1650']);
  assert.equal(timers(F, heard, higher(6)), []);
  assert.equal(timers(S, {}, req(5, true)), []);
  assert.equal(timers(F, heard, req(6)), []);
  assert.equal(timers(S, {}, hb('n2', 4)), []);
});

test('a follower ignores quorum reports, stale or current vote and pre-vote replies and epochs, and the other timers', () => {
  for (const [value, patch] of [[S, {}], [F, heard]] as const) {
    for (const event of [contact, reply(5, true), reply(4, false), preReply(6, true), preReply(9, false), higher(5), higher(3), { type: PROMOTION_TIMERS.electionRound }, { type: PROMOTION_TIMERS.preVoteRound }, { type: PROMOTION_TIMERS.lease }] as Ev[]) {
      const before = at(value, patch);
      const step = promotionTransition(before, event);
      assert.equal(step.snapshot.value, before.value, `${show(value)} + ${event.type}`);
      assert.equal(step.effects, []);
      assert.equal(step.timers, []);
      assert.equal(step.snapshot.context, before.context);
    }
  }
});

test('start: a follower, or the bootstrap primary of a new cluster at epoch 1; a restart is always a follower', () => {
  const input = { nodeId: 'n1', clusterSize: 3, epoch: 0, votedEpoch: 0, jitter: 0 } as const;
  const follower = initialPromotionStep(input);
  assert.is(follower.state, 'Follower.Suspecting');
  assert.equal(follower.effects, []);
  assert.equal(follower.timers, [{ event: PROMOTION_TIMERS.failoverTimeout, delayMs: 1500 }]);
  assert.equal({ ...follower.snapshot.context, config: null }, {
    nodeId: 'n1', clusterSize: 3, config: null, initialRole: 'follower', epoch: 0, votedEpoch: 0, primaryId: null,
    votes: [], preVoteEpoch: 0, preVotes: [], lastJitter: 0, lastHeardMs: null, lastQuorumMs: null, steppedDown: null, forcing: false,
    handoverTo: null, handoverTimeoutMs: 0, handoverSent: false, handoverFrom: null,
  });
  const boot = initialPromotionStep({ ...input, initialRole: 'primary' });
  assert.is(boot.state, 'Primary.Leading');
  assert.is(promotionRole(boot.snapshot), 'Primary');
  assert.equal(boot.effects, [{ type: 'becomePrimary', params: { epoch: 1, forced: false, via: 'bootstrap' } }]);
  assert.equal(boot.timers, [{ event: PROMOTION_TIMERS.lease, delayMs: 1000 }]);
  assert.equal([boot.snapshot.context.epoch, boot.snapshot.context.votedEpoch, boot.snapshot.context.primaryId], [1, 1, 'n1']);
  assert.is(initialPromotionStep({ ...input, initialRole: 'primary', epoch: 1, votedEpoch: 1 }).state, 'Follower.Suspecting');
  assert.is(initialPromotionStep({ ...input, initialRole: 'primary', epoch: 3 }).state, 'Follower.Suspecting');
});

test('the follower rows take every targeted transition of Starting and Follower', () => {
  const nodes = [promotionMachine.root.states.Follower!, ...Object.values(promotionMachine.root.states.Follower!.states)];
  // handover.request is covered in promotionHandover.test.ts
  assert.equal(transitionsNotTaken(rows, nodes, (type) => type !== 'handover.request').missing, []);
});

test.run();
