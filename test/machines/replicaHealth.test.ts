// The replica health machine as a table: from state + context, event ->
// next state, effects and context. Pure: xstate's transition() via
// healthTransition, nothing executed. Boundaries use the defaults:
// laggingLagMs 100, degradedLagMs 1000, severeLagMs 5000, recoverRatio 0.8
// (recover below 80 / 800 / 4000), graceMs 500, failuresToFail 3.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { StateValue } from 'xstate';
import {
  healthTransition,
  initialHealth,
  replicaHealthMachine,
  type ReplicaHealthContext,
  type ReplicaHealthEffect,
  type ReplicaHealthEvent,
  type ReplicaHealthSnapshot,
} from '../../src/machines/index.js';

const NOW = 10_000;
const lag = (lagMs: number): ReplicaHealthEvent => ({ type: 'lag.sample', lagMs, lagEntries: lagMs * 10, nowMs: NOW });
const failure: ReplicaHealthEvent = { type: 'failure', reason: 'timeout', nowMs: NOW };
const connected: ReplicaHealthEvent = { type: 'connected', nowMs: NOW };
const success: ReplicaHealthEvent = { type: 'success' };

const open = { graceSinceMs: NOW - 499 }; // grace window not yet elapsed
const held = { graceSinceMs: NOW - 500 }; // grace window just elapsed
const started = { graceSinceMs: NOW }; // window starts with this sample
const cleared = { graceSinceMs: null };

function toValue(path: string): StateValue {
  const [top, sub] = path.split('.') as [string, string | undefined];
  return sub === undefined ? top : { [top]: sub };
}
function at(path: string, patch: Partial<ReplicaHealthContext>): ReplicaHealthSnapshot {
  const base = initialHealth({ nowMs: 0 });
  return replicaHealthMachine.resolveState({ value: toValue(path), context: { ...base.context, ...patch } });
}
function pathOf(snapshot: ReplicaHealthSnapshot): string {
  const v = snapshot.value;
  return typeof v === 'string' ? v : Object.entries(v).map(([k, s]) => `${k}.${String(s)}`)[0]!;
}
function show(effect: ReplicaHealthEffect): string {
  return effect.type === 'notifyStatusChange'
    ? `notify ${effect.params.from}->${effect.params.to}`
    : `alert ${effect.params.level}`;
}

type Row = [from: string, context: Partial<ReplicaHealthContext>, event: ReplicaHealthEvent, to: string, effects: string[], after?: Partial<ReplicaHealthContext>];

// prettier-ignore
const rows: Row[] = [
  // Healthy
  ['Healthy', {}, lag(0), 'Healthy', [], cleared],
  ['Healthy', open, lag(99), 'Healthy', [], cleared],
  ['Healthy', {}, lag(100), 'Healthy', [], started],
  ['Healthy', open, lag(100), 'Healthy', [], open],
  ['Healthy', held, lag(100), 'Lagging', ['notify Healthy->Lagging'], { graceSinceMs: null, since: NOW, lastLagMs: 100 }],
  ['Healthy', {}, lag(999), 'Healthy', [], started],
  ['Healthy', {}, lag(1000), 'Degraded.Moderate', ['notify Healthy->Degraded', 'alert degraded'], { since: NOW }],
  ['Healthy', {}, lag(4999), 'Degraded.Moderate', ['notify Healthy->Degraded', 'alert degraded']],
  ['Healthy', {}, lag(5000), 'Degraded.Severe', ['notify Healthy->Degraded', 'alert severe']],
  ['Healthy', {}, failure, 'Healthy', [], { consecutiveFailures: 1, lastFailure: 'timeout' }],
  ['Healthy', { consecutiveFailures: 1 }, failure, 'Healthy', [], { consecutiveFailures: 2 }],
  ['Healthy', { consecutiveFailures: 2 }, failure, 'Failed.Disconnected', ['notify Healthy->Failed'], { consecutiveFailures: 3, since: NOW }],
  ['Healthy', { consecutiveFailures: 2 }, success, 'Healthy', [], { consecutiveFailures: 0 }],
  ['Healthy', { consecutiveFailures: 2 }, connected, 'Healthy', [], { consecutiveFailures: 0 }],
  // Lagging
  ['Lagging', open, lag(500), 'Lagging', [], cleared],
  ['Lagging', open, lag(80), 'Lagging', [], cleared],
  ['Lagging', {}, lag(79), 'Lagging', [], started],
  ['Lagging', open, lag(79), 'Lagging', [], open],
  ['Lagging', held, lag(79), 'Healthy', ['notify Lagging->Healthy'], cleared],
  ['Lagging', held, lag(0), 'Healthy', ['notify Lagging->Healthy']],
  ['Lagging', held, lag(999), 'Lagging', [], cleared],
  ['Lagging', {}, lag(1000), 'Degraded.Moderate', ['notify Lagging->Degraded', 'alert degraded']],
  ['Lagging', {}, lag(5000), 'Degraded.Severe', ['notify Lagging->Degraded', 'alert severe']],
  ['Lagging', {}, failure, 'Lagging', [], { consecutiveFailures: 1 }],
  ['Lagging', { consecutiveFailures: 2 }, failure, 'Failed.Disconnected', ['notify Lagging->Failed']],
  ['Lagging', { consecutiveFailures: 2 }, success, 'Lagging', [], { consecutiveFailures: 0 }],
  ['Lagging', { consecutiveFailures: 2 }, connected, 'Lagging', [], { consecutiveFailures: 0 }],
  // Degraded.Moderate
  ['Degraded.Moderate', open, lag(1000), 'Degraded.Moderate', [], cleared],
  ['Degraded.Moderate', open, lag(800), 'Degraded.Moderate', [], cleared],
  ['Degraded.Moderate', {}, lag(799), 'Degraded.Moderate', [], started],
  ['Degraded.Moderate', open, lag(799), 'Degraded.Moderate', [], open],
  ['Degraded.Moderate', held, lag(799), 'Lagging', ['notify Degraded->Lagging'], cleared],
  ['Degraded.Moderate', held, lag(0), 'Lagging', ['notify Degraded->Lagging']],
  ['Degraded.Moderate', {}, lag(4999), 'Degraded.Moderate', [], cleared],
  ['Degraded.Moderate', { since: 7 }, lag(5000), 'Degraded.Severe', ['alert severe'], { since: 7, graceSinceMs: null }],
  ['Degraded.Moderate', {}, failure, 'Degraded.Moderate', [], { consecutiveFailures: 1 }],
  ['Degraded.Moderate', { consecutiveFailures: 2 }, failure, 'Failed.Disconnected', ['notify Degraded->Failed']],
  ['Degraded.Moderate', { consecutiveFailures: 2 }, success, 'Degraded.Moderate', [], { consecutiveFailures: 0 }],
  ['Degraded.Moderate', { consecutiveFailures: 1 }, connected, 'Degraded.Moderate', [], { consecutiveFailures: 0 }],
  // Degraded.Severe
  ['Degraded.Severe', open, lag(9000), 'Degraded.Severe', [], cleared],
  ['Degraded.Severe', open, lag(4000), 'Degraded.Severe', [], cleared],
  ['Degraded.Severe', {}, lag(3999), 'Degraded.Severe', [], started],
  ['Degraded.Severe', open, lag(3999), 'Degraded.Severe', [], open],
  ['Degraded.Severe', held, lag(3999), 'Degraded.Moderate', [], cleared],
  ['Degraded.Severe', held, lag(0), 'Degraded.Moderate', []], // one level per grace window
  ['Degraded.Severe', {}, failure, 'Degraded.Severe', [], { consecutiveFailures: 1 }],
  ['Degraded.Severe', { consecutiveFailures: 2 }, failure, 'Failed.Disconnected', ['notify Degraded->Failed']],
  ['Degraded.Severe', { consecutiveFailures: 2 }, success, 'Degraded.Severe', [], { consecutiveFailures: 0 }],
  ['Degraded.Severe', { consecutiveFailures: 2 }, connected, 'Degraded.Severe', [], { consecutiveFailures: 0 }],
  // Failed.Disconnected
  ['Failed.Disconnected', { consecutiveFailures: 3 }, lag(0), 'Failed.Disconnected', [], { lastLagMs: 0, consecutiveFailures: 3 }],
  ['Failed.Disconnected', { consecutiveFailures: 3 }, lag(9000), 'Failed.Disconnected', [], { lastLagMs: 9000 }],
  ['Failed.Disconnected', { consecutiveFailures: 3 }, failure, 'Failed.Disconnected', [], { consecutiveFailures: 4 }],
  ['Failed.Disconnected', { consecutiveFailures: 3 }, success, 'Failed.Disconnected', [], { consecutiveFailures: 0 }],
  ['Failed.Disconnected', { consecutiveFailures: 3, since: 7 }, connected, 'Failed.Reconnected', [], { consecutiveFailures: 0, since: 7 }],
  // Failed.Reconnected
  ['Failed.Reconnected', {}, lag(0), 'Healthy', ['notify Failed->Healthy'], { since: NOW }],
  ['Failed.Reconnected', {}, lag(99), 'Healthy', ['notify Failed->Healthy']],
  ['Failed.Reconnected', {}, lag(100), 'Lagging', ['notify Failed->Lagging']],
  ['Failed.Reconnected', {}, lag(999), 'Lagging', ['notify Failed->Lagging']],
  ['Failed.Reconnected', {}, lag(1000), 'Degraded.Moderate', ['notify Failed->Degraded', 'alert degraded']],
  ['Failed.Reconnected', {}, lag(5000), 'Degraded.Severe', ['notify Failed->Degraded', 'alert severe']],
  ['Failed.Reconnected', {}, failure, 'Failed.Disconnected', [], { consecutiveFailures: 1 }],
  ['Failed.Reconnected', {}, connected, 'Failed.Reconnected', [], { consecutiveFailures: 0 }],
  ['Failed.Reconnected', { consecutiveFailures: 1 }, success, 'Failed.Reconnected', [], { consecutiveFailures: 0 }],
];

for (const [from, context, event, to, effects, after] of rows) {
  const what = event.type === 'lag.sample' ? `lag ${event.lagMs}` : event.type;
  test(`${from} ${JSON.stringify(context)} + ${what} -> ${to} ${effects.join(', ')}`, () => {
    const step = healthTransition(at(from, context), event);
    assert.is(pathOf(step.snapshot), to);
    assert.is(step.status, to.split('.')[0]);
    assert.equal(step.effects.map(show), effects);
    for (const [key, value] of Object.entries(after ?? {})) {
      assert.equal(step.snapshot.context[key as keyof ReplicaHealthContext], value, key);
    }
  });
}

test('the table starts from every leaf state with every event type', () => {
  const leaves = ['Healthy', 'Lagging', 'Degraded.Moderate', 'Degraded.Severe', 'Failed.Disconnected', 'Failed.Reconnected'];
  for (const leaf of leaves) {
    const types = new Set(rows.filter((r) => r[0] === leaf).map((r) => r[2].type));
    assert.equal([...types].sort(), ['connected', 'failure', 'lag.sample', 'success'], leaf);
  }
});

test('the table takes every targeted transition the machine defines', () => {
  const taken = new Set(rows.map(([from, , event, to]) => `${from}|${event.type}|${to}`));
  const nodes = [replicaHealthMachine.root];
  for (const node of nodes) {
    nodes.push(...(Object.values(node.states) as typeof nodes));
    for (const t of [...node.transitions.values()].flat()) {
      for (const target of t.target ?? []) {
        const to = target.type === 'compound' ? `${target.key}.${target.initial.target[0]!.key}` : target.path.join('.');
        const hit = [...taken].some((k) => {
          const [from, type, dest] = k.split('|') as [string, string, string];
          return from.startsWith(node.path.join('.')) && type === t.eventType && dest === to;
        });
        assert.ok(hit, `no row for ${node.path.join('.')} --${t.eventType}--> ${to}`);
      }
    }
  }
});

test('the initial state is Healthy, since input.nowMs, no failures', () => {
  const s = initialHealth({ nowMs: 42 });
  assert.is(s.value, 'Healthy');
  assert.is(s.context.since, 42);
  assert.is(s.context.consecutiveFailures, 0);
  assert.is(s.context.graceSinceMs, null);
});

test.run();
