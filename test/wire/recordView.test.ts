/**
 * RecordView: the in-place record the applier hands to projections. It reads
 * what `readRecord` reads, makes the key and payload only when asked, and
 * forgets them when moved. A memory store fed through views (the key used
 * where it lies) ends up byte for byte like one fed decoded records.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { MemoryStore } from '../../src/store/index.js';
import { RecordKind } from '../../src/types.js';
import { encodePayload, encodeRecord, readRecord } from '../../src/wire/index.js';
import { RecordView } from '../../src/wire/recordView.js';
import { throwsCode } from '../store/storeHelpers.js';

interface Spec { kind: number; space: string; key: string; value?: unknown }

const specs: Spec[] = [
  { kind: RecordKind.Put, space: 'notes', key: 'm1', value: { id: 'm1', text: 'hello' } },
  { kind: RecordKind.Put, space: 'notes', key: 'ñandú-🦤', value: { id: 'ñandú-🦤', text: 'non-ASCII id' } },
  { kind: RecordKind.Put, space: 'ünïcode space', key: 'm1', value: [1, 2, 3] },
  { kind: RecordKind.Link, space: 'notes', key: 'm1\u0000ñandú-🦤', value: { from: 'm1', to: 'ñandú-🦤', weight: 0.5 } },
  { kind: RecordKind.Put, space: 'notes', key: 'm1', value: { id: 'm1', text: 'overwritten' } },
  { kind: RecordKind.Delete, space: 'ünïcode space', key: 'm1' },
  { kind: RecordKind.Entry, space: 'notes', key: '' },
];

/** The records of `specs` back to back in one buffer, LSN 1 first, and each record's offset. */
function batch(): { bytes: Uint8Array; offsets: number[] } {
  const records = specs.map((s, i) => encodeRecord(
    { lsn: i + 1, seq: i + 1, timestampMs: 1_732_250_000_000 + i, epoch: 2, kind: s.kind, space: s.space, key: s.key },
    s.value === undefined ? undefined : encodePayload(s.value).slice()));
  const bytes = new Uint8Array(records.reduce((n, r) => n + r.length, 0));
  const offsets: number[] = [];
  let at = 0;
  for (const r of records) {
    offsets.push(at);
    bytes.set(r, at);
    at += r.length;
  }
  return { bytes, offsets };
}

test('a view reads every field readRecord reads, at any offset, and forgets key and payload when moved', () => {
  const { bytes, offsets } = batch();
  const view = new RecordView();
  for (let i = 0; i < specs.length; i++) {
    const length = view.moveTo(bytes, offsets[i]!, i + 1, specs[i]!.space);
    const expected = readRecord(bytes, undefined, offsets[i]!);
    assert.is(length, (offsets[i + 1] ?? bytes.length) - offsets[i]!);
    assert.equal(
      { lsn: view.lsn, seq: view.seq, epoch: view.epoch, timestampMs: view.timestampMs, kind: view.kind, space: view.space, key: view.key, payload: [...view.payload] },
      { ...expected, payload: [...expected.payload] },
    );
    assert.is(view.payload.buffer, bytes.buffer, 'the payload is a view, not a copy');
    assert.is(new TextDecoder().decode(bytes.subarray(view.keyStart, view.keyStart + view.keyLength)), specs[i]!.key);
  }
});

test('a memory store fed through views equals one fed decoded records, snapshot bytes included', () => {
  const { bytes, offsets } = batch();
  const viaViews = new MemoryStore();
  const viaRecords = new MemoryStore();
  const view = new RecordView();
  for (let i = 0; i < specs.length; i++) {
    view.moveTo(bytes, offsets[i]!, i + 1, specs[i]!.space);
    viaViews.apply(view);
    viaRecords.apply(readRecord(bytes, undefined, offsets[i]!));
  }
  assert.equal([...viaViews.snapshot()], [...viaRecords.snapshot()]);
  assert.equal(viaViews.read('notes', 'm1'), { id: 'm1', text: 'overwritten' });
  assert.equal(viaViews.read('notes', 'ñandú-🦤'), { id: 'ñandú-🦤', text: 'non-ASCII id' });
  assert.equal(viaViews.edges('notes', 'm1'), [{ to: 'ñandú-🦤', weight: 0.5 }]);
  assert.equal(viaViews.spaces(), ['notes'], 'the space emptied by the delete is gone');
});

test('a put whose key is empty is refused through a view too, and changes nothing', () => {
  const bytes = encodeRecord({ lsn: 1, seq: 1, timestampMs: 0, epoch: 1, kind: RecordKind.Put, space: 'notes', key: '' }, encodePayload({ text: 'no id' }));
  const view = new RecordView();
  view.moveTo(bytes, 0, 1, 'notes');
  const store = new MemoryStore();
  throwsCode(() => store.apply(view), 'InvalidEntry', 'empty key');
  assert.equal(store.spaces(), []);
});

test.run();
