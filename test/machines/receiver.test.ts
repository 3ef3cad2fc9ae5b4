// The receiver machine as a table: from state, event -> next state and
// effects (named actions, in order; sendError and countProtocolError show
// their code). Pure: xstate's transition() via receiverTransition. Every
// refused frame must send the ERROR before closing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { ErrorCode } from '../../src/errors.js';
import {
  RECEIVER_HELLO_TIMEOUT,
  initialReceiver,
  receiverMachine,
  receiverTransition,
  type ReceiverContext,
  type ReceiverEffect,
  type ReceiverEvent,
  type ReceiverSnapshot,
  type ReceiverTimerEvent,
} from '../../src/machines/index.js';

type Ev = ReceiverEvent | ReceiverTimerEvent;
const hello = (epoch: number, localEpoch: number, ok: Partial<{ clusterOk: boolean; addressedToMe: boolean; versionOk: boolean }> = {}): Ev => ({
  type: 'hello', epoch, localEpoch, clusterOk: true, addressedToMe: true, versionOk: true, ...ok,
});
const batch = (epoch: number, localEpoch: number, startLsn: number, expectedLsn = 11): Ev => ({ type: 'batch', epoch, localEpoch, startLsn, expectedLsn, count: 5 });
const heartbeat = (epoch: number, localEpoch: number): Ev => ({ type: 'heartbeat', epoch, localEpoch });
const begin = (epoch: number, localEpoch: number): Ev => ({ type: 'snapshot.begin', epoch, localEpoch });
const chunk: Ev = { type: 'snapshot.chunk', offset: 4096, byteLength: 1024 };
const end = (ok: boolean): Ev => ({ type: 'snapshot.end', ok });
const badFrame: Ev = { type: 'protocol.error', code: 'BadMagic', message: 'bad magic 0x0000' };
const closed: Ev = { type: 'connection.closed' };
const higher: Ev = { type: 'epoch.higher', epoch: 9 };
const stop: Ev = { type: 'stop' };
const timeout: Ev = { type: RECEIVER_HELLO_TIMEOUT };
const ALL: Ev[] = [hello(3, 3), batch(3, 3, 11), heartbeat(3, 3), begin(3, 3), chunk, end(true), badFrame, closed, higher, stop, timeout];

const rej = (code: ErrorCode) => [`sendError:${code}`, `countProtocolError:${code}`, 'closeConnection'];
const show = (e: ReceiverEffect): string => (e.type === 'sendError' || e.type === 'countProtocolError' ? `${e.type}:${e.params.code}` : e.type);

function at(state: string, patch: Partial<ReceiverContext> = {}): ReceiverSnapshot {
  const base = initialReceiver({ nodeId: 'r1' });
  return receiverMachine.resolveState({ value: state, context: { ...base.context, ...patch } });
}

type Row = [from: string, event: Ev, to: string, effects: string[]];
const common = (from: string): Row[] => [
  [from, badFrame, 'Closed', rej('BadMagic')],
  [from, closed, 'Closed', []],
  [from, higher, from, ['adoptEpoch']],
  [from, stop, 'Closed', ['closeConnection']],
];

// prettier-ignore
const rows: Row[] = [
  ['AwaitingHello', hello(3, 3), 'Streaming', ['acceptHello']],
  ['AwaitingHello', hello(4, 3), 'Streaming', ['acceptHello']],
  ['AwaitingHello', hello(2, 3), 'Closed', rej('StaleEpoch')],
  ['AwaitingHello', hello(3, 3, { versionOk: false }), 'Closed', rej('UnsupportedVersion')],
  ['AwaitingHello', hello(2, 3, { versionOk: false, clusterOk: false }), 'Closed', rej('UnsupportedVersion')],
  ['AwaitingHello', hello(3, 3, { clusterOk: false }), 'Closed', rej('ClusterMismatch')],
  ['AwaitingHello', hello(3, 3, { addressedToMe: false }), 'Closed', rej('ClusterMismatch')],
  ['AwaitingHello', hello(2, 3, { addressedToMe: false }), 'Closed', rej('ClusterMismatch')],
  ['AwaitingHello', batch(3, 3, 11), 'Closed', rej('MalformedMessage')],
  ['AwaitingHello', heartbeat(3, 3), 'Closed', rej('MalformedMessage')],
  ['AwaitingHello', begin(3, 3), 'Closed', rej('MalformedMessage')],
  ['AwaitingHello', chunk, 'Closed', rej('MalformedMessage')],
  ['AwaitingHello', end(true), 'Closed', rej('MalformedMessage')],
  ['AwaitingHello', timeout, 'Closed', rej('ConnectionTimeout')],
  ...common('AwaitingHello'),
  ['Streaming', batch(3, 3, 11), 'Streaming', ['appendBatch']],
  ['Streaming', batch(4, 3, 11), 'Streaming', ['appendBatch']],
  ['Streaming', batch(2, 3, 11), 'Closed', rej('StaleEpoch')],
  ['Streaming', batch(3, 3, 12), 'Closed', rej('LogGap')],
  ['Streaming', batch(3, 3, 10), 'Closed', rej('LogGap')],
  ['Streaming', batch(2, 3, 12), 'Closed', rej('StaleEpoch')],
  ['Streaming', heartbeat(3, 3), 'Streaming', ['answerHeartbeat']],
  ['Streaming', heartbeat(2, 3), 'Closed', rej('StaleEpoch')],
  ['Streaming', begin(3, 3), 'ReceivingSnapshot', ['beginSnapshot']],
  ['Streaming', begin(2, 3), 'Closed', rej('StaleEpoch')],
  ['Streaming', hello(3, 3), 'Closed', rej('MalformedMessage')],
  ['Streaming', chunk, 'Closed', rej('MalformedMessage')],
  ['Streaming', end(true), 'Closed', rej('MalformedMessage')],
  ...common('Streaming'),
  ['ReceivingSnapshot', chunk, 'ReceivingSnapshot', ['storeSnapshotChunk']],
  ['ReceivingSnapshot', end(true), 'Streaming', ['installSnapshot']],
  ['ReceivingSnapshot', end(false), 'Closed', rej('ChecksumMismatch')],
  ['ReceivingSnapshot', heartbeat(3, 3), 'ReceivingSnapshot', ['answerHeartbeat']],
  ['ReceivingSnapshot', heartbeat(2, 3), 'Closed', rej('StaleEpoch')],
  ['ReceivingSnapshot', hello(3, 3), 'Closed', rej('MalformedMessage')],
  ['ReceivingSnapshot', batch(3, 3, 11), 'Closed', rej('MalformedMessage')],
  ['ReceivingSnapshot', begin(3, 3), 'Closed', rej('MalformedMessage')],
  ...common('ReceivingSnapshot'),
];

for (const [from, event, to, effects] of rows) {
  test(`${from} + ${JSON.stringify(event)} -> ${to} ${effects.join(', ')}`, () => {
    const step = receiverTransition(at(from), event);
    assert.is(step.state, to);
    assert.equal(step.effects.map(show), effects);
    if (to === 'Closed') assert.is(step.snapshot.status, 'done');
    assert.equal(step.timers, []);
  });
}

test('every state meets every event type in the table, except the timer outside AwaitingHello', () => {
  for (const state of ['AwaitingHello', 'Streaming', 'ReceivingSnapshot']) {
    const types = new Set(rows.filter((r) => r[0] === state).map((r) => r[1].type));
    const missing = ALL.map((e) => e.type).filter((t) => !types.has(t));
    assert.equal(missing, state === 'AwaitingHello' ? [] : [RECEIVER_HELLO_TIMEOUT], state);
  }
});

test('the HELLO timer outside AwaitingHello does nothing; Closed takes no event', () => {
  for (const state of ['Streaming', 'ReceivingSnapshot']) {
    const step = receiverTransition(at(state), timeout);
    assert.is(step.state, state);
    assert.equal(step.effects, []);
  }
  const done = receiverTransition(at('Streaming'), closed).snapshot;
  for (const event of ALL) assert.equal(receiverTransition(done, event).effects, [], event.type);
});

test('params: the frame fields the shell needs, and the messages of the ERROR frames', () => {
  const s = at('Streaming');
  assert.equal(receiverTransition(s, batch(3, 3, 11)).effects, [{ type: 'appendBatch', params: { epoch: 3, startLsn: 11, count: 5 } }]);
  assert.equal(receiverTransition(at('ReceivingSnapshot'), chunk).effects, [{ type: 'storeSnapshotChunk', params: { offset: 4096, byteLength: 1024 } }]);
  assert.equal(receiverTransition(s, higher).effects, [{ type: 'adoptEpoch', params: { epoch: 9 } }]);
  assert.equal(receiverTransition(at('AwaitingHello'), hello(4, 3)).effects, [{ type: 'acceptHello', params: { epoch: 4 } }]);
  const gap = receiverTransition(s, batch(3, 3, 15)).effects[0];
  assert.equal(gap, { type: 'sendError', params: { code: 'LogGap', message: 'batch starts at LSN 15, expected 11' } });
  const stale = receiverTransition(s, heartbeat(1, 3)).effects[0];
  assert.equal(stale, { type: 'sendError', params: { code: 'StaleEpoch', message: 'heartbeat from epoch 1, local epoch is 3' } });
  const bad = receiverTransition(s, badFrame).effects[0];
  assert.equal(bad, { type: 'sendError', params: { code: 'BadMagic', message: 'bad magic 0x0000' } });
  assert.equal(receiverTransition(s, batch(2, 3, 11)).snapshot.context.lastError?.code, 'StaleEpoch');
});

test('context: the accepted epoch and the batches appended', () => {
  let s = initialReceiver({ nodeId: 'r1' });
  assert.is(s.value, 'AwaitingHello');
  s = receiverTransition(s, hello(5, 4)).snapshot;
  assert.is(s.context.peerEpoch, 5);
  s = receiverTransition(s, batch(5, 5, 11)).snapshot;
  s = receiverTransition(s, batch(5, 5, 16, 16)).snapshot;
  assert.is(s.context.batchesAppended, 2);
  assert.is(s.context.lastError, undefined);
});

test.run();
