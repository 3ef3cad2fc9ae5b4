// The promotion machine as real actors on xstate's SimulatedClock, with
// recording fakes for every named action: the failover, election-round and
// lease timers fire exactly at their simulated time and are re-armed or
// dropped as the state changes; a partitioned old primary loses its lease
// before any follower can time out and win; bad inputs are refused.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SimulatedClock, createActor } from 'xstate';
import { isReplicationError } from '../../src/errors.js';
import {
  PROMOTION_EFFECTS,
  acceptsWrites,
  initialPromotion,
  promotionMachine,
  promotionState,
  resolvePromotionConfig,
  type PromotionEvent,
  type PromotionInput,
} from '../../src/machines/index.js';

/** A started actor; `log` records `time name params` for every effect; `on` adds a reaction to an effect. */
function node(input: Partial<PromotionInput>, clock = new SimulatedClock(), on: Record<string, (params: never) => void> = {}) {
  const log: string[] = [];
  const record = (name: string) => (_: unknown, params: unknown) => {
    log.push(`${clock.now()} ${name} ${JSON.stringify(params)}`);
    on[name]?.(params as never);
  };
  const actions = Object.fromEntries([...PROMOTION_EFFECTS].map((name) => [name, record(name)]));
  const full = { nodeId: 'n1', clusterSize: 3, epoch: 0, votedEpoch: 0, jitter: 0, ...input };
  const actor = createActor(promotionMachine.provide({ actions }), { input: full, clock });
  actor.subscribe({ error: (err) => assert.unreachable(String(err)) });
  actor.start();
  const state = () => promotionState(actor.getSnapshot());
  const send = (event: PromotionEvent) => actor.send(event);
  const names = () => log.map((line) => line.split(' ').slice(0, 2).join(' '));
  return { actor, clock, log, names, state, send };
}
const hb = (nowMs: number, jitter: number, from = 'n2', epoch = 1): PromotionEvent => ({ type: 'heartbeat', from, epoch, nowMs, jitter });

test('the failover timeout fires failoverTimeoutMs * (1 + ratio * jitter) after the last heartbeat, then rounds follow', () => {
  const n = node({ jitter: 0.2 });
  n.clock.set(1649);
  assert.is(n.state(), 'Follower.Suspecting');
  n.send(hb(1649, 0));
  n.clock.set(3148);
  assert.is(n.state(), 'Follower.Following', '1 ms before 1649 + 1500');
  n.send(hb(3148, 1 / 3)); // re-armed: 1500 * (1 + 0.5 / 3) = 1750
  n.clock.set(4897);
  assert.is(n.state(), 'Follower.Following');
  n.clock.set(4898);
  assert.is(n.state(), 'PreCandidate', 'asks before it stands');
  n.clock.set(4898 + 1167); // a new pre-vote round after 1000 * (1 + 0.5 / 3), rounded; no epoch is claimed
  assert.is(n.actor.getSnapshot().context.epoch, 1);
  n.send({ type: 'prevote.reply', from: 'n3', epoch: 2, granted: true });
  assert.is(n.state(), 'Candidate');
  n.clock.set(6065 + 1166);
  assert.is(n.actor.getSnapshot().context.epoch, 2);
  n.clock.set(6065 + 1167);
  assert.is(n.actor.getSnapshot().context.epoch, 3);
  assert.equal(n.log, [
    '1649 adoptEpoch {"epoch":1}', '4898 requestPreVotes {"epoch":2}', '6065 requestPreVotes {"epoch":2}',
    '6065 startElection {"epoch":2,"force":false}', '7232 startElection {"epoch":3,"force":false}',
  ]);
  n.actor.stop();
});

test('a majority of votes wins the round; a heartbeat of the same epoch ends the candidacy', () => {
  const n = node({ clusterSize: 5 });
  n.clock.set(1500);
  n.send({ type: 'prevote.reply', from: 'n4', epoch: 2, granted: true });
  assert.is(n.state(), 'PreCandidate', 'two of five would vote for it: not yet');
  n.send({ type: 'prevote.reply', from: 'n5', epoch: 2, granted: true });
  assert.is(n.state(), 'Candidate');
  n.send({ type: 'vote.reply', from: 'n2', epoch: 2, granted: true });
  n.send({ type: 'vote.reply', from: 'n2', epoch: 2, granted: true });
  assert.is(n.state(), 'Candidate', 'a voter counts once');
  n.send({ type: 'vote.reply', from: 'n3', epoch: 2, granted: true });
  assert.is(n.state(), 'Primary.Leading');
  const m = node({ jitter: 0.5 });
  m.clock.set(1875);
  m.send({ type: 'prevote.reply', from: 'n2', epoch: 2, granted: true });
  m.send(hb(1900, 0, 'n3', 2));
  assert.is(m.state(), 'Follower.Following');
  m.clock.set(1900 + 1000 * 1.25 + 1);
  assert.equal(m.names(), ['1875 requestPreVotes', '1875 startElection', '1875 stepDown'], 'the round timer was dropped');
  // A heartbeat during the pre-vote simply ends it: nothing was claimed, nothing to step down from.
  const q = node({ jitter: 0.5 });
  q.clock.set(1875);
  q.send(hb(1900, 0, 'n3', 0));
  assert.is(q.state(), 'Follower.Following');
  q.clock.set(1900 + 1000 * 1.25 + 1);
  assert.equal(q.names(), ['1875 requestPreVotes'], 'no election, no step-down, the pre-vote round timer dropped');
  q.actor.stop();
  assert.is(m.actor.getSnapshot().context.primaryId, 'n3');
  n.actor.stop();
  m.actor.stop();
});

test('a Leading primary whose quorum contact stops reaches LeaseLost exactly leaseMs later, and regains it', () => {
  const p = node({ initialRole: 'primary' });
  for (const t of [300, 600, 900]) {
    p.clock.set(t);
    p.send({ type: 'quorum.contact', nowMs: t });
  }
  p.clock.set(1899);
  assert.ok(acceptsWrites(p.actor.getSnapshot()));
  p.clock.set(1900);
  assert.is(p.state(), 'Primary.LeaseLost');
  assert.not.ok(acceptsWrites(p.actor.getSnapshot()));
  p.clock.set(2500);
  p.send({ type: 'quorum.contact', nowMs: 2500 });
  p.clock.set(3499);
  assert.is(p.state(), 'Primary.Leading');
  p.clock.set(3500);
  assert.equal(p.log, [
    '0 becomePrimary {"epoch":1,"forced":false,"via":"bootstrap"}',
    '1900 leaseLost {"epoch":1,"lastContactMs":900}',
    '2500 leaseRegained {"epoch":1,"nowMs":2500}',
    '3500 leaseLost {"epoch":1,"lastContactMs":2500}',
  ]);
  p.actor.stop();
});

test('a partitioned old primary refuses writes before any follower can time out and win', () => {
  const clock = new SimulatedClock();
  const outbox: Array<() => void> = [];
  const ids = ['n1', 'n2', 'n3'] as const;
  const own = { ownLastEpoch: 1, ownLastLsn: 50 };
  const nodes: Record<string, ReturnType<typeof node>> = {};
  const on = (id: string) => ({
    startElection: ({ epoch }: { epoch: number }) => {
      for (const peer of ids.filter((x) => x !== id && x !== 'n1')) {
        outbox.push(() => nodes[peer]!.send({ type: 'vote.request', candidateId: id, epoch, lastEpoch: 1, lastLsn: 50, ...own, nowMs: clock.now() }));
      }
    },
    grantVote: ({ candidateId, epoch }: { candidateId: string; epoch: number }) =>
      outbox.push(() => nodes[candidateId]!.send({ type: 'vote.reply', from: id, epoch, granted: true })),
    requestPreVotes: ({ epoch }: { epoch: number }) => {
      for (const peer of ids.filter((x) => x !== id && x !== 'n1')) {
        outbox.push(() => nodes[peer]!.send({ type: 'prevote.request', candidateId: id, epoch, lastEpoch: 1, lastLsn: 50, ...own, nowMs: clock.now() }));
      }
    },
    answerPreVote: ({ candidateId, epoch, granted }: { candidateId: string; epoch: number; granted: boolean }) =>
      outbox.push(() => nodes[candidateId]!.send({ type: 'prevote.reply', from: id, epoch, granted })),
  });
  nodes.n1 = node({ nodeId: 'n1', initialRole: 'primary' }, clock);
  nodes.n2 = node({ nodeId: 'n2', jitter: 0.9 }, clock, on('n2'));
  nodes.n3 = node({ nodeId: 'n3', jitter: 0.9 }, clock, on('n3'));
  const ackDelayMs = 20;
  // n1 heartbeats every 100 ms; n2 draws jitter 0 (the minimal failover timeout), n3 0.9; acks return after 20 ms.
  for (let t = 0; t <= 1000; t += 100) {
    clock.set(t);
    nodes.n2.send(hb(t, 0, 'n1'));
    nodes.n3.send(hb(t, 0.9, 'n1'));
    clock.set(t + ackDelayMs);
    nodes.n1.send({ type: 'quorum.contact', nowMs: t + ackDelayMs });
  }
  // Partition n1 from t = 1000: nothing reaches it, nothing from it arrives.
  const stepTo = (t: number) => {
    clock.set(t);
    while (outbox.length > 0) outbox.shift()!();
  };
  for (let t = 1021; t <= 4000; t++) {
    stepTo(t);
    if (promotionState(nodes.n2.actor.getSnapshot()) === 'Primary.Leading') assert.not.ok(acceptsWrites(nodes.n1.actor.getSnapshot()), `two writable primaries at ${t}`);
  }
  const at = (n: ReturnType<typeof node>, name: string) => Number(n.log.find((l) => l.split(' ')[1] === name)?.split(' ')[0]);
  assert.is(at(nodes.n1, 'leaseLost'), 1000 + ackDelayMs + 1000);
  assert.is(at(nodes.n2, 'startElection'), 1000 + 1500);
  assert.is(at(nodes.n2, 'becomePrimary'), 2500);
  assert.ok(at(nodes.n1, 'leaseLost') < at(nodes.n2, 'startElection'));
  assert.is(nodes.n3.log.find((l) => l.includes('grantVote')), '2500 grantVote {"candidateId":"n2","epoch":2}');
  assert.is(promotionState(nodes.n1.actor.getSnapshot()), 'Primary.LeaseLost', 'still the primary of epoch 1 until it hears epoch 2');
  for (const n of Object.values(nodes)) n.actor.stop();
});

test('bad inputs are refused with InvalidConfig; defaults fill the rest', () => {
  const ok = { nodeId: 'n1', clusterSize: 3, epoch: 4, votedEpoch: 4 };
  const bad: PromotionInput[] = [
    { ...ok, leaseMs: 1500 },
    { ...ok, leaseMs: 2000, failoverTimeoutMs: 1999 },
    { ...ok, clusterSize: 0 },
    { ...ok, clusterSize: 2.5 },
    { ...ok, nodeId: '' },
    { ...ok, votedEpoch: 5 },
    { ...ok, epoch: -1 },
    { ...ok, jitter: 1 },
    { ...ok, electionJitterRatio: -0.1 },
    { ...ok, electionRoundMs: 0 },
    { ...ok, initialRole: 'leader' as never },
  ];
  for (const input of bad) {
    assert.throws(() => resolvePromotionConfig(input), (err: unknown) => isReplicationError(err, 'InvalidConfig'), JSON.stringify(input));
    assert.throws(() => initialPromotion(input), (err: unknown) => isReplicationError(err, 'InvalidConfig'));
  }
  assert.equal({ ...resolvePromotionConfig(ok) }, { failoverTimeoutMs: 1500, electionJitterRatio: 0.5, electionRoundMs: 1000, leaseMs: 1000 });
  assert.is(resolvePromotionConfig({ ...ok, leaseMs: 200, failoverTimeoutMs: 300 }).leaseMs, 200);
});

test.run();
