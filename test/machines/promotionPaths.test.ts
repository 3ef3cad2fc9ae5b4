// xstate/graph over the promotion machine: shortest paths with representative
// events (timers included as their xstate.after events) reach every state;
// each path is replayed through the pure transition() and against a real
// actor on a SimulatedClock, where a timer step is the clock reaching its
// delay, and both must agree on the final state and on the effects.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SimulatedClock, createActor } from 'xstate';
import { getShortestPaths } from 'xstate/graph';
import {
  PROMOTION_EFFECTS,
  PROMOTION_TIMERS,
  electionDelayMs,
  initialPromotion,
  promotionMachine,
  promotionState,
  promotionTransition,
  type PromotionContext,
  type PromotionEvent,
  type PromotionInput,
  type PromotionSnapshot,
  type PromotionTimerEvent,
} from '../../src/machines/index.js';

type Ev = PromotionEvent | PromotionTimerEvent;
const request = (epoch: number, lastLsn: number): Ev => ({
  type: 'vote.request', candidateId: 'n3', epoch, lastEpoch: 1, lastLsn, ownLastEpoch: 1, ownLastLsn: 10, nowMs: 5000, jitter: 0.4,
});
const events: Ev[] = [
  { type: 'heartbeat', from: 'n2', epoch: 2, nowMs: 100, jitter: 0.3 },
  { type: 'heartbeat', from: 'n2', epoch: 3, nowMs: 200, jitter: 0.6 },
  { type: 'heartbeat', from: 'n2', epoch: 1, nowMs: 300, jitter: 0.1 },
  request(3, 10),
  request(4, 9),
  { type: 'vote.reply', from: 'n2', epoch: 2, granted: true, jitter: 0.8 },
  { type: 'vote.reply', from: 'n3', epoch: 9, granted: false },
  { type: 'prevote.request', candidateId: 'n3', epoch: 3, lastEpoch: 1, lastLsn: 10, ownLastEpoch: 1, ownLastLsn: 10, nowMs: 5000 },
  { type: 'prevote.reply', from: 'n2', epoch: 1, granted: true },
  { type: 'prevote.reply', from: 'n3', epoch: 9, granted: false },
  { type: 'quorum.contact', nowMs: 400 },
  { type: 'promote', force: false, nowMs: 500, jitter: 0.2 },
  { type: 'promote', force: true, nowMs: 600 },
  { type: 'epoch.higher', epoch: 9, from: 'n2', jitter: 0.7 },
  { type: 'handover', to: 'n2', timeoutMs: 900, nowMs: 700 },
  { type: 'handover.request', from: 'n2', epoch: 2, nowMs: 800, jitter: 0.1 },
  { type: 'handover.sent' },
  { type: 'handover.ignored' },
  { type: PROMOTION_TIMERS.failoverTimeout },
  { type: PROMOTION_TIMERS.preVoteRound },
  { type: PROMOTION_TIMERS.electionRound },
  { type: PROMOTION_TIMERS.lease },
  { type: PROMOTION_TIMERS.handover },
];

const input: PromotionInput = { nodeId: 'n1', clusterSize: 3, epoch: 0, votedEpoch: 0, jitter: 0.5 };
const STATES = ['Follower.Following', 'Follower.Suspecting', 'PreCandidate', 'Candidate', 'Primary.Leading', 'Primary.HandingOver', 'Primary.LeaseLost'];
// A finite graph: the state, whether a primary is known, whether this node voted in its epoch, the epoch capped at 4.
const vertex = (s: PromotionSnapshot): string =>
  `${promotionState(s)} primary=${s.context.primaryId ?? '-'} voted=${s.context.votedEpoch === s.context.epoch} epoch=${Math.min(s.context.epoch, 4)}`;
const paths = getShortestPaths(promotionMachine, { events: events as PromotionEvent[], input, serializeState: vertex });
const stepsOf = (p: (typeof paths)[number]) => p.steps.slice(1).map((s) => s.event as Ev);
const describe = (e: { type: string; params?: unknown }) => `${e.type} ${JSON.stringify(e.params)}`;

test('shortest paths reach every state of the machine', () => {
  const reached = new Set(paths.map((p) => promotionState(p.state)));
  assert.equal([...reached].sort(), [...STATES].sort());
  assert.ok(paths.length >= 15, `only ${paths.length} vertices`);
});

test('the shortest paths are the expected event sequences', () => {
  const shortest = new Map<string, string>();
  for (const p of paths) {
    const k = promotionState(p.state);
    const steps = stepsOf(p).map((e) => (e.type.startsWith('xstate.after') ? e.type.split('.')[2]! : e.type));
    if (!shortest.has(k) || shortest.get(k)!.split(' ').length > steps.length) shortest.set(k, steps.join(' '));
  }
  assert.is(shortest.get('Follower.Suspecting'), '');
  assert.is(shortest.get('Follower.Following'), 'heartbeat');
  assert.is(shortest.get('PreCandidate'), 'failoverTimeout');
  assert.is(shortest.get('Candidate'), 'promote');
  assert.is(shortest.get('Primary.Leading'), 'promote vote.reply');
  assert.is(shortest.get('Primary.LeaseLost'), 'promote vote.reply lease');
  assert.is(shortest.get('Primary.HandingOver'), 'promote vote.reply handover');
});

test('every path replays through the pure transition() to its final state', () => {
  for (const p of paths) {
    let s = initialPromotion(input);
    for (const event of stepsOf(p)) s = promotionTransition(s, event).snapshot;
    assert.is(vertex(s), vertex(p.state));
  }
});

/** When the timer an event names fires, counted from the current state's entry. */
function delayOf(type: string, c: PromotionContext): number {
  if (type === PROMOTION_TIMERS.lease) return c.config.leaseMs;
  if (type === PROMOTION_TIMERS.handover) return c.handoverTimeoutMs;
  const base = type === PROMOTION_TIMERS.failoverTimeout ? c.config.failoverTimeoutMs : c.config.electionRoundMs;
  return electionDelayMs(base, c.config.electionJitterRatio, c.lastJitter);
}

test('every path replays against a real actor on a simulated clock with the same effects', () => {
  for (const p of paths) {
    const clock = new SimulatedClock();
    const seen: string[] = [];
    const actions = Object.fromEntries([...PROMOTION_EFFECTS].map((type) => [type, (_: unknown, params: unknown) => void seen.push(describe({ type, params }))]));
    const actor = createActor(promotionMachine.provide({ actions }), { input, clock });
    actor.subscribe({ error: (err) => assert.unreachable(String(err)) });
    actor.start();

    let pure = initialPromotion(input);
    const expected: string[] = [];
    for (const event of stepsOf(p)) {
      const r = promotionTransition(pure, event);
      if (event.type.startsWith('xstate.after.')) clock.set(clock.now() + delayOf(event.type, actor.getSnapshot().context));
      else actor.send(event as PromotionEvent);
      pure = r.snapshot;
      expected.push(...r.effects.map(describe));
    }
    assert.is(vertex(actor.getSnapshot()), vertex(p.state));
    assert.equal(seen, expected);
    actor.stop();
  }
});

test('on every edge of the graph, leaving Candidate or Primary for Follower runs stepDown, last, and nothing else does (a pre-candidate claimed nothing)', () => {
  let checked = 0;
  for (const p of paths) {
    for (const event of events) {
      const r = promotionTransition(p.state, event);
      const from = promotionState(p.state);
      const left = (from === 'Candidate' || from.startsWith('Primary')) && r.state.startsWith('Follower');
      assert.is(r.effects.some((e) => e.type === 'stepDown'), left, `${vertex(p.state)} + ${event.type}`);
      if (left) assert.is(r.effects.at(-1)?.type, 'stepDown');
      if (left) checked++;
    }
  }
  assert.ok(checked >= 20, `only ${checked} step-downs`);
});

test.run();
