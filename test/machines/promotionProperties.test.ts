// Property tests (fast-check) over random event sequences of ONE promotion
// machine: epochs and votes only grow, a vote is granted only when every
// condition holds, the context always agrees with the state, and every
// lease runs out before the earliest failover timeout of a follower that
// acknowledged the primary (leaseMs < failoverTimeoutMs). Failing runs print
// fast-check's seed and path; replay with fc.assert(prop, { seed, path }).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import {
  PROMOTION_TIMERS,
  acceptsWrites,
  initialPromotion,
  initialPromotionStep,
  majorityOf,
  promotionState,
  promotionTransition,
  type PromotionEvent,
  type PromotionInput,
  type PromotionSnapshot,
  type PromotionTimerEvent,
} from '../../src/machines/index.js';

type Ev = PromotionEvent | PromotionTimerEvent;
const jitter = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });
const epoch = fc.integer({ min: 0, max: 8 });
const small = fc.integer({ min: 0, max: 5 });
const now = fc.integer({ min: 0, max: 20_000 });
const peer = fc.constantFrom('n2', 'n3', 'n4', 'n5');

const event: fc.Arbitrary<Ev> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ type: fc.constant('heartbeat' as const), from: peer, epoch, nowMs: now, jitter }) },
  { weight: 8, arbitrary: fc.record({ type: fc.constant('vote.request' as const), candidateId: peer, epoch, lastEpoch: small, lastLsn: small, ownLastEpoch: small, ownLastLsn: small, nowMs: now }) },
  { weight: 4, arbitrary: fc.record({ type: fc.constant('prevote.request' as const), candidateId: peer, epoch, lastEpoch: small, lastLsn: small, ownLastEpoch: small, ownLastLsn: small, nowMs: now }) },
  { weight: 6, arbitrary: fc.record({ type: fc.constant('prevote.reply' as const), from: fc.constantFrom('n1', 'n2', 'n3', 'n4', 'n5'), epoch, granted: fc.boolean() }) },
  { weight: 8, arbitrary: fc.record({ type: fc.constant('vote.reply' as const), from: fc.constantFrom('n1', 'n2', 'n3', 'n4', 'n5'), epoch, granted: fc.boolean(), jitter }) },
  { weight: 4, arbitrary: fc.record({ type: fc.constant('quorum.contact' as const), nowMs: now }) },
  { weight: 2, arbitrary: fc.record({ type: fc.constant('promote' as const), force: fc.boolean(), nowMs: now }) },
  { weight: 2, arbitrary: fc.record({ type: fc.constant('epoch.higher' as const), epoch, from: peer }) },
  { weight: 5, arbitrary: fc.constantFrom<Ev>(...Object.values(PROMOTION_TIMERS).map((type) => ({ type }))) },
);
const input: fc.Arbitrary<PromotionInput> = fc
  .record({ clusterSize: fc.integer({ min: 1, max: 5 }), epoch, voted: epoch, primary: fc.boolean(), jitter })
  .map(({ clusterSize, epoch: e, voted, primary, jitter: j }) => ({
    nodeId: 'n1', clusterSize, epoch: Math.max(e, voted), votedEpoch: Math.min(e, voted), initialRole: primary ? 'primary' : 'follower', jitter: j,
  }));
const runs = fc.tuple(input, fc.array(event, { maxLength: 120, size: 'large' }));

/** Every step of a run: the snapshot before, the event, and the pure step. */
function* steps(start: PromotionInput, events: readonly Ev[]) {
  let s: PromotionSnapshot = initialPromotion(start);
  for (const e of events) {
    const r = promotionTransition(s, e);
    yield { before: s, event: e, r };
    s = r.snapshot;
  }
}

test('the generated runs reach every state', () => {
  const seen = new Set<string>();
  for (const [start, events] of fc.sample(runs, { numRuns: 200, seed: 5 })) for (const { r } of steps(start, events)) seen.add(r.state);
  assert.equal([...seen].sort(), ['Candidate', 'Follower.Following', 'Follower.Suspecting', 'PreCandidate', 'Primary.Leading', 'Primary.LeaseLost']);
});

test('epoch and votedEpoch never decrease, votedEpoch <= epoch, and adoptEpoch always names the new, higher epoch', () => {
  fc.assert(
    fc.property(runs, ([start, events]) => {
      for (const { before, r } of steps(start, events)) {
        const [b, a] = [before.context, r.snapshot.context];
        if (a.epoch < b.epoch || a.votedEpoch < b.votedEpoch || a.votedEpoch > a.epoch) return false;
        for (const e of r.effects) if (e.type === 'adoptEpoch' && !(e.params.epoch > b.epoch && e.params.epoch === a.epoch)) return false;
      }
      return true;
    }),
  );
});

test('a vote is granted only for a new epoch, a log at least as complete, without a live primary and never while Leading', () => {
  fc.assert(
    fc.property(runs, ([start, events]) => {
      const voted = new Set<number>();
      for (const { before, event: e, r } of steps(start, events)) {
        for (const x of r.effects) if (x.type === 'startElection' || x.type === 'becomePrimary') voted.add(x.params.epoch);
        const grant = r.effects.find((x) => x.type === 'grantVote');
        if (!grant) continue;
        if (e.type !== 'vote.request' || voted.has(e.epoch)) return false;
        voted.add(e.epoch);
        const c = before.context;
        const logOk = e.lastEpoch > e.ownLastEpoch || (e.lastEpoch === e.ownLastEpoch && e.lastLsn >= e.ownLastLsn);
        const live = promotionState(before) === 'Follower.Following' && e.nowMs - (c.lastHeardMs ?? -Infinity) < c.config.failoverTimeoutMs;
        if (!logOk || live || e.epoch <= c.votedEpoch || e.epoch < c.epoch || promotionState(before) === 'Primary.Leading') return false;
        if (r.snapshot.context.votedEpoch !== e.epoch || r.state !== 'Follower.Suspecting') return false;
      }
      return true;
    }),
  );
});

test('a pre-vote is granted only for a higher epoch and a log at least as complete, never by a Leading primary or a follower hearing its primary; it changes no epoch or vote', () => {
  fc.assert(
    fc.property(runs, ([start, events]) => {
      for (const { before, event: e, r } of steps(start, events)) {
        if (e.type !== 'prevote.request') continue;
        const answer = r.effects.find((x) => x.type === 'answerPreVote');
        if (answer?.type !== 'answerPreVote' || r.effects.length !== 1) return false;
        const c = before.context;
        if (r.snapshot.context.epoch !== c.epoch || r.snapshot.context.votedEpoch !== c.votedEpoch || r.state !== promotionState(before)) return false;
        if (!answer.params.granted) continue;
        const logOk = e.lastEpoch > e.ownLastEpoch || (e.lastEpoch === e.ownLastEpoch && e.lastLsn >= e.ownLastLsn);
        const live = promotionState(before) === 'Follower.Following' && e.nowMs - (c.lastHeardMs ?? -Infinity) < c.config.failoverTimeoutMs;
        if (!logOk || live || e.epoch <= c.epoch || promotionState(before) === 'Primary.Leading') return false;
      }
      return true;
    }),
  );
});

test('the context agrees with the state; an election is won only with a majority of distinct votes', () => {
  fc.assert(
    fc.property(runs, ([start, events]) => {
      for (const { before, r } of steps(start, events)) {
        const c = r.snapshot.context;
        const role = r.state.split('.')[0];
        if (acceptsWrites(r.snapshot) !== (r.state === 'Primary.Leading')) return false;
        if (role === 'Primary' && (c.primaryId !== 'n1' || c.votedEpoch !== c.epoch)) return false;
        if (role === 'Candidate' && (c.primaryId !== null || c.votedEpoch !== c.epoch || c.votes[0] !== 'n1' || c.votes.length >= majorityOf(c.clusterSize))) return false;
        if (role === 'PreCandidate' && (c.primaryId !== null || c.preVoteEpoch <= c.epoch || c.preVotes[0] !== 'n1' || c.preVotes.length >= majorityOf(c.clusterSize))) return false;
        if (role === 'Follower' && (c.primaryId !== null) !== (r.state === 'Follower.Following')) return false;
        if (c.epoch === 1 && role === 'Candidate') return false; // epoch 1 is the bootstrap primary's
        const won = r.effects.find((x) => x.type === 'becomePrimary');
        if (won?.params.via === 'election' && (new Set(c.votes).size !== c.votes.length || c.votes.length < majorityOf(c.clusterSize))) return false;
        const from = promotionState(before).split('.')[0];
        const leftLead = (from === 'Candidate' || from === 'Primary') && role === 'Follower'; // a pre-candidate claimed nothing
        if (leftLead !== r.effects.some((x) => x.type === 'stepDown')) return false;
      }
      return true;
    }),
  );
});

test('timing: the lease runs out strictly before the earliest failover timeout of a follower that acknowledged the primary', () => {
  const timings = fc
    .record({ failoverTimeoutMs: fc.integer({ min: 2, max: 60_000 }), leaseFraction: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), ratio: fc.double({ min: 0, max: 2, noNaN: true }), j: jitter, delay: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }) })
    .map(({ failoverTimeoutMs, leaseFraction, ratio, j, delay }) => {
      const leaseMs = Math.max(1, Math.floor(failoverTimeoutMs * leaseFraction));
      // The follower acked a heartbeat at 0; the primary saw the majority (quorum.contact) ackDelayMs later.
      return { failoverTimeoutMs, leaseMs, ratio, j, ackDelayMs: Math.floor((failoverTimeoutMs - leaseMs) * delay) };
    })
    .filter((t) => t.leaseMs < t.failoverTimeoutMs);
  fc.assert(
    fc.property(timings, ({ failoverTimeoutMs, leaseMs, ratio, j, ackDelayMs }) => {
      const config = { clusterSize: 3, epoch: 0, votedEpoch: 0, failoverTimeoutMs, leaseMs, electionJitterRatio: ratio, electionRoundMs: 1000 };
      const follower = initialPromotion({ ...config, nodeId: 'n2' });
      const heard = promotionTransition(follower, { type: 'heartbeat', from: 'n1', epoch: 1, nowMs: 0, jitter: j });
      const primary = initialPromotionStep({ ...config, nodeId: 'n1', initialRole: 'primary' }).snapshot;
      const contact = promotionTransition(primary, { type: 'quorum.contact', nowMs: ackDelayMs });
      const failoverAt = heard.timers[0]!.delayMs;
      const leaseLostAt = ackDelayMs + contact.timers[0]!.delayMs;
      assert.ok(failoverAt >= failoverTimeoutMs, 'the minimal follower timeout is failoverTimeoutMs');
      assert.ok(leaseLostAt < failoverAt, `lease lost at ${leaseLostAt}, failover at ${failoverAt}`);
      // And until its timer fires, the follower refuses every candidate: the primary is live for it.
      const vote = promotionTransition(heard.snapshot, { type: 'vote.request', candidateId: 'n3', epoch: 2, lastEpoch: 9, lastLsn: 9, ownLastEpoch: 0, ownLastLsn: 0, nowMs: leaseLostAt });
      assert.is(vote.effects[0]?.type, 'refuseVote');
    }),
  );
});

test.run();
