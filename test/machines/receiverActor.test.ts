// The receiver as a real actor on xstate's SimulatedClock, with recording
// fakes for every named action: the HELLO timeout fires exactly at
// helloTimeoutMs, a HELLO cancels it, and a refused frame's ERROR is sent
// before the connection closes, with the params the shell needs.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SimulatedClock, createActor } from 'xstate';
import { isReplicationError } from '../../src/errors.js';
import {
  RECEIVER_EFFECTS,
  initialReceiver,
  receiverMachine,
  resolveReceiverConfig,
  type ReceiverEvent,
  type ReceiverInput,
} from '../../src/machines/index.js';

function receiver(input: Partial<ReceiverInput> = {}) {
  const clock = new SimulatedClock();
  const log: string[] = [];
  const record = (name: string) => (_: unknown, params: unknown) => void log.push(`${clock.now()} ${name}${params === undefined ? '' : ` ${JSON.stringify(params)}`}`);
  const actions = Object.fromEntries([...RECEIVER_EFFECTS].map((name) => [name, record(name)]));
  const actor = createActor(receiverMachine.provide({ actions }), { input: { nodeId: 'r1', ...input }, clock });
  actor.subscribe({ error: (err) => assert.unreachable(String(err)) });
  actor.start();
  return { actor, clock, log, state: () => String(actor.getSnapshot().value), send: (e: ReceiverEvent) => actor.send(e) };
}

const hello: ReceiverEvent = { type: 'hello', epoch: 2, localEpoch: 2, clusterOk: true, addressedToMe: true, versionOk: true };

test('a silent connection is refused exactly helloTimeoutMs after it was accepted', () => {
  const r = receiver();
  r.clock.set(4999);
  assert.is(r.state(), 'AwaitingHello');
  assert.equal(r.log, []);
  r.clock.set(5000);
  assert.is(r.state(), 'Closed');
  assert.is(r.actor.getSnapshot().status, 'done');
  assert.equal(r.log, [
    '5000 sendError {"code":"ConnectionTimeout","message":"no HELLO within 5000 ms"}',
    '5000 countProtocolError {"code":"ConnectionTimeout"}',
    '5000 closeConnection',
  ]);
});

test('helloTimeoutMs is an input', () => {
  const r = receiver({ helloTimeoutMs: 300 });
  r.clock.set(299);
  assert.is(r.state(), 'AwaitingHello');
  r.clock.set(300);
  assert.is(r.state(), 'Closed');
});

test('a HELLO in time cancels the timeout', () => {
  const r = receiver();
  r.clock.set(4999);
  r.send(hello);
  r.clock.set(60_000);
  assert.is(r.state(), 'Streaming');
  assert.equal(r.log, ['4999 acceptHello {"epoch":2}']);
  r.actor.stop();
});

test('a stale batch: sendError, then countProtocolError, then closeConnection, nothing appended', () => {
  const r = receiver();
  r.send(hello);
  r.send({ type: 'batch', epoch: 2, localEpoch: 2, startLsn: 1, expectedLsn: 1, count: 3 });
  r.send({ type: 'epoch.higher', epoch: 3 });
  r.send({ type: 'batch', epoch: 2, localEpoch: 3, startLsn: 4, expectedLsn: 4, count: 3 });
  r.send({ type: 'batch', epoch: 3, localEpoch: 3, startLsn: 4, expectedLsn: 4, count: 3 });
  assert.equal(r.log, [
    '0 acceptHello {"epoch":2}',
    '0 appendBatch {"epoch":2,"startLsn":1,"count":3}',
    '0 adoptEpoch {"epoch":3}',
    '0 sendError {"code":"StaleEpoch","message":"batch from epoch 2, local epoch is 3"}',
    '0 countProtocolError {"code":"StaleEpoch"}',
    '0 closeConnection',
  ]);
  assert.is(r.state(), 'Closed', 'the batch after the close is dropped');
});

test('every kind of refusal sends its ERROR before closing', () => {
  const refusals: ReceiverEvent[][] = [
    [{ ...hello, versionOk: false }],
    [{ ...hello, clusterOk: false }],
    [{ ...hello, epoch: 1 }],
    [hello, { type: 'batch', epoch: 2, localEpoch: 2, startLsn: 9, expectedLsn: 1, count: 1 }],
    [hello, { type: 'snapshot.begin', epoch: 2, localEpoch: 2 }, { type: 'snapshot.end', ok: false }],
    [hello, { type: 'protocol.error', code: 'FrameTooLarge', message: 'frame of 99 MiB' }],
    [{ type: 'snapshot.chunk', offset: 0, byteLength: 1 }],
  ];
  const codes: string[] = [];
  for (const events of refusals) {
    const r = receiver();
    for (const e of events) r.send(e);
    const names = r.log.map((l) => l.split(' ')[1]);
    const errorAt = names.indexOf('sendError');
    assert.ok(errorAt >= 0, JSON.stringify(events));
    assert.equal(names.slice(errorAt), ['sendError', 'countProtocolError', 'closeConnection']);
    codes.push(JSON.parse(r.log[errorAt]!.split(' ').slice(2).join(' ')).code);
    assert.is(r.state(), 'Closed');
  }
  assert.equal(codes, ['UnsupportedVersion', 'ClusterMismatch', 'StaleEpoch', 'LogGap', 'ChecksumMismatch', 'FrameTooLarge', 'MalformedMessage']);
});

test('a snapshot session: begin, chunks, heartbeat, install, then batches again', () => {
  const r = receiver();
  r.send(hello);
  r.send({ type: 'snapshot.begin', epoch: 2, localEpoch: 2 });
  r.send({ type: 'snapshot.chunk', offset: 0, byteLength: 65_536 });
  r.send({ type: 'heartbeat', epoch: 2, localEpoch: 2 });
  r.send({ type: 'snapshot.chunk', offset: 65_536, byteLength: 100 });
  r.send({ type: 'snapshot.end', ok: true });
  r.send({ type: 'batch', epoch: 2, localEpoch: 2, startLsn: 501, expectedLsn: 501, count: 10 });
  assert.equal(r.log.map((l) => l.split(' ')[1]), [
    'acceptHello', 'beginSnapshot', 'storeSnapshotChunk', 'answerHeartbeat', 'storeSnapshotChunk', 'installSnapshot', 'appendBatch',
  ]);
  assert.is(r.state(), 'Streaming');
  r.send({ type: 'stop' });
  assert.equal(r.log.at(-1), '0 closeConnection');
  assert.is(r.state(), 'Closed');
});

test('bad inputs are refused with InvalidConfig', () => {
  for (const input of [{ nodeId: '' }, { nodeId: 'r1', helloTimeoutMs: 0 }, { nodeId: 'r1', helloTimeoutMs: Number.NaN }]) {
    assert.throws(() => resolveReceiverConfig(input), (err: unknown) => isReplicationError(err, 'InvalidConfig'));
    assert.throws(() => initialReceiver(input), (err: unknown) => isReplicationError(err, 'InvalidConfig'));
  }
  assert.is(resolveReceiverConfig({ nodeId: 'r1' }).helloTimeoutMs, 5000);
});

test.run();
