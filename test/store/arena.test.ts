/**
 * The store's internals on their own: the byte arena (stable handles,
 * compaction, bounded size) and the per-space hash table (probing,
 * backward-shift deletion, insertion order) against Map models, with hashes
 * chosen to collide and wrap around the table end.
 */
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Arena } from '../../src/store/arena.js';
import { KEY_PREFIX_BYTES, MemoryTable, encodeKey, hashKey } from '../../src/store/memoryTable.js';

/** Bytes `length` long, filled from `seed`, so a mix-up shows. */
function pattern(seed: number, length: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (seed * 31 + i * 7) & 0xff);
}

test('arena: random alloc/realloc/free keeps every handle\'s bytes, across compactions', () => {
  const step = fc.record({ kind: fc.constantFrom('alloc', 'realloc', 'free'), pick: fc.nat(), length: fc.oneof(fc.nat(40), fc.nat(300)) });
  fc.assert(fc.property(fc.array(step, { maxLength: 300 }), fc.constantFrom(64, 128, 1024), (steps, chunkBytes) => {
    const arena = new Arena({ chunkBytes });
    const model = new Map<number, Uint8Array>();
    let seed = 0;
    for (const s of steps) {
      const handles = [...model.keys()];
      const h = handles[s.pick % Math.max(1, handles.length)];
      if (s.kind === 'alloc' || h === undefined) {
        const bytes = pattern(++seed, s.length);
        const n = arena.alloc(bytes.length);
        assert.not.ok(model.has(n), 'a live handle was handed out twice');
        arena.view(n).set(bytes);
        model.set(n, bytes);
      } else if (s.kind === 'realloc') {
        const bytes = pattern(++seed, s.length);
        arena.realloc(h, bytes.length);
        arena.view(h).set(bytes);
        model.set(h, bytes);
      } else {
        arena.free(h);
        model.delete(h);
      }
      arena.settle();
    }
    for (const [h, bytes] of model) assert.equal([...arena.view(h)], [...bytes], `handle ${h}`);
    const stats = arena.stats();
    assert.is(stats.handles, model.size);
    assert.is(stats.liveBytes, [...model.values()].reduce((n, b) => n + 8 + b.length, 0));
  }), { numRuns: 300 });
});

test('arena: a million overwrites of fixed-size entries stay within 2x live + 2 chunks', () => {
  const arena = new Arena({ chunkBytes: 64 * 1024 });
  const handles = Array.from({ length: 5000 }, () => arena.alloc(100));
  for (let i = 0; i < 1_000_000; i++) {
    const h = handles[(i * 7919) % handles.length]!;
    arena.realloc(h, 100);
    arena.view(h)[0] = i & 0xff;
    arena.settle();
  }
  const { liveBytes, reservedBytes, chunks } = arena.stats();
  assert.is(liveBytes, 5000 * 108);
  assert.ok(reservedBytes <= 2 * liveBytes + 2 * 64 * 1024, `${reservedBytes} bytes reserved for ${liveBytes} live (${chunks} chunks)`);
  assert.is(arena.view(handles[(999_999 * 7919) % 5000]!)[0], 999_999 & 0xff);
});

test('arena: an entry larger than a chunk gets its own chunk, released on free', () => {
  const arena = new Arena({ chunkBytes: 256 });
  const small = arena.alloc(10);
  const big = arena.alloc(10_000);
  arena.view(big).set(pattern(3, 10_000));
  assert.is(arena.stats().chunks, 2);
  assert.equal([...arena.view(big)], [...pattern(3, 10_000)]);
  arena.free(big);
  arena.settle();
  assert.is(arena.stats().chunks, 1);
  assert.is(arena.stats().reservedBytes, 256);
  assert.is(arena.length(small), 10);
  assert.throws(() => new Arena({ chunkBytes: 10 }), /chunkBytes/);
});

test('table: put/find/delete and order agree with a Map under colliding, wrapping hashes', () => {
  const step = fc.record({ del: fc.boolean(), key: fc.nat(60), value: fc.nat(255) });
  fc.assert(fc.property(fc.array(step, { maxLength: 400 }), fc.constantFrom(1, 3, 7, 1023), (steps, spread) => {
    const arena = new Arena({ chunkBytes: 512 });
    const table = new MemoryTable(arena);
    const model = new Map<string, number>();
    const scratch = new Uint8Array(64);
    // few distinct hashes, all near the top of small tables: long chains that wrap
    const hashOf = (k: number) => (spread === 1023 ? hashKey(scratch, encodeKey(`k${k}`, scratch)) : -1 - (k % spread));
    for (const s of steps) {
      const n = encodeKey(`k${s.key}`, scratch);
      if (s.del) assert.is(table.delete(scratch, n, hashOf(s.key)), model.delete(`k${s.key}`));
      else assert.is(table.put(scratch, n, hashOf(s.key), Uint8Array.of(s.value)), !model.has(`k${s.key}`));
      if (!s.del) model.set(`k${s.key}`, s.value);
      arena.settle();
    }
    assert.is(table.size, model.size);
    for (let k = 0; k <= 60; k++) {
      const n = encodeKey(`k${k}`, scratch);
      const h = table.find(scratch, n, hashOf(k));
      const want = model.get(`k${k}`);
      if (want === undefined) assert.is(h, -1, `k${k} should be absent`);
      else assert.equal([...arena.view(h).subarray(KEY_PREFIX_BYTES + n)], [want], `k${k}`);
    }
    const order: string[] = [];
    for (let i = 0; i < table.orderLength; i++) {
      const h = table.handleAt(i);
      if (h < 0) continue;
      const v = arena.view(h);
      order.push(new TextDecoder().decode(v.subarray(KEY_PREFIX_BYTES, KEY_PREFIX_BYTES + (v[0]! | (v[1]! << 8)))));
    }
    assert.equal(order, [...model.keys()], 'insertion order');
  }), { numRuns: 300 });
});

test('table: order survives compaction of deleted positions, then more deletes and puts', () => {
  const arena = new Arena({ chunkBytes: 256 });
  const table = new MemoryTable(arena);
  const scratch = new Uint8Array(16);
  const op = (kind: 'put' | 'delete', k: number) => {
    const n = encodeKey(`k${k}`, scratch);
    return kind === 'put' ? table.put(scratch, n, hashKey(scratch, n), Uint8Array.of(k)) : table.delete(scratch, n, hashKey(scratch, n));
  };
  const live = new Set<number>();
  for (let k = 0; k < 100; k++) { op('put', k); live.add(k); }
  for (let k = 0; k < 100; k++) if (k % 5 !== 0) { assert.ok(op('delete', k)); live.delete(k); } // 80 holes: compacts
  assert.ok(table.orderLength < 100, `order list compacted (length ${table.orderLength})`);
  for (const k of [10, 50, 95]) { assert.ok(op('delete', k)); live.delete(k); } // deletes after compaction
  for (const k of [3, 10]) { assert.ok(op('put', k)); live.add(k); }
  const order: number[] = [];
  for (let i = 0; i < table.orderLength; i++) {
    const h = table.handleAt(i);
    if (h >= 0) order.push(arena.view(h).at(-1)!);
  }
  assert.equal(order, [...live]);
  assert.is(table.size, live.size);
});

test('encodeKey and hashKey: UTF-8 bytes, -1 when the key does not fit, stable hashes', () => {
  const scratch = new Uint8Array(8);
  assert.is(encodeKey('abc', scratch), 3);
  assert.is(encodeKey('é', scratch), 2);
  assert.equal([...scratch.subarray(0, 2)], [0xc3, 0xa9]);
  assert.is(encodeKey('123456789', scratch), -1);
  assert.is(encodeKey('ééééé', scratch), -1);
  const bytes = new TextEncoder().encode('xxm1');
  assert.is(hashKey(bytes, 2, 2), hashKey(new TextEncoder().encode('m1'), 2));
  assert.is.not(hashKey(bytes, 2, 2), hashKey(new TextEncoder().encode('m2'), 2));
});

test.run();
