// xstate/graph over the receiver: shortest paths with representative frames
// (the HELLO timer included as its xstate.after event) reach every state;
// each path is replayed through the pure transition() and against a real
// actor on a SimulatedClock (the timer step is the clock reaching
// helloTimeoutMs), and both must agree on the final state and the effects.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SimulatedClock, createActor } from 'xstate';
import { getShortestPaths } from 'xstate/graph';
import {
  RECEIVER_EFFECTS,
  RECEIVER_HELLO_TIMEOUT,
  initialReceiver,
  receiverMachine,
  receiverTransition,
  type ReceiverEvent,
  type ReceiverSnapshot,
  type ReceiverTimerEvent,
} from '../../src/machines/index.js';

type Ev = ReceiverEvent | ReceiverTimerEvent;
const events: Ev[] = [
  { type: 'hello', epoch: 2, localEpoch: 2, clusterOk: true, addressedToMe: true, versionOk: true },
  { type: 'hello', epoch: 1, localEpoch: 2, clusterOk: true, addressedToMe: true, versionOk: true },
  { type: 'batch', epoch: 2, localEpoch: 2, startLsn: 1, expectedLsn: 1, count: 4 },
  { type: 'batch', epoch: 2, localEpoch: 2, startLsn: 3, expectedLsn: 1, count: 4 },
  { type: 'heartbeat', epoch: 2, localEpoch: 2 },
  { type: 'snapshot.begin', epoch: 2, localEpoch: 2 },
  { type: 'snapshot.chunk', offset: 0, byteLength: 10 },
  { type: 'snapshot.end', ok: true },
  { type: 'snapshot.end', ok: false },
  { type: 'protocol.error', code: 'ChecksumMismatch', message: 'crc' },
  { type: 'epoch.higher', epoch: 3 },
  { type: 'connection.closed' },
  { type: 'stop' },
  { type: RECEIVER_HELLO_TIMEOUT },
];

const STATES = ['AwaitingHello', 'Streaming', 'ReceivingSnapshot', 'Closed'];
const key = (s: ReceiverSnapshot): string => `${String(s.value)} ${s.context.lastError?.code ?? '-'}`;
const paths = getShortestPaths(receiverMachine, { events: events as ReceiverEvent[], input: { nodeId: 'r1' }, serializeState: key });
const describe = (e: { type: string; params?: unknown }) => `${e.type} ${JSON.stringify(e.params)}`;

test('shortest paths reach every state, and Closed by every way out', () => {
  assert.equal([...new Set(paths.map((p) => String(p.state.value)))].sort(), [...STATES].sort());
  const closedBy = new Set(paths.filter((p) => p.state.value === 'Closed').map((p) => p.state.context.lastError?.code ?? '-'));
  assert.equal([...closedBy].sort(), ['-', 'ChecksumMismatch', 'ConnectionTimeout', 'LogGap', 'MalformedMessage', 'StaleEpoch']);
});

test('the shortest paths are the expected frame sequences', () => {
  const byKey = new Map(paths.map((p) => [key(p.state), p.steps.slice(1).map((s) => s.event.type).join(' ')]));
  assert.is(byKey.get('ReceivingSnapshot -'), 'hello snapshot.begin');
  assert.is(byKey.get('Closed ConnectionTimeout'), RECEIVER_HELLO_TIMEOUT);
  assert.is(byKey.get('Closed LogGap'), 'hello batch');
  assert.is(byKey.get('Closed -'), 'connection.closed');
});

test('every path replays through the pure transition() to its final state', () => {
  for (const p of paths) {
    let s = initialReceiver({ nodeId: 'r1' });
    for (const step of p.steps.slice(1)) s = receiverTransition(s, step.event as Ev).snapshot;
    assert.is(key(s), key(p.state));
  }
});

test('every path replays against a real actor on a simulated clock with the same effects', () => {
  for (const p of paths) {
    const clock = new SimulatedClock();
    const seen: string[] = [];
    const actions = Object.fromEntries([...RECEIVER_EFFECTS].map((type) => [type, (_: unknown, params: unknown) => void seen.push(describe({ type, params }))]));
    const actor = createActor(receiverMachine.provide({ actions }), { input: { nodeId: 'r1' }, clock });
    actor.subscribe({ error: (err) => assert.unreachable(String(err)) });
    actor.start();
    let pure = initialReceiver({ nodeId: 'r1' });
    const expected: string[] = [];
    for (const step of p.steps.slice(1)) {
      const event = step.event as Ev;
      const r = receiverTransition(pure, event);
      if (event.type === RECEIVER_HELLO_TIMEOUT) clock.set(clock.now() + actor.getSnapshot().context.config.helloTimeoutMs);
      else actor.send(event);
      pure = r.snapshot;
      expected.push(...r.effects.map(describe));
    }
    assert.equal(actor.getSnapshot().value, p.state.value);
    assert.equal(seen, expected);
    actor.stop();
  }
});

test.run();
