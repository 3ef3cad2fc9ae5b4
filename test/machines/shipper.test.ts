// The shipper machine as a table: from state + context, event -> next state,
// effects (named actions, in order) and context. Pure: xstate's transition()
// via shipperTransition, nothing executed. Boundaries: window 100 entries;
// farBehind is primary - replica > 100; CatchingUp -> Streaming at
// primary - acked <= 100; Streaming -> CatchingUp at > 4 * 100.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  SHIPPER_TIMERS,
  initialShipper,
  shipperMachine,
  shipperTransition,
  type ShipperContext,
  type ShipperEvent,
  type ShipperSnapshot,
  type ShipperTimerEvent,
} from '../../src/machines/index.js';

type Ev = ShipperEvent | ShipperTimerEvent;
const T = 10_000;
const start: Ev = { type: 'start' };
const stop: Ev = { type: 'stop' };
const seen: Ev = { type: 'replica.seen' };
const opened: Ev = { type: 'connection.opened', nowMs: T, jitter: 0.5 };
const failed: Ev = { type: 'connection.failed', reason: 'connect', message: 'ECONNREFUSED', jitter: 0.5, nowMs: T };
const closed: Ev = { type: 'connection.closed', reason: 'closed', message: 'EOF', jitter: 0.5, nowMs: T };
const protocol: Ev = { type: 'protocol.error', code: 'ChecksumMismatch', message: 'bad ACK crc', jitter: 0.5, nowMs: T };
const rejected = (code: string): Ev => ({ type: 'hello.rejected', code, message: 'no', jitter: 0.5, nowMs: T });
const peerError = (code: string): Ev => ({ type: 'peer.error', code, message: 'no', jitter: 0.5, nowMs: T });
const accepted = (replicaFlushedLsn: number, logFirstLsn: number, primaryLsn: number): Ev => ({
  type: 'hello.accepted', replicaFlushedLsn, logFirstLsn, primaryLsn, windowEntries: 100, nowMs: T,
});
const progress = (ackedLsn: number, primaryLsn: number): Ev => ({ type: 'progress', ackedLsn, primaryLsn, windowEntries: 100 });
const sent: Ev = { type: 'snapshot.sent', snapshotLsn: 500 };
const handshakeTimeout: Ev = { type: SHIPPER_TIMERS.handshakeTimeout };
const backoffTimer: Ev = { type: SHIPPER_TIMERS.backoff };
const ALL: Ev[] = [start, stop, opened, failed, closed, protocol, rejected('ClusterMismatch'), peerError('LogGap'), accepted(0, 1, 0), progress(0, 0), sent, handshakeTimeout, backoffTimer];

function at(state: string, patch: Partial<ShipperContext> = {}): ShipperSnapshot {
  const base = initialShipper({ replicaId: 'r1' });
  return shipperMachine.resolveState({ value: state, context: { ...base.context, ...patch } });
}

const fail = ['reportFailure', 'closeConnection'];
type Row = [from: string, context: Partial<ShipperContext>, event: Ev, to: string, effects: string[], after?: Partial<ShipperContext>];

// prettier-ignore
const rows: Row[] = [
  ['Idle', {}, start, 'Connecting', ['openConnection']],
  ['Idle', {}, stop, 'Stopped', ['closeConnection']],
  ['Connecting', {}, opened, 'Handshaking', ['sendHello'], { openedAtMs: T, openedJitter: 0.5 }],
  ['Connecting', {}, failed, 'Backoff', fail, { consecutiveFailures: 1, lastFailure: { reason: 'connect', message: 'ECONNREFUSED', nowMs: T } }],
  ['Connecting', {}, closed, 'Backoff', fail, { consecutiveFailures: 1 }],
  ['Connecting', {}, protocol, 'Backoff', ['reportProtocolError', ...fail], { consecutiveFailures: 1 }],
  ['Connecting', {}, stop, 'Stopped', ['closeConnection']],
  // Handshaking: needsSnapshot is replicaFlushedLsn + 1 < logFirstLsn
  ['Handshaking', {}, accepted(10, 12, 20), 'Snapshotting', ['reportConnected', 'sendSnapshot'], { lastAckedLsn: 10, connectedSinceMs: T }],
  ['Handshaking', {}, accepted(10, 11, 20), 'Streaming', ['reportConnected', 'startStreaming'], { lastAckedLsn: 10 }],
  ['Handshaking', {}, accepted(0, 2, 50), 'Snapshotting', ['reportConnected', 'sendSnapshot']],
  ['Handshaking', {}, accepted(0, 1, 100), 'Streaming', ['reportConnected', 'startStreaming']],
  ['Handshaking', {}, accepted(0, 1, 101), 'CatchingUp', ['reportConnected', 'startStreaming']],
  ['Handshaking', {}, accepted(500, 1, 600), 'Streaming', ['reportConnected', 'startStreaming']],
  ['Handshaking', {}, accepted(499, 1, 600), 'CatchingUp', ['reportConnected', 'startStreaming']],
  ['Handshaking', { consecutiveFailures: 5, backoffStep: 3, circuitOpen: true }, accepted(0, 1, 0), 'Streaming', ['reportConnected', 'startStreaming'], { consecutiveFailures: 0, backoffStep: 0, circuitOpen: false }],
  ['Handshaking', {}, rejected('ClusterMismatch'), 'Backoff', fail, { consecutiveFailures: 1, lastFailure: { reason: 'rejected', message: 'ClusterMismatch: no', nowMs: T } }],
  ['Handshaking', {}, rejected('StaleEpoch'), 'Stopped', ['stepDown', 'closeConnection'], { consecutiveFailures: 0 }],
  ['Handshaking', {}, peerError('StaleEpoch'), 'Stopped', ['stepDown', 'closeConnection']],
  ['Handshaking', {}, peerError('LogGap'), 'Backoff', fail],
  ['Handshaking', { openedAtMs: 100 }, handshakeTimeout, 'Backoff', fail, { lastFailure: { reason: 'timeout', message: 'no HELLO_ACK within 5000 ms', nowMs: 5100 } }],
  ['Handshaking', {}, failed, 'Backoff', fail],
  ['Handshaking', {}, closed, 'Backoff', fail],
  ['Handshaking', {}, protocol, 'Backoff', ['reportProtocolError', ...fail]],
  ['Handshaking', {}, stop, 'Stopped', ['closeConnection']],
  // Snapshotting
  ['Snapshotting', {}, sent, 'CatchingUp', ['startStreaming']],
  ['Snapshotting', { lastAckedLsn: 3 }, progress(7, 900), 'Snapshotting', [], { lastAckedLsn: 7 }],
  ['Snapshotting', {}, peerError('ChecksumMismatch'), 'Backoff', fail],
  ['Snapshotting', {}, peerError('StaleEpoch'), 'Stopped', ['stepDown', 'closeConnection']],
  ['Snapshotting', {}, failed, 'Backoff', fail],
  ['Snapshotting', {}, closed, 'Backoff', fail, { connectedSinceMs: undefined }],
  ['Snapshotting', {}, protocol, 'Backoff', ['reportProtocolError', ...fail]],
  ['Snapshotting', {}, stop, 'Stopped', ['closeConnection']],
  // CatchingUp: Streaming when primary - acked <= window
  ['CatchingUp', {}, progress(900, 1000), 'Streaming', ['changeStreamMode'], { lastAckedLsn: 900 }],
  ['CatchingUp', {}, progress(899, 1000), 'CatchingUp', [], { lastAckedLsn: 899 }],
  ['CatchingUp', { lastAckedLsn: 950 }, progress(940, 2000), 'CatchingUp', [], { lastAckedLsn: 950 }],
  ['CatchingUp', {}, peerError('LogGap'), 'Backoff', fail],
  ['CatchingUp', {}, peerError('StaleEpoch'), 'Stopped', ['stepDown', 'closeConnection']],
  ['CatchingUp', {}, failed, 'Backoff', fail],
  ['CatchingUp', {}, closed, 'Backoff', fail],
  ['CatchingUp', {}, protocol, 'Backoff', ['reportProtocolError', ...fail]],
  ['CatchingUp', {}, stop, 'Stopped', ['closeConnection']],
  // Streaming: CatchingUp only when primary - acked > 4 * window (hysteresis)
  ['Streaming', {}, progress(600, 1000), 'Streaming', [], { lastAckedLsn: 600 }],
  ['Streaming', {}, progress(599, 1000), 'CatchingUp', ['changeStreamMode'], { lastAckedLsn: 599 }],
  ['Streaming', {}, progress(800, 1000), 'Streaming', []],
  ['Streaming', {}, peerError('LogGap'), 'Backoff', fail],
  ['Streaming', {}, peerError('StaleEpoch'), 'Stopped', ['stepDown', 'closeConnection']],
  ['Streaming', {}, failed, 'Backoff', fail],
  ['Streaming', {}, closed, 'Backoff', fail],
  ['Streaming', {}, protocol, 'Backoff', ['reportProtocolError', ...fail]],
  ['Streaming', {}, stop, 'Stopped', ['closeConnection']],
  // Backoff
  ['Backoff', { consecutiveFailures: 2 }, backoffTimer, 'Connecting', ['openConnection'], { consecutiveFailures: 2 }],
  ['Backoff', {}, stop, 'Stopped', ['closeConnection']],
  ['Backoff', { consecutiveFailures: 3 }, seen, 'Connecting', ['openConnection'], { consecutiveFailures: 3 }],
  ['Streaming', {}, seen, 'Streaming', []],
  ['Connecting', {}, seen, 'Connecting', []],
];

const name = (e: Ev): string => ('code' in e ? `${e.type}(${e.code})` : e.type.startsWith('xstate.after') ? e.type.split('.')[2]! : e.type);

for (const [from, context, event, to, effects, after] of rows) {
  test(`${from} ${JSON.stringify(context)} + ${name(event)} ${JSON.stringify(event).slice(0, 60)} -> ${to}`, () => {
    const step = shipperTransition(at(from, context), event);
    assert.is(step.state, to);
    assert.equal(step.effects.map((e) => e.type), effects);
    for (const [key, value] of Object.entries(after ?? {})) {
      assert.equal(step.snapshot.context[key as keyof ShipperContext], value, key);
    }
  });
}

const STATES = ['Idle', 'Connecting', 'Handshaking', 'Snapshotting', 'CatchingUp', 'Streaming', 'Backoff'];

test('every other event leaves every state and its context unchanged, with no effects', () => {
  let ignored = 0;
  for (const from of STATES) {
    const handled = new Set(rows.filter((r) => r[0] === from).map((r) => r[2].type));
    for (const event of ALL.filter((e) => !handled.has(e.type))) {
      const before = at(from, { lastAckedLsn: 3 });
      const step = shipperTransition(before, event);
      assert.is(step.state, from, `${from} + ${event.type}`);
      assert.equal(step.effects, [], `${from} + ${event.type}`);
      assert.equal(step.snapshot.context, before.context, `${from} + ${event.type}`);
      ignored++;
    }
  }
  assert.ok(ignored > 40, `only ${ignored} ignored pairs checked`);
});

test('Stopped is final: no event moves it or asks for anything', () => {
  const done = shipperTransition(at('Handshaking'), stop).snapshot;
  assert.is(done.status, 'done');
  for (const event of ALL) {
    const step = shipperTransition(done, event);
    assert.is(step.state, 'Stopped');
    assert.equal(step.effects, []);
  }
});

test('the table takes every targeted transition the machine defines', () => {
  const taken = new Set(rows.map(([from, , event, to]) => `${from}|${event.type}|${to}`));
  for (const node of [shipperMachine.root, ...Object.values(shipperMachine.root.states)]) {
    for (const t of [...node.transitions.values()].flat()) {
      for (const target of t.target ?? []) {
        const from = node.path.join('.');
        const hit = [...taken].some((k) => {
          const [f, type, dest] = k.split('|') as [string, string, string];
          return (from === '' || f === from) && type === t.eventType && dest === target.key;
        });
        assert.ok(hit, `no row for ${from || '(machine)'} --${t.eventType}--> ${target.key}`);
      }
    }
  }
});

test('the initial state is Idle with no failures, nothing acked, circuit closed', () => {
  const s = initialShipper({ replicaId: 'r9' });
  assert.is(s.value, 'Idle');
  assert.is(s.context.replicaId, 'r9');
  assert.is(s.context.consecutiveFailures, 0);
  assert.is(s.context.backoffStep, 0);
  assert.is(s.context.circuitOpen, false);
  assert.is(s.context.lastFailure, undefined);
  assert.is(s.context.lastAckedLsn, 0);
  assert.is(s.context.connectedSinceMs, undefined);
});

test.run();
