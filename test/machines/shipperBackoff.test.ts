// Reconnect backoff (100 ms -> 1 s -> 10 s -> 60 s, jitter +/- 20%), the
// circuit after 3 consecutive failures, the reset on a successful handshake,
// StaleEpoch -> stepDown, and input validation. Pure: shipperTransition.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { isReplicationError } from '../../src/errors.js';
import {
  SHIPPER_TIMERS,
  backoffDelayMs,
  initialShipper,
  resolveShipperConfig,
  shipperTransition,
  type FailureReport,
  type ShipperEvent,
  type ShipperInput,
  type ShipperSnapshot,
  type ShipperTimerEvent,
} from '../../src/machines/index.js';

const BACKOFF = { type: SHIPPER_TIMERS.backoff } as const;
const failed = (jitter: number, nowMs = 0): ShipperEvent => ({ type: 'connection.failed', reason: 'connect', message: 'ECONNREFUSED', jitter, nowMs });
const accepted: ShipperEvent = { type: 'hello.accepted', replicaFlushedLsn: 0, logFirstLsn: 1, primaryLsn: 0, windowEntries: 100, nowMs: 0 };

function step(s: ShipperSnapshot, e: ShipperEvent | ShipperTimerEvent) {
  return shipperTransition(s, e);
}

interface Attempt {
  readonly delayMs: number;
  readonly report: FailureReport;
  readonly timerMs: number | undefined;
}

/** From Idle: start, then `jitters.length` connect failures, each followed by the backoff timer. */
function failures(jitters: number[], input: Partial<ShipperInput> = {}, from?: ShipperSnapshot): { attempts: Attempt[]; last: ShipperSnapshot } {
  let s = from ?? step(initialShipper({ replicaId: 'r1', ...input }), { type: 'start' }).snapshot;
  const attempts: Attempt[] = [];
  for (const jitter of jitters) {
    const r = step(s, failed(jitter));
    assert.is(r.state, 'Backoff');
    const report = r.effects.find((e) => e.type === 'reportFailure');
    assert.ok(report && report.type === 'reportFailure');
    attempts.push({ delayMs: r.snapshot.context.backoffDelayMs, report: report.params, timerMs: r.timers[0]?.delayMs });
    const back = step(r.snapshot, BACKOFF);
    assert.is(back.state, 'Connecting');
    s = back.snapshot;
  }
  return { attempts, last: s };
}

test('the schedule without jitter: 100 ms -> 1 s -> 10 s -> 60 s, then 60 s again', () => {
  const { attempts } = failures([0.5, 0.5, 0.5, 0.5, 0.5, 0.5]);
  assert.equal(attempts.map((a) => a.delayMs), [100, 1000, 10_000, 60_000, 60_000, 60_000]);
  assert.equal(attempts.map((a) => a.timerMs), [100, 1000, 10_000, 60_000, 60_000, 60_000], 'the backoff timer uses the delay');
  assert.equal(attempts.map((a) => a.report.backoffDelayMs), [100, 1000, 10_000, 60_000, 60_000, 60_000]);
});

test('jitter 0 and 0.999 stay within +/- 20% of each step, at the edges of the band', () => {
  const bases = [100, 1000, 10_000, 60_000, 60_000];
  const low = failures([0, 0, 0, 0, 0]).attempts.map((a) => a.delayMs);
  const high = failures([0.999, 0.999, 0.999, 0.999, 0.999]).attempts.map((a) => a.delayMs);
  assert.equal(low, [80, 800, 8000, 48_000, 48_000]);
  bases.forEach((base, i) => {
    assert.ok(high[i]! <= base * 1.2 && high[i]! > base * 1.19, `step ${i}: ${high[i]}`);
    assert.ok(low[i]! >= base * 0.8);
  });
});

test('the circuit opens at the third consecutive failure and stays open while retrying', () => {
  const { attempts, last } = failures([0.1, 0.2, 0.3, 0.4, 0.5]);
  assert.equal(attempts.map((a) => a.report.consecutiveFailures), [1, 2, 3, 4, 5]);
  assert.equal(attempts.map((a) => a.report.circuitOpen), [false, false, true, true, true]);
  assert.is(last.value, 'Connecting', 'an open circuit still retries');
  assert.is(last.context.circuitOpen, true);
  assert.is(last.context.backoffStep, 3, 'the step is capped at the last entry');
});

test('failuresToOpenCircuit and backoffScheduleMs are inputs', () => {
  assert.equal(failures([0.5], { failuresToOpenCircuit: 1 }).attempts.map((a) => a.report.circuitOpen), [true]);
  const five = failures([0.5, 0.5, 0.5, 0.5, 0.5], { failuresToOpenCircuit: 5 }).attempts;
  assert.equal(five.map((a) => a.report.circuitOpen), [false, false, false, false, true]);
  const custom = failures([0.5, 0, 0.5], { backoffScheduleMs: [7, 50], jitterRatio: 0.5 }).attempts;
  assert.equal(custom.map((a) => a.delayMs), [7, 25, 50]);
});

test('a successful handshake closes the circuit and restarts the schedule', () => {
  const { last } = failures([0.5, 0.5, 0.5, 0.5]);
  const opened = step(last, { type: 'connection.opened', nowMs: 1, jitter: 0.5 }).snapshot;
  const connected = step(opened, accepted);
  assert.is(connected.state, 'Streaming');
  assert.equal(connected.effects.find((e) => e.type === 'reportConnected')?.params, { replicaId: 'r1', nowMs: 0, replicaFlushedLsn: 0, primaryLsn: 0 });
  assert.is(connected.snapshot.context.circuitOpen, false);
  const again = failures([0.5, 0.5], {}, connected.snapshot).attempts;
  assert.equal(again.map((a) => [a.delayMs, a.report.consecutiveFailures, a.report.circuitOpen]), [[100, 1, false], [1000, 2, false]]);
});

test('a handshake timeout backs off with the jitter drawn at connection.opened', () => {
  const connecting = step(initialShipper({ replicaId: 'r1' }), { type: 'start' }).snapshot;
  const opened = step(connecting, { type: 'connection.opened', nowMs: 40, jitter: 0 });
  assert.equal(opened.timers, [{ event: SHIPPER_TIMERS.handshakeTimeout, delayMs: 5000 }]);
  const timedOut = step(opened.snapshot, { type: SHIPPER_TIMERS.handshakeTimeout });
  assert.is(timedOut.state, 'Backoff');
  assert.equal(timedOut.timers, [{ event: SHIPPER_TIMERS.backoff, delayMs: 80 }]);
  const report = timedOut.effects[0];
  assert.equal(report, {
    type: 'reportFailure',
    params: { replicaId: 'r1', reason: 'timeout', message: 'no HELLO_ACK within 5000 ms', nowMs: 5040, consecutiveFailures: 1, circuitOpen: false, backoffDelayMs: 80 },
  });
});

test('StaleEpoch stops the shipper and asks the node to step down, without counting a failure', () => {
  const connecting = step(initialShipper({ replicaId: 'r1' }), { type: 'start' }).snapshot;
  const hs = step(connecting, { type: 'connection.opened', nowMs: 0, jitter: 0.5 }).snapshot;
  const r = step(hs, { type: 'hello.rejected', code: 'StaleEpoch', message: 'epoch 2 < 3', jitter: 0.5, nowMs: 9 });
  assert.is(r.state, 'Stopped');
  assert.is(r.snapshot.status, 'done');
  assert.equal(r.effects, [
    { type: 'stepDown', params: { replicaId: 'r1', code: 'StaleEpoch', message: 'epoch 2 < 3' } },
    { type: 'closeConnection', params: { replicaId: 'r1' } },
  ]);
  assert.is(r.snapshot.context.consecutiveFailures, 0);
  assert.equal(r.timers, [], 'no reconnect is scheduled');
});

test('backoffDelayMs clamps the step and the jitter', () => {
  assert.is(backoffDelayMs([100, 1000], -3, 0.2, 0.5), 100);
  assert.is(backoffDelayMs([100, 1000], 99, 0.2, 0.5), 1000);
  assert.is(backoffDelayMs([100], 0, 0.2, 7), 120);
  assert.is(backoffDelayMs([100], 0, 0.2, -1), 80);
  assert.is(backoffDelayMs([100], 0, 0.2, Number.NaN), 100);
  assert.is(backoffDelayMs([100], 0, 0, 0.9), 100);
});

test('bad inputs are refused with InvalidConfig', () => {
  const bad: ShipperInput[] = [
    { replicaId: '' },
    { replicaId: 'r1', handshakeTimeoutMs: 0 },
    { replicaId: 'r1', backoffScheduleMs: [] },
    { replicaId: 'r1', backoffScheduleMs: [100, -1] },
    { replicaId: 'r1', jitterRatio: 1 },
    { replicaId: 'r1', jitterRatio: -0.1 },
    { replicaId: 'r1', failuresToOpenCircuit: 0 },
    { replicaId: 'r1', failuresToOpenCircuit: 2.5 },
    { replicaId: 'r1', fallBehindWindows: 0.5 },
  ];
  for (const input of bad) {
    assert.throws(() => resolveShipperConfig(input), (err: unknown) => isReplicationError(err, 'InvalidConfig'), JSON.stringify(input));
    assert.throws(() => initialShipper(input), (err: unknown) => isReplicationError(err, 'InvalidConfig'));
  }
  assert.equal(resolveShipperConfig({ replicaId: 'r1' }).backoffScheduleMs, [100, 1000, 10_000, 60_000]);
});

test.run();
