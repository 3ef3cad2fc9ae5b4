/** MemoryStore semantics: put, delete, link, ignored kinds, validation, payload copies. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MemoryStore } from '../../src/store/index.js';
import { RecordKind } from '../../src/types.js';
import { encodePayload } from '../../src/wire/index.js';
import { del, link, put, record, throwsCode } from './storeHelpers.js';

const memory = { id: 'm1', text: 'met Ana at the harbour', tags: ['people', 'harbour'], confidence: 0.87, nested: { n: 1, ok: true, none: null } };

test('a plain object payload round-trips through read()', () => {
  const store = new MemoryStore();
  store.apply(put('notes', 'm1', memory));
  assert.equal(store.read('notes', 'm1'), memory);
  assert.equal([...store.readBytes('notes', 'm1')!], [...encodePayload(memory)]);
  assert.is(store.has('notes', 'm1'), true);
  assert.is(store.read('notes', 'm2'), undefined);
  assert.is(store.read('other', 'm1'), undefined);
  assert.is(store.readBytes('notes', ''), undefined);
});

test('put overwrites in place, count is per space, ids keep first-insertion order', () => {
  const store = new MemoryStore();
  store.apply(put('a', 'x', 1));
  store.apply(put('a', 'y', 2));
  store.apply(put('b', 'x', 3));
  store.apply(put('a', 'x', { v: 'new' }));
  assert.equal(store.read('a', 'x'), { v: 'new' });
  assert.is(store.read('b', 'x'), 3);
  assert.is(store.count('a'), 2);
  assert.is(store.count('b'), 1);
  assert.is(store.count('nope'), 0);
  assert.equal([...store.memoryIds('a')], ['x', 'y']);
  assert.equal(store.spaces(), ['a', 'b']);
});

test('delete removes the memory, is a no-op when absent, and an emptied space disappears', () => {
  const store = new MemoryStore();
  store.apply(put('a', 'x', 1));
  store.apply(put('a', 'y', 2));
  store.apply(del('a', 'x'));
  store.apply(del('a', 'ghost'));
  store.apply(del('unknown-space', 'x'));
  assert.is(store.read('a', 'x'), undefined);
  assert.is(store.count('a'), 1);
  assert.equal(store.spaces(), ['a']);
  store.apply(put('a', 'x', 'back'));
  assert.equal([...store.memoryIds('a')], ['y', 'x'], 'a re-put id goes to the end');
  store.apply(del('a', 'x'));
  store.apply(del('a', 'y'));
  assert.equal(store.spaces(), []);
  assert.equal(store.stats().arena.liveBytes, 0, 'every arena byte was freed');
});

test('links: key from\\0to, weight decoded on read, overwrite, and delete cascades both ways', () => {
  const store = new MemoryStore();
  for (const id of ['a', 'b', 'c']) store.apply(put('g', id, { id }));
  store.apply(link('g', 'a', 'b', 0.5));
  store.apply(link('g', 'a', 'c'));
  store.apply(link('g', 'c', 'a', 2));
  store.apply(link('g', 'a', 'a', 1));
  store.apply(link('g', 'a', 'b', 0.75)); // overwrite keeps the position
  assert.equal(store.edges('g', 'a'), [{ to: 'b', weight: 0.75 }, { to: 'c' }, { to: 'a', weight: 1 }]);
  assert.equal(store.edges('g', 'c'), [{ to: 'a', weight: 2 }]);
  assert.is(store.edgeCount('g'), 4);
  store.apply(del('g', 'a'));
  assert.equal(store.edges('g', 'a'), [], 'outgoing links of a deleted memory are gone');
  assert.equal(store.edges('g', 'c'), [], 'incoming links of a deleted memory are gone');
  assert.is(store.edgeCount('g'), 0);
  assert.is(store.count('g'), 2);
});

test('a link alone keeps its space alive; links may name ids not (yet) stored', () => {
  const store = new MemoryStore();
  store.apply(link('solo', 'p', 'q', 3));
  assert.equal(store.spaces(), ['solo']);
  assert.is(store.count('solo'), 0);
  assert.equal(store.edges('solo', 'p'), [{ to: 'q', weight: 3 }]);
  store.apply(del('solo', 'q'));
  assert.equal(store.spaces(), [], 'the last link went with the delete of its target');
});

test('apply never decodes: a Put of bytes that are not msgpack is stored; read() throws MalformedMessage', () => {
  const store = new MemoryStore();
  const garbage = new Uint8Array([0x92, 0x01]); // an array of 2 that ends after 1 item
  store.apply(put('a', 'bad', garbage));
  store.apply(record(RecordKind.Put, 'a', 'empty')); // no payload at all
  store.apply(record(RecordKind.Link, 'a', 'x\u0000y', new Uint8Array([0xa5, 0x61]))); // a cut-off string
  assert.is(store.count('a'), 2);
  assert.equal([...store.readBytes('a', 'bad')!], [...garbage]);
  throwsCode(() => store.read('a', 'bad'), 'MalformedMessage', 'read of garbage');
  throwsCode(() => store.read('a', 'empty'), 'MalformedMessage', 'read of an empty payload');
  throwsCode(() => store.edges('a', 'x'), 'MalformedMessage', 'edges over a garbage link payload');
});

test('the payload is copied: reusing the batch buffer after apply changes nothing', () => {
  const store = new MemoryStore();
  const r = put('a', 'm', { text: 'original' });
  store.apply(r);
  r.payload.fill(0xc1);
  assert.equal(store.read('a', 'm'), { text: 'original' });
});

test('EpochStart, Entry and unknown kinds are ignored', () => {
  const store = new MemoryStore();
  store.apply(record(RecordKind.EpochStart, 'a', ''));
  store.apply(record(RecordKind.Entry, 'a', 'k', { any: 1 }));
  store.apply(record(200, 'a', 'k', { any: 1 }));
  assert.equal(store.spaces(), []);
  assert.is(store.stats().memories, 0);
});

test('invalid records throw InvalidEntry and leave the state unchanged', () => {
  const store = new MemoryStore();
  store.apply(put('a', 'm', 1));
  const before = store.snapshot();
  const base = { lsn: 9, seq: 9, epoch: 1, timestampMs: 0, payload: encodePayload({ v: 1 }).slice() };
  const bad = [
    { ...base, kind: RecordKind.Put, space: 'a', key: '' },
    { ...base, kind: RecordKind.Put, space: 'a', key: 'k'.repeat(1025) },
    { ...base, kind: RecordKind.Put, space: '', key: 'm2' },
    { ...base, kind: RecordKind.Put, space: 's'.repeat(256), key: 'm2' },
    { ...base, kind: RecordKind.Delete, space: 'a', key: '' },
    { ...base, kind: RecordKind.Link, space: 'a', key: 'no-separator' },
    { ...base, kind: RecordKind.Link, space: 'a', key: '\u0000to' },
    { ...base, kind: RecordKind.Link, space: 'a', key: 'from\u0000' },
  ];
  for (const r of bad) throwsCode(() => store.apply(r), 'InvalidEntry', `${r.kind} ${JSON.stringify(r.key.slice(0, 20))}`);
  assert.equal([...store.snapshot()], [...before]);
});

test('non-ASCII ids and space names round-trip', () => {
  const store = new MemoryStore();
  store.apply(put('spåce 🚀', 'mémoire-1', { t: 'ü' }));
  store.apply(link('spåce 🚀', 'mémoire-1', '記憶', 0.1));
  assert.equal(store.read('spåce 🚀', 'mémoire-1'), { t: 'ü' });
  assert.equal([...store.memoryIds('spåce 🚀')], ['mémoire-1']);
  assert.equal(store.edges('spåce 🚀', 'mémoire-1'), [{ to: '記憶', weight: 0.1 }]);
});

test.run();
