/**
 * Shared fast-check arbitraries and helpers for the wire tests (not a test
 * file itself): record headers at the edges of every field, msgpack-able
 * payloads, sample messages of every kind, and a typed-error assertion.
 */
import fc from 'fast-check';
import * as assert from 'uvu/assert';
import { type ErrorCode, ReplicationError } from '../../src/errors.js';
import { type RecordHeader, type WireMessage, encodeBatchFrame, encodeMessage, encodePayload, encodeRecord } from '../../src/wire/index.js';

const utf8 = new TextEncoder();

/** UTF-8 length of `s`. */
export function utf8Length(s: string): number {
  return utf8.encode(s).length;
}

/** `s` cut to whole code points so that it is at most `max` UTF-8 bytes. */
export function fitUtf8(s: string, max: number): string {
  const points = [...s];
  while (utf8Length(points.join('')) > max) points.pop();
  return points.join('');
}

/** Any safe u64 (0..2^53-1), biased to the edges. */
export const u53 = fc.oneof(
  fc.constantFrom(0, 1, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1),
  fc.maxSafeNat(),
);

/** A space name of 1..255 UTF-8 bytes, any Unicode. */
export const space = fc
  .string({ unit: 'binary', minLength: 1, maxLength: 255 })
  .map((s) => fitUtf8(s, 255))
  .filter((s) => s.length > 0);

/** A key of 0..1024 UTF-8 bytes, any Unicode. */
export const key = fc.oneof(
  fc.constant(''),
  fc.string({ unit: 'binary', maxLength: 1024 }).map((s) => fitUtf8(s, 1024)),
  fc.string({ unit: 'binary-ascii', minLength: 1000, maxLength: 1024 }),
);

/** A record header with every field drawn across its whole range. */
export const recordHeader: fc.Arbitrary<RecordHeader> = fc.record({
  lsn: u53,
  seq: u53,
  timestampMs: u53,
  epoch: fc.oneof(fc.constantFrom(0, 2 ** 32 - 1), fc.nat({ max: 2 ** 32 - 1 })),
  kind: fc.nat({ max: 255 }),
  space,
  key,
});

/** A msgpack-able value that decodes back to an equal value (no `__proto__` keys: encodePayload refuses those). */
export const payloadValue = fc.jsonValue({ maxDepth: 3, stringUnit: 'binary' }).filter((v) => !JSON.stringify(v).includes('"__proto__":'));

/** A record header + payload value pair. */
export const recordInput = fc.record({ header: recordHeader, value: fc.option(payloadValue, { nil: undefined }) });

/** Whole records with LSNs `startLsn, startLsn + 1, ...`, concatenated into one payload. */
export function recordsPayload(values: unknown[], startLsn: number, space = 'notes'): Uint8Array {
  const parts = values.map((value, i) =>
    encodeRecord({ lsn: startLsn + i, seq: i + 1, timestampMs: 1_700_000_000_000 + i, epoch: 3, kind: 1, space, key: `m${i}` },
      encodePayload(value)));
  return concat(parts);
}

/** Concatenates byte arrays into one fresh array. */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Runs `fn` and asserts it throws a ReplicationError with `code`; returns the error. */
export function throwsCode(fn: () => unknown, code: ErrorCode | readonly ErrorCode[], what = ''): ReplicationError {
  const codes: readonly ErrorCode[] = typeof code === 'string' ? [code] : code;
  try {
    fn();
  } catch (err) {
    if (!(err instanceof ReplicationError)) throw fail(`${what}: threw a non-ReplicationError: ${String(err)}`);
    assert.ok(codes.includes(err.code), `${what}: expected ${codes.join(' or ')}, got ${err.code} (${err.message})`);
    return err;
  }
  throw fail(`${what}: expected ${codes.join(' or ')}, nothing was thrown`);
}

/** An uvu assertion error with `message`. */
export function fail(message: string): Error {
  return new assert.Assertion({ message, operator: 'fail', expects: undefined, actual: undefined });
}

const history = [{ epoch: 1, startLsn: 1 }, { epoch: 3, startLsn: 120 }];

/** One sample of every message kind except batch. */
export const sampleMessages: Exclude<WireMessage, { kind: 'batch' }>[] = [
  { kind: 'hello', protocolVersion: 1, clusterId: 'c-1', fromId: 'node-a', toId: 'node-b', epoch: 3, lastLsn: 2 ** 53 - 1, epochHistory: history },
  { kind: 'helloAck', protocolVersion: 1, clusterId: 'c-1', nodeId: 'node-b', epoch: 3, flushedLsn: 99, appliedLsn: 98, lastEpoch: 1, epochHistory: history },
  { kind: 'ack', epoch: 2 ** 32 - 1, receivedLsn: 2 ** 53 - 1, flushedLsn: 2 ** 32, appliedLsn: 7, echoSentAtMs: 1_732_250_000_000 },
  { kind: 'heartbeat', epoch: 3, primaryLsn: 12345, sentAtMs: 1_732_250_000_000 },
  { kind: 'snapshotBegin', epoch: 3, snapshotLsn: 500, snapshotEpoch: 2, totalBytes: 1 << 20, crc: 0xdeadbeef, epochHistory: history },
  { kind: 'snapshotChunk', offset: 2 ** 40, bytes: new Uint8Array([1, 2, 3, 250, 0]) },
  { kind: 'snapshotEnd', epoch: 3 },
  { kind: 'truncate', epoch: 3, afterLsn: 118 },
  { kind: 'error', code: 'StaleEpoch', message: 'batch from epoch 2, local epoch is 3 — ünïcode' },
  { kind: 'voteRequest', clusterId: 'c-1', candidateId: 'node-c', epoch: 4, lastEpoch: 3, lastLsn: 130 },
  { kind: 'vote', voterId: 'node-a', epoch: 4, granted: true },
  { kind: 'handover', epoch: 3, lsn: 2 ** 53 - 1 },
];

/** Encoded frames (one buffer each) of every message kind, including a batch. */
export function sampleFrames(): { kind: string; bytes: Uint8Array }[] {
  const payload = recordsPayload([{ id: 'm1' }, 'two', [3]], 40);
  const batch = concat(encodeBatchFrame({ epoch: 3, startLsn: 40, count: 3, primaryId: 'node-a', firstTimestampMs: 1_700_000_000_000, sentAtMs: 1_700_000_000_500 }, payload));
  return [
    ...sampleMessages.map((m) => ({ kind: m.kind, bytes: concat(encodeMessage(m)) })),
    { kind: 'batch', bytes: batch },
  ];
}
