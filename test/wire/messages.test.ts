/** Protocol messages: every kind round-trips through bytes; malformed bodies get typed errors. */
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  type Frame,
  FrameReader,
  FrameType,
  type WireMessage,
  decodeMessage,
  encodeBatchFrame,
  encodeMessage,
  encodePayload,
  nodeIdHash,
  splitRecords,
} from '../../src/wire/index.js';
import { recordsPayload, sampleMessages, throwsCode, u53 } from './arbitraries.js';

/** Sends `buffers` through a FrameReader as one stream and decodes the single frame. */
function roundTrip(buffers: Uint8Array[]): WireMessage {
  const reader = new FrameReader();
  for (const b of buffers) reader.push(b.slice());
  const frame = reader.next();
  assert.ok(frame !== undefined, 'one whole frame');
  assert.is(reader.next(), undefined, 'and nothing more');
  reader.finish();
  return decodeMessage(frame);
}

test('every non-batch kind round-trips field for field', () => {
  assert.is(new Set(sampleMessages.map((m) => m.kind)).size, 12);
  for (const msg of sampleMessages) assert.equal(roundTrip(encodeMessage(msg)), msg, msg.kind);
});

test('BATCH round-trips through encodeBatchFrame, the payload buffer unchanged', () => {
  const payload = recordsPayload(['a', { b: 1 }], 77);
  const parts = encodeBatchFrame({ epoch: 9, startLsn: 77, count: 2, primaryId: 'node-z', firstTimestampMs: 5, sentAtMs: 6 }, payload);
  assert.is(parts.length, 2);
  assert.ok(parts[1] === payload, 'the payload is passed through, not copied');
  const msg = roundTrip(parts);
  if (msg.kind !== 'batch') throw new Error(`got ${msg.kind}`);
  assert.equal({ ...msg.batch, payload: undefined }, { epoch: 9, startLsn: 77, count: 2, primaryIdHash: nodeIdHash('node-z'), firstTimestampMs: 5, sentAtMs: 6, payload: undefined });
  assert.equal([...msg.batch.payload], [...payload]);
  assert.is(splitRecords(msg.batch).count, 2);
});

const name = fc.string({ unit: 'binary', maxLength: 40 });
const epoch = fc.nat({ max: 2 ** 32 - 1 });
const history = fc.uniqueArray(fc.tuple(fc.nat(), fc.nat()), { maxLength: 6, selector: ([e]) => e }).map((pairs) => {
  const epochs = pairs.map(([e]) => e).sort((a, b) => a - b);
  const starts = pairs.map(([, s]) => s).sort((a, b) => a - b);
  return epochs.map((e, i) => ({ epoch: e, startLsn: starts[i]! }));
});

test('random field values round-trip for every kind (property)', () => {
  const message: fc.Arbitrary<Exclude<WireMessage, { kind: 'batch' }>> = fc.oneof(
    fc.record({ kind: fc.constant('hello' as const), protocolVersion: fc.nat(9), clusterId: name, fromId: name, toId: name, epoch: u53, lastLsn: u53, epochHistory: history }),
    fc.record({ kind: fc.constant('helloAck' as const), protocolVersion: fc.nat(9), clusterId: name, nodeId: name, epoch: u53, flushedLsn: u53, appliedLsn: u53, lastEpoch: u53, epochHistory: history }),
    fc.record({ kind: fc.constant('ack' as const), epoch, receivedLsn: u53, flushedLsn: u53, appliedLsn: u53, echoSentAtMs: u53 }),
    fc.record({ kind: fc.constant('heartbeat' as const), epoch, primaryLsn: u53, sentAtMs: u53 }),
    fc.record({ kind: fc.constant('snapshotBegin' as const), epoch: u53, snapshotLsn: u53, snapshotEpoch: u53, totalBytes: u53, crc: fc.nat({ max: 2 ** 32 - 1 }), epochHistory: history }),
    fc.record({ kind: fc.constant('snapshotChunk' as const), offset: u53, bytes: fc.uint8Array({ maxLength: 2000 }) }),
    fc.record({ kind: fc.constant('snapshotEnd' as const), epoch: u53 }),
    fc.record({ kind: fc.constant('truncate' as const), epoch: u53, afterLsn: u53 }),
    fc.record({ kind: fc.constant('error' as const), code: fc.string({ maxLength: 64 }), message: fc.string({ unit: 'binary', maxLength: 1000 }) }),
    fc.record({ kind: fc.constant('voteRequest' as const), clusterId: name, candidateId: name, epoch: u53, lastEpoch: u53, lastLsn: u53, preVote: fc.constant(true as const), force: fc.constant(true as const) }, { requiredKeys: ['kind', 'clusterId', 'candidateId', 'epoch', 'lastEpoch', 'lastLsn'] }),
    fc.record({ kind: fc.constant('vote' as const), voterId: name, epoch: u53, granted: fc.boolean() }),
    fc.record({ kind: fc.constant('handover' as const), epoch: u53, lsn: u53 }),
  );
  // fc.record builds objects without a prototype: compare against a plain copy
  fc.assert(fc.property(message, (msg) => assert.equal(roundTrip(encodeMessage(msg)), { ...msg })), { numRuns: 1000 });
});

/** A control frame of `type` whose msgpack body is `value`. */
function control(type: FrameType, value: unknown): Frame {
  return { type, body: encodePayload(value).slice() };
}

const hello = { protocolVersion: 1, clusterId: 'c', fromId: 'a', toId: 'b', epoch: 1, lastLsn: 0, epochHistory: [{ epoch: 1, startLsn: 1 }] };

test('control bodies that are not maps → MalformedMessage', () => {
  const controlTypes = [FrameType.Hello, FrameType.HelloAck, FrameType.SnapshotBegin, FrameType.SnapshotEnd, FrameType.Truncate, FrameType.Error, FrameType.VoteRequest, FrameType.Vote, FrameType.Handover];
  for (const type of controlTypes) {
    for (const value of [null, 1, 'hello', [1, 2], true]) throwsCode(() => decodeMessage(control(type, value)), 'MalformedMessage', `type ${type} body ${JSON.stringify(value)}`);
    throwsCode(() => decodeMessage({ type, body: new Uint8Array(0) }), 'MalformedMessage', `type ${type} empty body`);
    throwsCode(() => decodeMessage({ type, body: new Uint8Array([0xc1]) }), 'MalformedMessage', `type ${type} reserved byte`);
    throwsCode(() => decodeMessage({ type, body: new Uint8Array([0x80, 0x80]) }), 'MalformedMessage', `type ${type} two values`);
  }
});

test('missing fields and wrong field types → MalformedMessage naming the field', () => {
  for (const field of Object.keys(hello)) {
    const { [field as keyof typeof hello]: _, ...rest } = hello;
    const err = throwsCode(() => decodeMessage(control(FrameType.Hello, rest)), 'MalformedMessage', `missing ${field}`);
    assert.ok(err.message.includes(field), err.message);
  }
  const wrong: [string, unknown][] = [
    ['epoch', '1'], ['epoch', -1], ['epoch', 1.5], ['epoch', 2 ** 53], ['epoch', 2n ** 60n], ['epoch', null],
    ['lastLsn', true], ['clusterId', 7], ['clusterId', 'x'.repeat(1025)], ['toId', null], ['epochHistory', {}], ['epochHistory', [1]],
    ['epochHistory', [{ epoch: 1 }]], ['epochHistory', [{ epoch: '1', startLsn: 1 }]],
  ];
  for (const [field, value] of wrong) {
    throwsCode(() => decodeMessage(control(FrameType.Hello, { ...hello, [field]: value })), 'MalformedMessage', `${field} = ${String(value)}`);
  }
  throwsCode(() => decodeMessage(control(FrameType.Vote, { voterId: 'a', epoch: 1, granted: 1 })), 'MalformedMessage', 'granted not boolean');
  const preVote = { clusterId: 'c', candidateId: 'a', epoch: 2, lastEpoch: 1, lastLsn: 9 };
  for (const bad of [false, 1, 'true', null]) throwsCode(() => decodeMessage(control(FrameType.VoteRequest, { ...preVote, preVote: bad })), 'MalformedMessage', `preVote = ${String(bad)}`);
  assert.equal(decodeMessage(control(FrameType.VoteRequest, { ...preVote, preVote: true })), { kind: 'voteRequest', ...preVote, preVote: true });
  for (const bad of [false, 1, 'true', null]) throwsCode(() => decodeMessage(control(FrameType.VoteRequest, { ...preVote, force: bad })), 'MalformedMessage', `force = ${String(bad)}`);
  assert.equal(decodeMessage(control(FrameType.VoteRequest, { ...preVote, force: true })), { kind: 'voteRequest', ...preVote, force: true });
  throwsCode(() => decodeMessage(control(FrameType.Error, { code: 'x'.repeat(65), message: 'm' })), 'MalformedMessage', 'code too long');
  throwsCode(() => decodeMessage(control(FrameType.Error, { code: 'X', message: 'm'.repeat(4097) })), 'MalformedMessage', 'message too long');
  // extra fields are ignored (a newer peer may add some)
  assert.equal(decodeMessage(control(FrameType.Truncate, { epoch: 2, afterLsn: 5, future: 'x' })), { kind: 'truncate', epoch: 2, afterLsn: 5 });
});

test('epoch histories out of order → MalformedMessage', () => {
  const bad = [
    [{ epoch: 2, startLsn: 1 }, { epoch: 1, startLsn: 5 }], // epochs decrease
    [{ epoch: 2, startLsn: 1 }, { epoch: 2, startLsn: 5 }], // repeated epoch
    [{ epoch: 1, startLsn: 9 }, { epoch: 2, startLsn: 5 }], // start LSNs decrease
  ];
  for (const epochHistory of bad) {
    throwsCode(() => decodeMessage(control(FrameType.Hello, { ...hello, epochHistory })), 'MalformedMessage', JSON.stringify(epochHistory));
    throwsCode(() => decodeMessage(control(FrameType.SnapshotBegin, { epoch: 1, snapshotLsn: 1, snapshotEpoch: 1, totalBytes: 1, crc: 1, epochHistory })), 'MalformedMessage');
  }
  const sameStart = [{ epoch: 1, startLsn: 5 }, { epoch: 2, startLsn: 5 }]; // an epoch that wrote nothing
  assert.equal((decodeMessage(control(FrameType.Hello, { ...hello, epochHistory: sameStart })) as { epochHistory: unknown }).epochHistory, sameStart);
});

test('ACK and HEARTBEAT with a wrong body size, or u64 fields past 2^53 - 1, are typed errors', () => {
  for (const [type, size] of [[FrameType.Ack, 36], [FrameType.Heartbeat, 20]] as const) {
    throwsCode(() => decodeMessage({ type, body: new Uint8Array(0) }), 'TruncatedFrame');
    throwsCode(() => decodeMessage({ type, body: new Uint8Array(size - 1) }), 'TruncatedFrame');
    throwsCode(() => decodeMessage({ type, body: new Uint8Array(size + 1) }), 'MalformedMessage');
    const body = new Uint8Array(size).fill(0xff);
    throwsCode(() => decodeMessage({ type, body }), 'LsnOverflow', 'u64 of all ones');
  }
  throwsCode(() => encodeMessage({ kind: 'ack', epoch: 2 ** 32, receivedLsn: 0, flushedLsn: 0, appliedLsn: 0, echoSentAtMs: 0 }), 'LsnOverflow');
  throwsCode(() => encodeMessage({ kind: 'heartbeat', epoch: 1, primaryLsn: 2 ** 53, sentAtMs: 0 }), 'LsnOverflow');
});

test.run();
