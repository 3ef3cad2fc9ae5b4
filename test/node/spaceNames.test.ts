/**
 * SpaceNames, the applier's cache of decoded space names: a name comes back
 * equal to a fresh decode whatever the interleaving, including names that
 * share a slot of its table and non-ASCII names, and a repeated name is the
 * same string (no new string per record).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SpaceNames } from '../../src/actors/spaceNames.js';

const encoder = new TextEncoder();

/** `name` as UTF-8 at offset 3 of a buffer with other bytes around it. */
function placed(name: string): { bytes: Uint8Array; start: number; end: number } {
  const body = encoder.encode(name);
  const bytes = new Uint8Array(body.length + 6).fill(0x7e);
  bytes.set(body, 3);
  return { bytes, start: 3, end: 3 + body.length };
}

test('1,000 names interleaved decode like TextDecoder, every time', () => {
  const names = new SpaceNames();
  const all = Array.from({ length: 1000 }, (_, i) => (i % 7 === 0 ? `espacio-ñ-${i}-🦉` : `space-${i}`));
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < all.length; i += 1 + round) {
      const { bytes, start, end } = placed(all[i]!);
      assert.is(names.decode(bytes, start, end), all[i]);
    }
  }
});

test('a repeated name is the very same string; names of equal length that differ are not confused', () => {
  const names = new SpaceNames();
  const a = placed('space-01');
  const first = names.decode(a.bytes, a.start, a.end);
  const again = placed('space-01');
  assert.ok(Object.is(names.decode(again.bytes, again.start, again.end), first));
  const b = placed('space-10');
  assert.is(names.decode(b.bytes, b.start, b.end), 'space-10');
  a.bytes[a.start] = 0x53; // the cached copy is not a view of the caller's bytes
  assert.is(names.decode(again.bytes, again.start, again.end), 'space-01');
});

test.run();
