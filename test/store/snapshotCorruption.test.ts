/**
 * Damaged snapshots are refused, never restored into a different state:
 * every single-bit flip and every truncation of a memory store snapshot and a
 * reducer snapshot throws `Corruption` and leaves the target as it was; and
 * bodies with a valid CRC but impossible content (written by hand) are
 * refused by the structural checks behind the CRC.
 */
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MemoryStore, reducerProjection } from '../../src/store/index.js';
import { SNAPSHOT_HEADER_BYTES, beginSnapshot, sealSnapshot } from '../../src/store/snapshotFrame.js';
import { decodePayload, encodePayload } from '../../src/wire/index.js';
import { del, link, put, record, throwsCode } from './storeHelpers.js';

function sampleStore(): MemoryStore {
  const store = new MemoryStore();
  store.apply(put('notes', 'm1', { text: 'harbour', w: 1 }));
  store.apply(put('notes', 'mé2', [1, 2, 3]));
  store.apply(put('spåce', 'x', 'y'));
  store.apply(link('notes', 'm1', 'mé2', 0.5));
  store.apply(link('lonely', 'a', 'b'));
  return store;
}

/** A store that already holds something else, to check a failed restore keeps it. */
function bystander(): { store: MemoryStore; before: number[] } {
  const store = new MemoryStore();
  store.apply(put('keep', 'me', 42));
  return { store, before: [...store.snapshot()] };
}

test('memory store: every single-bit flip and every truncation is Corruption; state kept', () => {
  const bytes = sampleStore().snapshot();
  const { store, before } = bystander();
  for (let bit = 0; bit < bytes.length * 8; bit++) {
    const copy = bytes.slice();
    copy[bit >> 3]! ^= 1 << (bit & 7);
    throwsCode(() => store.restore(copy), 'Corruption', `flip of bit ${bit}`);
  }
  for (let n = 0; n < bytes.length; n++) throwsCode(() => store.restore(bytes.subarray(0, n)), 'Corruption', `truncated to ${n}`);
  const longer = new Uint8Array(bytes.length + 1);
  longer.set(bytes);
  throwsCode(() => store.restore(longer), 'Corruption', 'one byte appended');
  assert.equal([...store.snapshot()], before, 'the failed restores left the store as it was');
  store.restore(bytes);
  assert.equal(store.read('notes', 'm1'), { text: 'harbour', w: 1 }, 'the intact snapshot still restores');
});

test('memory store: any byte replaced by any other value in random stores is Corruption (property)', () => {
  const ops = fc.array(fc.tuple(fc.constantFrom('put', 'del', 'link'), fc.constantFrom('a', 'b'), fc.constantFrom('1', '2', '3'), fc.string({ maxLength: 30 })), { minLength: 1, maxLength: 30 });
  fc.assert(fc.property(ops, fc.nat(), fc.integer({ min: 1, max: 255 }), (list, where, xor) => {
    const store = new MemoryStore();
    for (const [op, s, id, text] of list) store.apply(op === 'put' ? put(s, id, text) : op === 'del' ? del(s, id) : link(s, id, '3', text.length));
    const bytes = store.snapshot();
    const copy = bytes.slice();
    copy[where % copy.length]! ^= xor;
    throwsCode(() => new MemoryStore().restore(copy), 'Corruption', `byte ${where % copy.length} ^ ${xor}`);
  }), { numRuns: 300 });
});

/** A snapshot with a correct envelope (length, CRC) around hand-written body bytes. */
function sealed(body: number[], version = 1): Uint8Array {
  const out = beginSnapshot('EGMS', version, body.length);
  out.set(body, SNAPSHOT_HEADER_BYTES);
  return sealSnapshot(out);
}
const u32 = (n: number) => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24];
const u16 = (n: number) => [n & 0xff, n >>> 8];
const str8 = (s: string) => [s.length, ...new TextEncoder().encode(s)];
const mem = (key: string, payload: number[]) => [...u16(key.length), ...new TextEncoder().encode(key), ...u32(payload.length), ...payload];

test('memory store: well-sealed but impossible bodies are Corruption', () => {
  const ok = [...u32(1), ...str8('s'), ...u32(1), ...mem('k', [0x01]), ...u32(0)];
  const store = new MemoryStore();
  store.restore(sealed(ok));
  assert.is(store.read('s', 'k'), 1, 'the hand-written body is valid');
  assert.equal([...store.snapshot()], [...sealed(ok)], 'and is exactly what the writer produces');
  const bad: [string, Uint8Array][] = [
    ['unknown version', sealed(ok, 2)],
    ['trailing bytes', sealed([...ok, 0])],
    ['space count too high', sealed([...u32(2), ...ok.slice(4)])],
    ['memory count too high', sealed([...u32(1), ...str8('s'), ...u32(2), ...mem('k', [1]), ...u32(0)])],
    ['payload length past the end', sealed([...u32(1), ...str8('s'), ...u32(1), ...u16(1), 0x6b, ...u32(99), 1, ...u32(0)])],
    ['empty key', sealed([...u32(1), ...str8('s'), ...u32(1), ...mem('', [1]), ...u32(0)])],
    ['repeated key', sealed([...u32(1), ...str8('s'), ...u32(2), ...mem('k', [1]), ...mem('k', [2]), ...u32(0)])],
    ['repeated space', sealed([...u32(2), ...str8('s'), ...u32(1), ...mem('k', [1]), ...u32(0), ...str8('s'), ...u32(1), ...mem('j', [1]), ...u32(0)])],
    ['empty space', sealed([...u32(1), ...str8('s'), ...u32(0), ...u32(0)])],
    ['empty space name', sealed([...u32(1), 0, ...u32(1), ...mem('k', [1]), ...u32(0)])],
    ['invalid UTF-8 key', sealed([...u32(1), ...str8('s'), ...u32(1), ...u16(1), 0xff, ...u32(1), 1, ...u32(0)])],
    ['link with empty source', sealed([...u32(1), ...str8('s'), ...u32(0), ...u32(1), ...u16(0), ...u16(1), 0x62, ...u32(0)])],
  ];
  for (const [what, bytes] of bad) throwsCode(() => store.restore(bytes), 'Corruption', what);
  assert.is(store.read('s', 'k'), 1, 'still the last good state');
});

const counter = {
  init: () => ({}) as Record<string, number>,
  apply: (s: Record<string, number>, e: { space: string }) => ({ ...s, [e.space]: (s[e.space] ?? 0) + 1 }),
  snapshot: (s: Record<string, number>) => encodePayload(s).slice(),
  restore: (b: Uint8Array) => decodePayload(b) as Record<string, number>,
  count: (s: Record<string, number>, space: string) => s[space] ?? 0,
};

test('reducer projection: every bit flip and truncation of its envelope is Corruption; state kept', () => {
  const p = reducerProjection(counter);
  for (const s of ['a', 'b', 'a']) p.apply(record(0, s, '', { n: 1 }));
  const bytes = p.snapshot();
  const target = reducerProjection(counter);
  target.apply(record(0, 'z', '', 1));
  for (let bit = 0; bit < bytes.length * 8; bit++) {
    const copy = bytes.slice();
    copy[bit >> 3]! ^= 1 << (bit & 7);
    throwsCode(() => target.restore(copy), 'Corruption', `flip of bit ${bit}`);
  }
  for (let n = 0; n < bytes.length; n++) throwsCode(() => target.restore(bytes.subarray(0, n)), 'Corruption', `truncated to ${n}`);
  throwsCode(() => target.restore(new MemoryStore().snapshot()), 'Corruption', 'a memory store snapshot is not a reducer snapshot');
  assert.is(target.count('z'), 1, 'the failed restores left the state as it was');
  target.restore(bytes);
  assert.is(target.count('a'), 2);
});

test.run();
