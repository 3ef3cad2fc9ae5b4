// Consecutive failures, the Failed -> reconnect -> catch-up path, the named
// actions fired by a real actor, and input validation.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { createActor } from 'xstate';
import { isReplicationError } from '../../src/errors.js';
import {
  defaultReplicaHealthThresholds,
  healthStatus,
  healthTransition,
  initialHealth,
  isSevere,
  replicaHealthMachine,
  resolveReplicaHealthThresholds,
  type LagAlert,
  type ReplicaHealthEvent,
  type ReplicaHealthInput,
  type StatusChange,
} from '../../src/machines/index.js';

const fail = (nowMs: number, reason = 'connect'): ReplicaHealthEvent => ({ type: 'failure', reason, nowMs });
const lag = (lagMs: number, nowMs: number): ReplicaHealthEvent => ({ type: 'lag.sample', lagMs, lagEntries: lagMs * 10, nowMs });

function statuses(events: ReplicaHealthEvent[], input: ReplicaHealthInput = {}): string[] {
  let s = initialHealth(input);
  return events.map((e) => {
    const r = healthTransition(s, e);
    s = r.snapshot;
    return r.status;
  });
}

/** A real actor with recording fakes for the named actions. */
function recorded(input: ReplicaHealthInput = {}) {
  const changes: StatusChange[] = [];
  const alerts: LagAlert[] = [];
  const machine = replicaHealthMachine.provide({
    actions: {
      notifyStatusChange: (_, change: StatusChange) => void changes.push(change),
      raiseLagAlert: (_, alert: LagAlert) => void alerts.push(alert),
    },
  });
  const actor = createActor(machine, { input });
  actor.subscribe({ error: (err) => assert.unreachable(String(err)) });
  actor.start();
  return { actor, changes, alerts };
}

test('2 failures: not Failed; 3 consecutive: Failed', () => {
  assert.equal(statuses([fail(1), fail(2)]), ['Healthy', 'Healthy']);
  assert.equal(statuses([fail(1), fail(2), fail(3, 'timeout')]).at(-1), 'Failed');
});

test('a success or a handshake in between resets the count', () => {
  const success: ReplicaHealthEvent = { type: 'success' };
  const connected: ReplicaHealthEvent = { type: 'connected', nowMs: 3 };
  assert.is(statuses([fail(1), fail(2), success, fail(4), fail(5)]).at(-1), 'Healthy');
  assert.is(statuses([fail(1), fail(2), connected, fail(4), fail(5)]).at(-1), 'Healthy');
  assert.is(statuses([fail(1), fail(2), success, fail(4), fail(5), fail(6)]).at(-1), 'Failed');
});

test('lag samples (ticks) do not reset the failure count', () => {
  assert.is(statuses([fail(1), lag(0, 2), fail(3), lag(0, 4), fail(5)]).at(-1), 'Failed');
});

test('failuresToFail is an input', () => {
  assert.is(statuses([fail(1)], { failuresToFail: 1 }).at(-1), 'Failed');
  assert.is(statuses([fail(1), fail(2), fail(3), fail(4)], { failuresToFail: 5 }).at(-1), 'Healthy');
  assert.is(statuses([fail(1), fail(2), fail(3), fail(4), fail(5)], { failuresToFail: 5 }).at(-1), 'Failed');
});

test('Failed recovers through reconnect -> catch-up', () => {
  const { actor, changes, alerts } = recorded({ nowMs: 0 });
  for (const t of [10, 20, 30]) actor.send(fail(t, 'timeout'));
  assert.equal(actor.getSnapshot().value, { Failed: 'Disconnected' });
  actor.send(lag(9000, 40)); // ticks while down: recorded, still Failed
  assert.is(actor.getSnapshot().context.lastLagMs, 9000);
  actor.send({ type: 'connected', nowMs: 50 });
  assert.equal(actor.getSnapshot().value, { Failed: 'Reconnected' }, 'a handshake alone does not leave Failed');
  assert.is(actor.getSnapshot().context.consecutiveFailures, 0);
  actor.send(lag(2500, 60)); // catching up, 2.5 s behind
  assert.equal(actor.getSnapshot().value, { Degraded: 'Moderate' });
  actor.send(lag(500, 100));
  actor.send(lag(400, 600)); // below 800 for graceMs
  assert.is(healthStatus(actor.getSnapshot()), 'Lagging');
  actor.send(lag(10, 700));
  actor.send(lag(5, 1200));
  assert.is(healthStatus(actor.getSnapshot()), 'Healthy');
  assert.equal(
    changes.map((c) => [c.from, c.to, c.nowMs]),
    [['Healthy', 'Failed', 30], ['Failed', 'Degraded', 60], ['Degraded', 'Lagging', 600], ['Lagging', 'Healthy', 1200]],
  );
  assert.is(changes[0]!.reason, '3 consecutive failures (last: timeout)');
  assert.is(changes[0]!.consecutiveFailures, 3);
  assert.is(changes[1]!.reason, 'reconnected with lag 2500 ms');
  assert.equal(alerts, [{ level: 'degraded', lagMs: 2500, lagEntries: 25_000, thresholdMs: 1000, nowMs: 60 }]);
  actor.stop();
});

test('a failure during catch-up goes back to Failed.Disconnected', () => {
  const { actor, changes } = recorded();
  for (const t of [1, 2, 3]) actor.send(fail(t));
  actor.send({ type: 'connected', nowMs: 4 });
  actor.send(fail(5, 'protocol'));
  assert.equal(actor.getSnapshot().value, { Failed: 'Disconnected' });
  assert.is(actor.getSnapshot().context.lastFailure, 'protocol');
  assert.is(changes.length, 1, 'no status change inside Failed');
  actor.stop();
});

test('the named actions fire with their params: status change, degraded and severe alerts', () => {
  const { actor, changes, alerts } = recorded({ nowMs: 0 });
  actor.send(lag(1200, 100));
  actor.send(lag(6000, 200));
  assert.ok(isSevere(actor.getSnapshot()));
  assert.equal(changes, [
    { from: 'Healthy', to: 'Degraded', reason: 'lag 1200 ms >= degradedLagMs 1000', nowMs: 100, lagMs: 1200, lagEntries: 12_000, consecutiveFailures: 0 },
  ]);
  assert.equal(alerts, [
    { level: 'degraded', lagMs: 1200, lagEntries: 12_000, thresholdMs: 1000, nowMs: 100 },
    { level: 'severe', lagMs: 6000, lagEntries: 60_000, thresholdMs: 5000, nowMs: 200 },
  ]);
  assert.is(actor.getSnapshot().context.since, 100, 'since is the time the status was entered');
  actor.stop();
});

test('the status follows a reference model of failures (fast-check)', () => {
  const event = fc.constantFrom<ReplicaHealthEvent>(
    fail(1),
    { type: 'success' },
    { type: 'connected', nowMs: 1 },
    lag(0, 1),
  );
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 4 }), fc.array(event, { maxLength: 60 }), (limit, events) => {
      let count = 0;
      let failed = false;
      let reconnected = false;
      const model = events.map((e) => {
        if (e.type === 'failure') {
          count++;
          reconnected = false;
          if (count >= limit) failed = true;
        } else if (e.type === 'success') count = 0;
        else if (e.type === 'connected') {
          count = 0;
          reconnected = failed;
        } else if (failed && reconnected) failed = false;
        return failed ? 'Failed' : 'Healthy';
      });
      assert.equal(statuses(events, { failuresToFail: limit }), model);
    }),
  );
});

test('inconsistent thresholds are refused with InvalidConfig', () => {
  for (const bad of [{ laggingLagMs: 0 }, { degradedLagMs: 50 }, { severeLagMs: 900 }, { recoverRatio: 1.5 }, { graceMs: -1 }, { failuresToFail: 0 }]) {
    assert.throws(() => resolveReplicaHealthThresholds(bad), (err: unknown) => isReplicationError(err, 'InvalidConfig'), JSON.stringify(bad));
    assert.throws(() => initialHealth(bad), (err: unknown) => isReplicationError(err, 'InvalidConfig'), JSON.stringify(bad));
  }
  const errors: unknown[] = [];
  const actor = createActor(replicaHealthMachine, { input: { recoverRatio: 0 } });
  actor.subscribe({ error: (err) => void errors.push(err) });
  actor.start();
  assert.ok(isReplicationError(errors[0], 'InvalidConfig'), 'a started actor reports it to its error observer');
  assert.equal(resolveReplicaHealthThresholds({ graceMs: 250 }), { ...defaultReplicaHealthThresholds, graceMs: 250 });
});

test.run();
