// xstate/graph over the shipper: shortest paths with representative events
// (timers included as their xstate.after events) reach every state; each path
// is replayed through the pure transition() and against a real actor on a
// SimulatedClock, where a timer step is the clock reaching its delay, and
// both must agree on the final state and on the effects.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SimulatedClock, createActor } from 'xstate';
import { getShortestPaths } from 'xstate/graph';
import {
  SHIPPER_EFFECTS,
  SHIPPER_TIMERS,
  initialShipper,
  shipperMachine,
  shipperTransition,
  type ShipperEvent,
  type ShipperSnapshot,
  type ShipperTimerEvent,
} from '../../src/machines/index.js';

type Ev = ShipperEvent | ShipperTimerEvent;
const hello = (replicaFlushedLsn: number, logFirstLsn: number, primaryLsn: number): Ev => ({
  type: 'hello.accepted', replicaFlushedLsn, logFirstLsn, primaryLsn, windowEntries: 10, nowMs: 5,
});
const events: Ev[] = [
  { type: 'start' },
  { type: 'connection.opened', nowMs: 1, jitter: 0.25 },
  { type: 'connection.failed', reason: 'connect', message: 'refused', jitter: 0.75, nowMs: 2 },
  { type: 'connection.closed', reason: 'closed', message: 'EOF', jitter: 0.1, nowMs: 3 },
  hello(100, 1, 105),
  hello(100, 1, 500),
  hello(100, 200, 500),
  { type: 'hello.rejected', code: 'ClusterMismatch', message: 'other cluster', jitter: 0.5, nowMs: 6 },
  { type: 'hello.rejected', code: 'StaleEpoch', message: 'epoch 1 < 2', jitter: 0.5, nowMs: 6 },
  { type: 'peer.error', code: 'LogGap', message: 'gap', jitter: 0.9, nowMs: 7 },
  { type: 'snapshot.sent', snapshotLsn: 300 },
  { type: 'progress', ackedLsn: 495, primaryLsn: 500, windowEntries: 10 },
  { type: 'progress', ackedLsn: 450, primaryLsn: 500, windowEntries: 10 },
  { type: 'protocol.error', code: 'MalformedMessage', message: 'bad ACK', jitter: 0.3, nowMs: 8 },
  { type: 'stop' },
  { type: SHIPPER_TIMERS.handshakeTimeout },
  { type: SHIPPER_TIMERS.backoff },
];

const STATES = ['Idle', 'Connecting', 'Handshaking', 'Snapshotting', 'CatchingUp', 'Streaming', 'Backoff', 'Stopped'];
// A finite graph: the state and the failure count capped at the circuit limit.
const vertex = (s: ShipperSnapshot): string => `${JSON.stringify(s.value)} failures=${Math.min(s.context.consecutiveFailures, 3)}`;
const paths = getShortestPaths(shipperMachine, { events: events as ShipperEvent[], input: { replicaId: 'r1' }, serializeState: vertex });

const describe = (e: { type: string; params?: unknown }) => `${e.type} ${JSON.stringify(e.params)}`;

test('shortest paths reach every state of the machine', () => {
  const reached = new Set(paths.map((p) => String(p.state.value)));
  assert.equal([...reached].sort(), [...STATES].sort());
  const circuit = paths.filter((p) => p.state.value === 'Backoff' && p.state.context.circuitOpen);
  assert.ok(circuit.length > 0, 'an open circuit is reachable');
});

test('the shortest paths are the expected event sequences', () => {
  const byVertex = new Map(paths.map((p) => [vertex(p.state), p.steps.slice(1).map((s) => s.event.type).join(' ')]));
  assert.is(byVertex.get('"Stopped" failures=0'), 'stop');
  assert.is(byVertex.get('"Snapshotting" failures=0'), 'start connection.opened hello.accepted');
  assert.is(byVertex.get('"Backoff" failures=1'), 'start connection.failed');
  const after = SHIPPER_TIMERS.backoff;
  assert.is(byVertex.get('"Backoff" failures=3'), `start connection.failed ${after} connection.failed ${after} connection.failed`);
});

test('every path replays through the pure transition() to its final state', () => {
  for (const p of paths) {
    let s = initialShipper({ replicaId: 'r1' });
    for (const step of p.steps.slice(1)) s = shipperTransition(s, step.event as Ev).snapshot;
    assert.is(vertex(s), vertex(p.state));
  }
});

test('every path replays against a real actor on a simulated clock with the same effects', () => {
  for (const p of paths) {
    const clock = new SimulatedClock();
    const seen: string[] = [];
    const actions = Object.fromEntries([...SHIPPER_EFFECTS].map((type) => [type, (_: unknown, params: unknown) => void seen.push(describe({ type, params }))]));
    const actor = createActor(shipperMachine.provide({ actions }), { input: { replicaId: 'r1' }, clock });
    actor.subscribe({ error: (err) => assert.unreachable(String(err)) });
    actor.start();

    let pure = initialShipper({ replicaId: 'r1' });
    const expected: string[] = [];
    for (const step of p.steps.slice(1)) {
      const event = step.event as Ev;
      const r = shipperTransition(pure, event);
      if (event.type === SHIPPER_TIMERS.handshakeTimeout || event.type === SHIPPER_TIMERS.backoff) {
        const ctx = actor.getSnapshot().context;
        const delay = event.type === SHIPPER_TIMERS.backoff ? ctx.backoffDelayMs : ctx.config.handshakeTimeoutMs;
        clock.set(clock.now() + delay);
      } else {
        actor.send(event as ShipperEvent);
      }
      pure = r.snapshot;
      expected.push(...r.effects.map(describe));
    }
    assert.equal(actor.getSnapshot().value, p.state.value);
    assert.equal(seen, expected);
    actor.stop();
  }
});

test('every path into Backoff reports the failure before closing the connection', () => {
  for (const p of paths.filter((q) => q.state.value === 'Backoff')) {
    let s = initialShipper({ replicaId: 'r1' });
    let last: string[] = [];
    for (const step of p.steps.slice(1)) {
      const r = shipperTransition(s, step.event as Ev);
      last = r.effects.map((e) => e.type);
      s = r.snapshot;
    }
    assert.is(last.at(-1), 'closeConnection');
    assert.is(last.at(-2), 'reportFailure');
  }
});

test.run();
