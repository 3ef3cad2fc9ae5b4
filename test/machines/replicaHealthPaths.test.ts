// xstate/graph over the replica health machine: shortest paths with
// representative events reach every state; each path is replayed through the
// pure transition() and against a real actor with fake actions provided, and
// both must agree on the final state and on the effects.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createActor } from 'xstate';
import { getShortestPaths } from 'xstate/graph';
import {
  healthTransition,
  initialHealth,
  replicaHealthMachine,
  type LagAlert,
  type ReplicaHealthEvent,
  type ReplicaHealthSnapshot,
  type StatusChange,
} from '../../src/machines/index.js';

// Two sample times 1000 ms apart, so a grace window (500 ms) can elapse
// between two events of the fixed list.
const lag = (lagMs: number, nowMs: number): ReplicaHealthEvent => ({ type: 'lag.sample', lagMs, lagEntries: lagMs, nowMs });
const events: ReplicaHealthEvent[] = [
  lag(0, 1000),
  lag(0, 2000),
  lag(150, 1000),
  lag(150, 2000),
  lag(1500, 1000),
  lag(900, 2000),
  lag(700, 1000),
  lag(700, 2000),
  lag(6000, 1000),
  lag(3000, 1000),
  lag(3000, 2000),
  { type: 'failure', reason: 'timeout', nowMs: 1000 },
  { type: 'failure', reason: 'connect', nowMs: 2000 },
  { type: 'connected', nowMs: 2000 },
  { type: 'success' },
];

const key = (s: ReplicaHealthSnapshot): string => JSON.stringify(s.value);
// Finite graph: the state, when the grace window opened, and the failure
// count capped at the limit (snapshots that differ only in `since` or
// `lastReason` are one vertex).
const vertex = (s: ReplicaHealthSnapshot): string =>
  `${key(s)} grace=${String(s.context.graceSinceMs)} failures=${Math.min(s.context.consecutiveFailures, 3)}`;
const paths = getShortestPaths(replicaHealthMachine, { events, input: { nowMs: 0 }, serializeState: vertex });

const leaves = [
  '"Healthy"',
  '"Lagging"',
  '{"Degraded":"Moderate"}',
  '{"Degraded":"Severe"}',
  '{"Failed":"Disconnected"}',
  '{"Failed":"Reconnected"}',
];

test('shortest paths reach every state of the machine', () => {
  const reached = new Set(paths.map((p) => key(p.state)));
  for (const leaf of leaves) assert.ok(reached.has(leaf), `not reached: ${leaf}`);
  assert.is(reached.size, leaves.length);
});

test('the shortest path to each status is the expected one', () => {
  const shortest = new Map<string, string[]>();
  for (const p of paths) {
    const steps = p.steps.slice(1).map((s) => (s.event.type === 'lag.sample' ? `lag ${s.event.lagMs}@${s.event.nowMs}` : s.event.type));
    const k = key(p.state);
    if (!shortest.has(k) || shortest.get(k)!.length > steps.length) shortest.set(k, steps);
  }
  assert.equal(shortest.get('"Healthy"'), []);
  assert.equal(shortest.get('"Lagging"'), ['lag 150@1000', 'lag 150@2000']);
  assert.equal(shortest.get('{"Degraded":"Moderate"}'), ['lag 1500@1000']);
  assert.equal(shortest.get('{"Degraded":"Severe"}'), ['lag 6000@1000']);
  assert.equal(shortest.get('{"Failed":"Disconnected"}'), ['failure', 'failure', 'failure']);
  assert.equal(shortest.get('{"Failed":"Reconnected"}'), ['failure', 'failure', 'failure', 'connected']);
});

test('every path replays through the pure transition() to its final state', () => {
  for (const p of paths) {
    let s = initialHealth({ nowMs: 0 });
    for (const step of p.steps.slice(1)) s = healthTransition(s, step.event).snapshot;
    assert.equal(s.value, p.state.value);
    assert.is(vertex(s), vertex(p.state));
  }
});

test('every path replays against a real actor with the same effects as the pure run', () => {
  for (const p of paths) {
    const seen: string[] = [];
    const machine = replicaHealthMachine.provide({
      actions: {
        notifyStatusChange: (_, c: StatusChange) => void seen.push(`notify ${c.from}->${c.to}@${c.nowMs}`),
        raiseLagAlert: (_, a: LagAlert) => void seen.push(`alert ${a.level} ${a.lagMs}@${a.nowMs}`),
      },
    });
    const actor = createActor(machine, { input: { nowMs: 0 } });
    actor.subscribe({ error: (err) => assert.unreachable(String(err)) });
    actor.start();

    let pure = initialHealth({ nowMs: 0 });
    const expected: string[] = [];
    for (const step of p.steps.slice(1)) {
      actor.send(step.event);
      const r = healthTransition(pure, step.event);
      pure = r.snapshot;
      for (const e of r.effects) {
        expected.push(
          e.type === 'notifyStatusChange'
            ? `notify ${e.params.from}->${e.params.to}@${e.params.nowMs}`
            : `alert ${e.params.level} ${e.params.lagMs}@${e.params.nowMs}`,
        );
      }
    }
    assert.equal(actor.getSnapshot().value, p.state.value);
    assert.equal(seen, expected);
    actor.stop();
  }
});

test('a status change notifies once per top-level change along every path', () => {
  for (const p of paths) {
    let s = initialHealth({ nowMs: 0 });
    for (const step of p.steps.slice(1)) {
      const r = healthTransition(s, step.event);
      const before = typeof s.value === 'string' ? s.value : Object.keys(s.value)[0];
      const notes = r.effects.filter((e) => e.type === 'notifyStatusChange');
      assert.is(notes.length, before === r.status ? 0 : 1);
      s = r.snapshot;
    }
  }
});

test.run();
