// Simulation (fast-check) of a 3- or 5-node cluster of pure promotion
// machines exchanging heartbeats, pre-votes, vote requests and replies over a network
// that delays, reorders, duplicates and drops, with timers firing at any
// moment (an asynchronous model: safety must not depend on timing). Each
// node has a log of record epochs; a follower that accepts a heartbeat takes
// the primary's log as sent (truncating a divergent tail). Checked on every
// step: at most one primary per epoch, one vote per node and epoch, never a
// vote for a less complete log, and every elected primary's log at least as
// complete as a majority's. Failing runs print fast-check's seed and path;
// replay with fc.assert(prop, { seed, path }).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import {
  PROMOTION_TIMERS,
  initialPromotion,
  majorityOf,
  promotionState,
  promotionTransition,
  type PromotionEvent,
  type PromotionSnapshot,
  type PromotionTimerEvent,
} from '../../src/machines/index.js';

interface Node { readonly id: string; s: PromotionSnapshot; log: number[] }
type Msg =
  | { kind: 'hb'; from: string; to: string; epoch: number; log: number[] }
  | { kind: 'req'; from: string; to: string; epoch: number; lastEpoch: number; lastLsn: number }
  | { kind: 'reply'; from: string; to: string; epoch: number; granted: boolean }
  | { kind: 'prereq'; from: string; to: string; epoch: number; lastEpoch: number; lastLsn: number }
  | { kind: 'prereply'; from: string; to: string; epoch: number; granted: boolean }
  | { kind: 'stale'; from: string; to: string; epoch: number };
type Op = 'timer' | 'deliver' | 'duplicate' | 'drop' | 'beat' | 'append' | 'contact' | 'promote' | 'tick';
type Cmd = readonly [op: Op, a: number, jitter: number];

/** (epoch of the last record, LSN) compared lexicographically. */
const pos = (log: readonly number[]): [number, number] => [log.at(-1) ?? 0, log.length];
const atLeast = (a: [number, number], b: [number, number]) => a[0] > b[0] || (a[0] === b[0] && a[1] >= b[1]);
const isPrefix = (p: readonly number[], l: readonly number[]) => p.length <= l.length && p.every((e, i) => l[i] === e);

/** A fresh cluster; every step throws (failing the property) on the first violated invariant. */
function cluster(size: number, bootstrap: boolean) {
  const ids = Array.from({ length: size }, (_, i) => `n${i + 1}`);
  const nodes = new Map<string, Node>(ids.map((id, i) => [id, {
    id, log: [], s: initialPromotion({ nodeId: id, clusterSize: size, epoch: 0, votedEpoch: 0, initialRole: bootstrap && i === 0 ? 'primary' : 'follower', jitter: 0.5 }),
  }]));
  const net: Msg[] = [];
  const primaries = new Map<number, string>(bootstrap ? [[1, 'n1']] : []);
  const votes = new Map<string, string>(bootstrap ? [['n1@1', 'n1']] : []); // voter@epoch -> candidate
  const grantedAt = new Map<string, [number, number]>(); // voter@epoch -> voter's log position when it voted
  let now = 0;

  const vote = (voter: string, epoch: number, candidate: string, position: [number, number]) => {
    const k = `${voter}@${epoch}`;
    if (votes.has(k)) throw new Error(`${voter} voted twice in epoch ${epoch}: ${votes.get(k)} and ${candidate}`);
    votes.set(k, candidate);
    grantedAt.set(k, position);
  };
  const step = (n: Node, event: PromotionEvent | PromotionTimerEvent, request?: Extract<Msg, { kind: 'req' }>) => {
    const r = promotionTransition(n.s, event);
    n.s = r.snapshot;
    for (const e of r.effects) {
      if (e.type === 'startElection') {
        vote(n.id, e.params.epoch, n.id, pos(n.log));
        const [lastEpoch, lastLsn] = pos(n.log);
        for (const to of ids) if (to !== n.id) net.push({ kind: 'req', from: n.id, to, epoch: e.params.epoch, lastEpoch, lastLsn });
      } else if (e.type === 'requestPreVotes') {
        const [lastEpoch, lastLsn] = pos(n.log);
        for (const to of ids) if (to !== n.id) net.push({ kind: 'prereq', from: n.id, to, epoch: e.params.epoch, lastEpoch, lastLsn });
      } else if (e.type === 'answerPreVote') {
        const { candidateId, granted, epoch, currentEpoch } = e.params;
        net.push({ kind: 'prereply', from: n.id, to: candidateId, epoch: granted ? epoch : currentEpoch, granted });
      } else if (e.type === 'grantVote' || e.type === 'refuseVote') {
        const granted = e.type === 'grantVote';
        if (granted) {
          if (!request || !atLeast([request.lastEpoch, request.lastLsn], pos(n.log))) throw new Error(`${n.id} voted for a less complete log`);
          vote(n.id, e.params.epoch, e.params.candidateId, pos(n.log));
        }
        net.push({ kind: 'reply', from: n.id, to: e.params.candidateId, epoch: n.s.context.epoch, granted });
      } else if (e.type === 'becomePrimary') {
        const { epoch, via } = e.params;
        if (primaries.has(epoch)) throw new Error(`two primaries in epoch ${epoch}: ${primaries.get(epoch)} and ${n.id}`);
        primaries.set(epoch, n.id);
        if (via !== 'election') throw new Error(`unexpected ${via} promotion`);
        const voters = n.s.context.votes;
        if (new Set(voters).size !== voters.length || voters.length < majorityOf(size)) throw new Error(`elected by ${voters.join(',')}`);
        for (const v of voters) {
          if (votes.get(`${v}@${epoch}`) !== n.id) throw new Error(`${v} did not vote for ${n.id} in ${epoch}`);
          if (!atLeast(pos(n.log), grantedAt.get(`${v}@${epoch}`)!)) throw new Error(`${n.id}'s log is behind voter ${v}'s`);
        }
      } else if (e.type === 'rejectStale') {
        net.push({ kind: 'stale', from: n.id, to: e.params.from, epoch: e.params.currentEpoch });
      }
    }
  };
  const deliver = (m: Msg, jitter: number) => {
    const n = nodes.get(m.to)!;
    if (m.kind === 'hb') {
      step(n, { type: 'heartbeat', from: m.from, epoch: m.epoch, nowMs: now, jitter });
      const c = n.s.context;
      if (promotionState(n.s) === 'Follower.Following' && c.primaryId === m.from && c.epoch === m.epoch && !isPrefix(m.log, n.log)) n.log = [...m.log];
    } else if (m.kind === 'req') {
      const [ownLastEpoch, ownLastLsn] = pos(n.log);
      step(n, { type: 'vote.request', candidateId: m.from, epoch: m.epoch, lastEpoch: m.lastEpoch, lastLsn: m.lastLsn, ownLastEpoch, ownLastLsn, nowMs: now, jitter }, m);
    } else if (m.kind === 'prereq') {
      const [ownLastEpoch, ownLastLsn] = pos(n.log);
      step(n, { type: 'prevote.request', candidateId: m.from, epoch: m.epoch, lastEpoch: m.lastEpoch, lastLsn: m.lastLsn, ownLastEpoch, ownLastLsn, nowMs: now });
    } else if (m.kind === 'prereply') step(n, { type: 'prevote.reply', from: m.from, epoch: m.epoch, granted: m.granted });
    else if (m.kind === 'reply') step(n, { type: 'vote.reply', from: m.from, epoch: m.epoch, granted: m.granted, jitter });
    else step(n, { type: 'epoch.higher', epoch: m.epoch, from: m.from, jitter });
  };

  const run = ([op, a, jitter]: Cmd) => {
    const n = nodes.get(ids[a % size]!)!;
    const state = promotionState(n.s);
    const primary = state.startsWith('Primary');
    if (op === 'tick') now += a % 2000;
    else if (op === 'deliver' || op === 'duplicate' || op === 'drop') {
      if (net.length === 0) return;
      const i = a % net.length;
      const m = net[i]!;
      if (op !== 'duplicate') net.splice(i, 1);
      if (op !== 'drop') deliver(m, jitter);
    } else if (op === 'timer') {
      const timer = state.startsWith('Follower') ? 'failoverTimeout' : state === 'PreCandidate' ? 'preVoteRound' : state === 'Candidate' ? 'electionRound' : state === 'Primary.Leading' ? 'lease' : null;
      if (timer) step(n, { type: PROMOTION_TIMERS[timer] });
    } else if (op === 'beat' && primary) {
      for (const to of ids) if (to !== n.id) net.push({ kind: 'hb', from: n.id, to, epoch: n.s.context.epoch, log: [...n.log] });
    } else if (op === 'append' && state === 'Primary.Leading') n.log.push(n.s.context.epoch);
    else if (op === 'contact' && primary) {
      const following = [...nodes.values()].filter((x) => x.s.context.primaryId === n.id && x.s.context.epoch === n.s.context.epoch);
      if (following.length >= majorityOf(size)) step(n, { type: 'quorum.contact', nowMs: now });
    } else if (op === 'promote') step(n, { type: 'promote', force: false, nowMs: now, jitter });
    const epochs = [...nodes.values()].filter((x) => promotionState(x.s).startsWith('Primary')).map((x) => x.s.context.epoch);
    if (new Set(epochs).size !== epochs.length) throw new Error(`two nodes are primary in one epoch: ${epochs.join(',')}`);
  };
  /** Delivers (or, when `drop` says so, drops) every message in flight, the ones they cause included. */
  const settle = (drop: (m: Msg) => boolean = () => false) => {
    for (let m = net.shift(); m; m = net.shift()) if (!drop(m)) deliver(m, 0.5);
  };
  return { nodes, net, primaries, run, settle, tick: (ms: number) => void (now += ms) };
}

function simulate(size: number, bootstrap: boolean, cmds: readonly Cmd[]) {
  const c = cluster(size, bootstrap);
  for (const cmd of cmds) c.run(cmd);
  return c;
}

const ops: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.constant('timer' as const) },
  { weight: 30, arbitrary: fc.constant('deliver' as const) },
  { weight: 2, arbitrary: fc.constant('duplicate' as const) },
  { weight: 3, arbitrary: fc.constant('drop' as const) },
  { weight: 6, arbitrary: fc.constant('beat' as const) },
  { weight: 4, arbitrary: fc.constant('append' as const) },
  { weight: 3, arbitrary: fc.constant('contact' as const) },
  { weight: 1, arbitrary: fc.constant('promote' as const) },
  { weight: 4, arbitrary: fc.constant('tick' as const) },
);
const cmd = fc.tuple(ops, fc.nat(10_000), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }));
const schedule = fc.array(cmd, { minLength: 50, maxLength: 400 });
const clusters = fc.tuple(fc.constantFrom(3, 5), fc.boolean(), schedule);

test('the generated schedules elect primaries in several epochs, with failovers and lease losses', () => {
  let elections = 0;
  let failovers = 0;
  for (const [size, bootstrap, cmds] of fc.sample(clusters, { numRuns: 60, seed: 11 })) {
    const { primaries } = simulate(size, bootstrap, cmds);
    elections += primaries.size;
    if (new Set(primaries.values()).size > 1) failovers++;
  }
  assert.ok(elections > 60, `only ${elections} elections`);
  assert.ok(failovers > 10, `only ${failovers} runs with a change of primary`);
});

test('safety: one primary per epoch, one vote per node and epoch, votes only for complete logs, elected logs cover a majority', () => {
  fc.assert(fc.property(clusters, ([size, bootstrap, cmds]) => void simulate(size, bootstrap, cmds)), { numRuns: 300 });
});

test('a partitioned primary is replaced at a higher epoch and, healed, steps down and drops its unreplicated tail', () => {
  const c = cluster(3, true);
  const [n1, n2, n3] = ['n1', 'n2', 'n3'].map((id) => c.nodes.get(id)!) as [Node, Node, Node];
  c.run(['append', 0, 0]);
  c.run(['append', 0, 0]);
  c.run(['beat', 0, 0]);
  c.settle();
  assert.equal([n2.log, n3.log, n2.s.context.primaryId], [[1, 1], [1, 1], 'n1']);
  c.run(['append', 0, 0]); // never replicated: n1 is cut off from here on
  c.tick(1500);
  c.run(['timer', 1, 0]); // n2 asks for pre-votes: n3 has not heard n1 for a failover timeout either, so the election follows
  c.settle((m) => m.to === 'n1' || m.from === 'n1');
  assert.equal([promotionState(n2.s), n2.s.context.epoch, n3.s.context.primaryId], ['Primary.Leading', 2, null]);
  c.run(['beat', 1, 0]);
  c.run(['append', 1, 0]);
  c.settle((m) => m.to === 'n1');
  c.run(['timer', 0, 0]); // n1's lease runs out
  assert.equal([promotionState(n1.s), promotionState(n3.s)], ['Primary.LeaseLost', 'Follower.Following']);
  c.run(['beat', 1, 0]); // the partition heals
  c.settle();
  assert.equal([promotionState(n1.s), n1.s.context.epoch, n1.s.context.primaryId], ['Follower.Following', 2, 'n2']);
  assert.equal([n1.log, n3.log], [[1, 1, 2], [1, 1, 2]]);
  assert.equal([...c.primaries], [[1, 'n1'], [2, 'n2']]);
});

test('a follower that stopped hearing a primary the others still hear cannot depose it: its pre-vote fails and claims no epoch', () => {
  const c = cluster(3, true);
  const [n1, n2, n3] = ['n1', 'n2', 'n3'].map((id) => c.nodes.get(id)!) as [Node, Node, Node];
  c.run(['beat', 0, 0]);
  c.settle();
  c.tick(1500);
  c.run(['beat', 0, 0]);
  c.settle((m) => m.to === 'n3'); // n3 was paused: n1's heartbeat never reached it
  c.run(['timer', 2, 0]);
  assert.is(promotionState(n3.s), 'PreCandidate');
  c.settle();
  assert.equal([promotionState(n1.s), n1.s.context.epoch, promotionState(n2.s), n2.s.context.epoch], ['Primary.Leading', 1, 'Follower.Following', 1]);
  assert.equal([promotionState(n3.s), n3.s.context.epoch, n3.s.context.votedEpoch], ['PreCandidate', 1, 0], 'no epoch claimed, no vote cast');
  c.run(['beat', 0, 0]); // resumed, it hears the primary again
  c.settle();
  assert.equal([promotionState(n3.s), n3.s.context.primaryId], ['Follower.Following', 'n1']);
  assert.equal([...c.primaries], [[1, 'n1']]);
});

test.run();
