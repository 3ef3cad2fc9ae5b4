// The promotion machine's pre-vote, as a table: a follower whose failover
// timer fires becomes a PreCandidate, asks whether peers would vote for it in
// the next epoch without claiming that epoch, and stands (Candidate) only with
// a majority of yeses. Pure: xstate's transition() via promotionTransition.
// Node n1 of 3 at epoch 5, voted in 4, asking about epoch 6; its log ends at
// (epoch 3, LSN 40). Also: how Candidate and Primary answer pre-votes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  PROMOTION_TIMERS,
  initialPromotion,
  promotionMachine,
  promotionTransition,
  type PromotionContext,
  type PromotionSnapshot,
} from '../../src/machines/index.js';
import { type Ev, assertStep, T, hb, req, preReq, reply, preReply, higher, promote, name } from '../helpers/promotionEvents.js';

const preRound: Ev = { type: PROMOTION_TIMERS.preVoteRound };

function at(value: PromotionSnapshot['value'], patch: Partial<PromotionContext> = {}): PromotionSnapshot {
  const base = initialPromotion({ nodeId: 'n1', clusterSize: 3, epoch: 5, votedEpoch: 4 });
  return promotionMachine.resolveState({ value, context: { ...base.context, preVoteEpoch: 6, preVotes: ['n1'], ...patch } });
}
const P = 'PreCandidate' as const;
type Row = [context: Partial<PromotionContext>, event: Ev, to: string, effects: string[], after?: Partial<PromotionContext>];

// prettier-ignore
const rows: Row[] = [
  [{}, preReply(6, true), 'Candidate', ['startElection'], { epoch: 6, votedEpoch: 6, votes: ['n1'], preVotes: ['n1', 'n2'] }],
  [{}, preReply(5, false), P, [], { epoch: 5, preVotes: ['n1'] }],
  [{}, preReply(6, false), 'Follower.Suspecting', ['adoptEpoch'], { epoch: 6, votedEpoch: 4 }],
  [{}, preReply(5, true), P, [], { preVotes: ['n1'] }],
  [{}, preReply(6, true, 'n1'), P, [], { preVotes: ['n1'] }],
  [{ clusterSize: 5 }, preReply(6, true), P, [], { preVotes: ['n1', 'n2'], epoch: 5 }],
  [{}, preReply(8, false), 'Follower.Suspecting', ['adoptEpoch'], { epoch: 8, votedEpoch: 4 }],
  [{}, hb('n2', 5), 'Follower.Following', [], { primaryId: 'n2', lastHeardMs: T, epoch: 5 }],
  [{}, hb('n2', 7), 'Follower.Following', ['adoptEpoch'], { primaryId: 'n2', epoch: 7 }],
  [{}, hb('n2', 4), P, ['rejectStale'], { epoch: 5 }],
  [{}, req(6), 'Follower.Suspecting', ['adoptEpoch', 'grantVote'], { epoch: 6, votedEpoch: 6 }],
  [{}, req(5), 'Follower.Suspecting', ['grantVote'], { epoch: 5, votedEpoch: 5 }],
  [{}, req(6, true), 'Follower.Suspecting', ['adoptEpoch', 'refuseVote'], { epoch: 6, votedEpoch: 4 }],
  [{}, req(4), P, ['refuseVote'], { epoch: 5 }],
  [{}, preReq(6), P, ['answerPreVote'], { epoch: 5, votedEpoch: 4, preVotes: ['n1'] }],
  [{}, reply(7, false), 'Follower.Suspecting', ['adoptEpoch'], { epoch: 7 }],
  [{}, reply(5, true), P, [], { epoch: 5 }],
  [{}, higher(8), 'Follower.Suspecting', ['adoptEpoch'], { epoch: 8 }],
  [{}, higher(5), P, [], { epoch: 5 }],
  [{}, promote(false), 'Candidate', ['startElection'], { epoch: 6, votedEpoch: 6, votes: ['n1'] }],
  [{}, promote(true), 'Candidate', ['startElection'], { epoch: 6, votedEpoch: 6, votes: ['n1'], forcing: true }],
  [{ preVotes: ['n1', 'n3'], preVoteEpoch: 6 }, preRound, P, ['requestPreVotes'], { preVotes: ['n1'], preVoteEpoch: 6, epoch: 5 }],
  [{ epoch: 6, votedEpoch: 7 }, preRound, P, ['requestPreVotes'], { preVoteEpoch: 8, epoch: 6 }],
];

for (const [context, event, to, effects, after] of rows) {
  test(`PreCandidate + ${name(event)} ${JSON.stringify(event).slice(0, 60)} -> ${to}`, () => {
    const step = promotionTransition(at(P, context), event);
    assertStep(step, to, effects, after);
  });
}

test('a pre-vote round claims nothing: the epoch, the vote and the persisted state stay; only requestPreVotes goes out', () => {
  const step = promotionTransition(at({ Follower: 'Suspecting' }), { type: PROMOTION_TIMERS.failoverTimeout });
  assert.is(step.state, 'PreCandidate');
  assert.equal(step.effects, [{ type: 'requestPreVotes', params: { epoch: 6 } }]);
  assert.equal([step.snapshot.context.epoch, step.snapshot.context.votedEpoch], [5, 4]);
  assert.equal(step.timers.map((t) => `${name({ type: t.event } as Ev)} ${t.delayMs}`), ['electionRound 1250']);
});

test('pre-vote answers in every state: granted exactly when a real vote could be', () => {
  const answer = (value: PromotionSnapshot['value'], patch: Partial<PromotionContext>, event: Ev) => {
    const step = promotionTransition(at(value, patch), event);
    assert.equal(step.snapshot.value, at(value, patch).value, 'a pre-vote never changes the state');
    assert.equal(step.snapshot.context, at(value, patch).context, 'nor the context');
    const e = step.effects[0];
    return e?.type === 'answerPreVote' ? e.params.granted : 'none';
  };
  const C = 'Candidate' as const;
  const L = { Primary: 'Leading' } as const;
  const X = { Primary: 'LeaseLost' } as const;
  assert.is(answer(P, {}, preReq(6)), true);
  assert.is(answer(P, {}, preReq(6, true)), false, 'log behind');
  assert.is(answer(P, {}, preReq(5)), false, 'epoch not above');
  assert.is(answer(C, { epoch: 6, votedEpoch: 6 }, preReq(7)), true);
  assert.is(answer(C, { epoch: 6, votedEpoch: 6 }, preReq(6)), false);
  assert.is(answer(L, { epoch: 5, primaryId: 'n1' }, preReq(6)), false, 'a leading primary never says yes');
  assert.is(answer(X, { epoch: 5, primaryId: 'n1' }, preReq(6)), true, 'a primary without its lease does');
  assert.is(answer(X, { epoch: 5, primaryId: 'n1' }, preReq(6, true)), false);
});

test('the rows take every targeted transition of PreCandidate', () => {
  const taken = rows.map(([, event, to]) => [event.type, to] as const);
  const node = promotionMachine.getStateNodeById('promotion.PreCandidate');
  for (const t of [...node.transitions.values()].flat()) {
    for (const target of t.target ?? []) {
      const dest = target.path.join('.');
      assert.ok(taken.some(([type, to]) => type === t.eventType && to.startsWith(dest)), `no row for PreCandidate --${t.eventType}--> ${dest}`);
    }
  }
});

test.run();
