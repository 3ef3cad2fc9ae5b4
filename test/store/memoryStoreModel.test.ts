/**
 * Property: any sequence of puts, deletes, links (and mid-way snapshot ->
 * restore) leaves the MemoryStore agreeing with a plain Map model on every
 * read, count, id order and edge list; and snapshot -> restore into a fresh
 * store gives the same answers and the same snapshot bytes. Tiny arena chunks
 * make the compaction run all the time.
 */
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MemoryStore } from '../../src/store/index.js';
import { RecordKind } from '../../src/types.js';
import { StoreModel, del, link, put, record } from './storeHelpers.js';

const SPACES = ['notes', 'people', 'spåce'];
const IDS = ['m1', 'm2', 'm3', 'm4', 'mémoire', '記憶', 'x'.repeat(40), 'm1 '];
const value = fc.oneof(
  fc.record({ text: fc.string({ maxLength: 80 }), n: fc.integer(), tags: fc.array(fc.string({ maxLength: 6 }), { maxLength: 3 }) }, { noNullPrototype: true }),
  fc.string({ maxLength: 300 }),
  fc.double({ noNaN: true }),
  fc.boolean(),
  fc.constant(null),
);
type Op =
  | { op: 'put'; space: string; id: string; value: unknown }
  | { op: 'del'; space: string; id: string }
  | { op: 'link'; space: string; from: string; to: string; weight: number | undefined }
  | { op: 'noise'; space: string }
  | { op: 'restore' };
const space = fc.constantFrom(...SPACES);
const id = fc.constantFrom(...IDS);
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant('put' as const), space, id, value }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('del' as const), space, id }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('link' as const), space, from: id, to: id, weight: fc.option(fc.double({ noNaN: true }), { nil: undefined }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('noise' as const), space }) },
  { weight: 1, arbitrary: fc.constant({ op: 'restore' as const }) },
);

function applyAll(store: MemoryStore, model: StoreModel, ops: Op[]): void {
  for (const o of ops) {
    if (o.op === 'put') { store.apply(put(o.space, o.id, o.value)); model.put(o.space, o.id, o.value); }
    else if (o.op === 'del') { store.apply(del(o.space, o.id)); model.delete(o.space, o.id); }
    else if (o.op === 'link') { store.apply(link(o.space, o.from, o.to, o.weight)); model.link(o.space, o.from, o.to, o.weight); }
    else if (o.op === 'noise') { store.apply(record(RecordKind.EpochStart, o.space, '')); store.apply(record(RecordKind.Entry, o.space, 'm1', 7)); }
    else store.restore(store.snapshot());
  }
}

function assertAgrees(store: MemoryStore, model: StoreModel, label: string): void {
  assert.equal([...store.spaces()].sort(), model.spaces(), `${label}: spaces`);
  let memories = 0;
  let edges = 0;
  for (const s of SPACES) {
    const m = model.memories.get(s) ?? new Map<string, unknown>();
    memories += m.size;
    assert.is(store.count(s), m.size, `${label}: count(${s})`);
    assert.equal([...store.memoryIds(s)], [...m.keys()], `${label}: memoryIds(${s}) order`);
    for (const i of IDS) {
      assert.equal(store.read(s, i), m.get(i), `${label}: read(${s}, ${i})`);
      const e = model.edges(s, i);
      edges += e.length;
      assert.equal(store.edges(s, i), e, `${label}: edges(${s}, ${i})`);
    }
  }
  const stats = store.stats();
  assert.is(stats.memories, memories, `${label}: total memories`);
  assert.is(stats.edges, edges, `${label}: total edges`);
  assert.is(stats.arena.handles, memories + edges, `${label}: one arena handle per memory and link`);
}

test('random op sequences agree with the Map model; snapshot -> restore is exact', () => {
  fc.assert(fc.property(fc.array(op, { maxLength: 120 }), fc.constantFrom(64, 96, 256, 4096), (ops, chunkBytes) => {
    const store = new MemoryStore({ chunkBytes });
    const model = new StoreModel();
    applyAll(store, model, ops);
    assertAgrees(store, model, 'live');
    const bytes = store.snapshot();
    const copy = new MemoryStore();
    copy.restore(bytes);
    assertAgrees(copy, model, 'restored');
    assert.equal([...copy.snapshot()], [...bytes], 'snapshot of the restored store is byte-identical');
    // the restored copy keeps evolving like the original
    const more: Op[] = [{ op: 'put', space: 'notes', id: 'm2', value: 'after' }, { op: 'del', space: 'people', id: 'm1' }];
    applyAll(store, model, more);
    applyAll(copy, new StoreModel(), more);
    assert.equal([...copy.snapshot()], [...store.snapshot()], 'same records after restore -> same state');
  }), { numRuns: 250 });
});

test('a long overwrite/delete run keeps the arena bounded and compacted', () => {
  const store = new MemoryStore({ chunkBytes: 4096 });
  const model = new StoreModel();
  let seed = 7;
  const rnd = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n);
  for (let i = 0; i < 20_000; i++) {
    const s = SPACES[rnd(3)]!;
    const k = `id-${rnd(300)}`;
    if (rnd(4) === 0) { store.apply(del(s, k)); model.delete(s, k); }
    else { const v = 'v'.repeat(rnd(120)); store.apply(put(s, k, v)); model.put(s, k, v); }
  }
  for (const s of SPACES) {
    const m = model.memories.get(s)!;
    assert.is(store.count(s), m.size);
    for (const [k, v] of m) assert.is(store.read(s, k), v);
  }
  const { liveBytes, reservedBytes } = store.stats().arena;
  assert.ok(reservedBytes <= 2 * liveBytes + 3 * 4096, `arena holds ${reservedBytes} bytes for ${liveBytes} live`);
});

test.run();
