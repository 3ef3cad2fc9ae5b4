/** reducerProjection: a host reducer (a counter per space) adapted to a Projection, snapshot/restore included. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ReplicationError } from '../../src/errors.js';
import { type Reducer, type ReducerEntry, reducerProjection } from '../../src/store/index.js';
import { RecordKind } from '../../src/types.js';
import { decodePayload, encodePayload } from '../../src/wire/index.js';
import { record, throwsCode } from './storeHelpers.js';

interface Counts { perSpace: Record<string, number>; lastLsn: number; sum: number }

/** Counts entries per space and sums the numeric `n` of their values. */
const counter: Reducer<Counts> = {
  init: () => ({ perSpace: {}, lastLsn: 0, sum: 0 }),
  apply(state, entry) {
    state.perSpace[entry.space] = (state.perSpace[entry.space] ?? 0) + 1; // mutating in place is allowed
    state.lastLsn = entry.lsn;
    const n = (entry.value as { n?: unknown } | undefined)?.n;
    if (typeof n === 'number') state.sum += n;
    return state;
  },
  snapshot: (state) => encodePayload(state).slice(),
  restore: (bytes) => {
    const v = decodePayload(bytes) as Counts;
    if (typeof v !== 'object' || v === null || typeof v.sum !== 'number') throw new Error('not a Counts');
    return v;
  },
  count: (state, space) => state.perSpace[space] ?? 0,
};

test('apply hands the reducer every header field and the decoded value', () => {
  const seen: ReducerEntry[] = [];
  const p = reducerProjection<null>({ init: () => null, apply: (s, e) => (seen.push(e), s), snapshot: () => new Uint8Array(0), restore: () => null });
  const r = record(RecordKind.Entry, 'notes', 'k1', { n: 5, text: 'hi' });
  p.apply(r);
  p.apply(record(RecordKind.Put, 'notes', 'm1')); // no payload
  assert.equal(seen[0], { lsn: r.lsn, seq: r.seq, epoch: 1, space: 'notes', kind: RecordKind.Entry, key: 'k1', timestampMs: r.timestampMs, value: { n: 5, text: 'hi' } });
  assert.is(seen[1]!.value, undefined, 'an empty payload is value undefined');
  assert.is(seen[1]!.kind, RecordKind.Put, 'memory-store kinds reach a host reducer too');
  assert.is(p.count('notes'), 0, 'without reducer.count, count is 0');
});

test('a counter per space: counts, sums, EpochStart skipped', () => {
  const p = reducerProjection(counter);
  for (const [space, n] of [['a', 1], ['b', 10], ['a', 100]] as const) p.apply(record(RecordKind.Entry, space, '', { n }));
  p.apply(record(RecordKind.EpochStart, 'a', ''));
  assert.is(p.count('a'), 2);
  assert.is(p.count('b'), 1);
  assert.is(p.count('c'), 0);
  const state = decodePayload(p.snapshot().subarray(16, -4)) as Counts;
  assert.is(state.sum, 111);
});

test('snapshot -> restore gives the same counts; later records apply on top', () => {
  const p = reducerProjection(counter);
  for (let i = 0; i < 50; i++) p.apply(record(RecordKind.Entry, `s${i % 3}`, '', { n: i }));
  const bytes = p.snapshot();
  const q = reducerProjection(counter);
  q.apply(record(RecordKind.Entry, 'other', '', { n: 1 }));
  q.restore(bytes);
  assert.is(q.count('other'), 0, 'restore replaced the previous state');
  for (const s of ['s0', 's1', 's2']) assert.is(q.count(s), p.count(s));
  assert.equal([...q.snapshot()], [...bytes], 'restored state snapshots to the same bytes');
  const next = record(RecordKind.Entry, 's0', '', { n: 1 });
  p.apply(next);
  q.apply(next);
  assert.is(q.count('s0'), 18);
  assert.equal([...q.snapshot()], [...p.snapshot()]);
});

test('a payload that is not msgpack throws MalformedMessage and changes nothing', () => {
  const p = reducerProjection(counter);
  p.apply(record(RecordKind.Entry, 'a', '', { n: 1 }));
  throwsCode(() => p.apply(record(RecordKind.Entry, 'a', '', new Uint8Array([0x92, 0x01]))), 'MalformedMessage');
  assert.is(p.count('a'), 1);
});

test('a reducer whose restore throws is reported as Corruption with the cause', () => {
  const p = reducerProjection(counter);
  p.apply(record(RecordKind.Entry, 'a', '', { n: 1 }));
  // a well-formed envelope around bytes the reducer refuses
  const liar = reducerProjection<number>({ init: () => 7, apply: (s) => s, snapshot: (s) => encodePayload(s).slice(), restore: () => 0 });
  const err = throwsCode(() => p.restore(liar.snapshot()), 'Corruption');
  assert.match(err.message, /not a Counts/);
  assert.ok(err.cause instanceof Error);
  assert.is(p.count('a'), 1, 'state kept');
  // a reducer's own Corruption passes through unchanged
  const own = new ReplicationError('Corruption', 'host says no');
  const strict = reducerProjection<number>({ init: () => 0, apply: (s) => s, snapshot: () => new Uint8Array([1]), restore: () => { throw own; } });
  try {
    strict.restore(strict.snapshot());
    assert.unreachable('restore should throw');
  } catch (e) {
    assert.is(e, own);
  }
});

test.run();
