/** FrameReader: any chunking of a stream gives the same frames; bad headers fail fast and typed. */
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ReplicationError } from '../../src/errors.js';
import {
  FRAME_HEADER_BYTES,
  type Frame,
  FrameReader,
  FrameType,
  decodeMessage,
  encodeBatchFrame,
  encodeFrameHeader,
  encodeMessage,
} from '../../src/wire/index.js';
import { concat, fail, payloadValue, recordsPayload, sampleFrames, throwsCode } from './arbitraries.js';

type Plain = { type: number; body: number[] };

/** Pushes `chunks` one by one, draining frames after each push; copies bodies out. */
function readAll(chunks: Uint8Array[], reader = new FrameReader()): Plain[] {
  const out: Plain[] = [];
  for (const chunk of chunks) {
    reader.push(chunk);
    for (let f: Frame | undefined = reader.next(); f !== undefined; f = reader.next()) out.push({ type: f.type, body: [...f.body] });
  }
  reader.finish();
  assert.is(reader.bufferedBytes, 0);
  return out;
}

/** Cuts `bytes` at the given fractions (0..1) into chunks. */
function chunked(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => Math.floor(c * bytes.length)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of [...points, bytes.length]) {
    out.push(bytes.subarray(prev, p)); // empty chunks included on purpose
    prev = p;
  }
  return out;
}

const fixed = sampleFrames().map((f) => f.bytes);
const anyFrame = fc.oneof(
  fc.constantFrom(...fixed),
  fc.uint8Array({ maxLength: 3000 }).map((bytes) => concat(encodeMessage({ kind: 'snapshotChunk', offset: 7, bytes }))),
  fc.array(payloadValue, { minLength: 1, maxLength: 6 }).map((values) =>
    concat(encodeBatchFrame({ epoch: 1, startLsn: 5, count: values.length, primaryId: 'p', firstTimestampMs: 0, sentAtMs: 0 }, recordsPayload(values, 5)))),
);

test('random chunking of many random frames yields exactly the frames of one piece (property)', () => {
  fc.assert(fc.property(fc.array(anyFrame, { minLength: 1, maxLength: 30 }), fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 60 }), (frames, cuts) => {
    const stream = concat(frames);
    const whole = readAll([stream]);
    assert.is(whole.length, frames.length);
    whole.forEach((f, i) => assert.equal(f.body, [...frames[i]!.subarray(FRAME_HEADER_BYTES)], `frame ${i}`));
    assert.equal(readAll(chunked(stream, cuts)), whole);
    assert.equal(readAll(chunked(stream, cuts), new FrameReader(undefined, { reuseAssembly: true })), whole, 'reused assembly buffer');
  }), { numRuns: 300 });
});

test('reuseAssembly: frames spanning chunks share one buffer, so a kept frame is overwritten by the next (the documented contract)', () => {
  const a = concat(encodeMessage({ kind: 'snapshotChunk', offset: 1, bytes: new Uint8Array(100).fill(1) }));
  const b = concat(encodeMessage({ kind: 'snapshotChunk', offset: 2, bytes: new Uint8Array(100).fill(2) }));
  const split = (bytes: Uint8Array): Uint8Array[] => [bytes.subarray(0, 50), bytes.subarray(50)];
  for (const reuse of [false, true]) {
    const reader = new FrameReader(undefined, { reuseAssembly: reuse });
    split(a).forEach((c) => reader.push(c));
    const first = reader.next()!;
    assert.is(first.body[first.body.length - 1], 1);
    split(b).forEach((c) => reader.push(c));
    const second = reader.next()!;
    assert.is(second.body[second.body.length - 1], 2);
    assert.is(first.body[first.body.length - 1], reuse ? 2 : 1, reuse ? 'one buffer, reused' : 'each frame its own buffer');
  }
});

test('many frames in one chunk, each a view of that chunk, and each decodes', () => {
  const frames = Array.from({ length: 50 }, (_, i) => fixed[i % fixed.length]!);
  const stream = concat(frames);
  const reader = new FrameReader();
  reader.push(stream);
  let n = 0;
  for (let f = reader.next(); f !== undefined; f = reader.next()) {
    assert.ok(f.body.buffer === stream.buffer, 'frame inside one chunk is not copied');
    assert.is(f.type, frames[n]![4]);
    decodeMessage(f);
    n++;
  }
  assert.is(n, 50);
  reader.finish();
});

test('one large frame fed one byte at a time', () => {
  const values = Array.from({ length: 60 }, (_, i) => ({ id: `m${i}`, text: 'y'.repeat(100) }));
  const frame = concat(encodeBatchFrame({ epoch: 2, startLsn: 1, count: 60, primaryId: 'p', firstTimestampMs: 0, sentAtMs: 0 }, recordsPayload(values, 1)));
  const reader = new FrameReader();
  for (let i = 0; i < frame.length - 1; i++) {
    reader.push(frame.subarray(i, i + 1));
    assert.is(reader.next(), undefined, `no frame after ${i + 1} of ${frame.length} bytes`);
  }
  reader.push(frame.subarray(frame.length - 1));
  const f = reader.next();
  assert.ok(f !== undefined);
  assert.is(f.type, FrameType.Batch);
  assert.equal([...f.body], [...frame.subarray(FRAME_HEADER_BYTES)]);
  const msg = decodeMessage(f);
  assert.is(msg.kind === 'batch' && msg.batch.count, 60);
  assert.is(reader.next(), undefined);
  reader.finish();
});

test('an oversized length prefix throws FrameTooLarge on the header alone', () => {
  const reader = new FrameReader(1000);
  const head = new Uint8Array([0xe9, 0x03, 0, 0, FrameType.Batch]); // length 1001
  reader.push(head.subarray(0, 4));
  assert.is(reader.next(), undefined, 'four bytes are not a header yet');
  reader.push(head.subarray(4));
  throwsCode(() => reader.next(), 'FrameTooLarge');
  const ok = new FrameReader(1000);
  ok.push(encodeFrameHeader(FrameType.Batch, 999, 1000)); // exactly at the limit: waits for the body
  assert.is(ok.next(), undefined);
  throwsCode(() => encodeFrameHeader(FrameType.Batch, 1000, 1000), 'FrameTooLarge', 'encoder refuses too');
  for (const bytes of [[0xff, 0xff, 0xff, 0xff, 3], [0, 0, 0, 0, 3]]) {
    const r = new FrameReader();
    r.push(new Uint8Array(bytes));
    throwsCode(() => r.next(), 'FrameTooLarge', `length bytes ${bytes.slice(0, 4).join(',')}`);
  }
});

test('an unknown type byte throws UnknownFrameType before the body arrives', () => {
  for (const type of [0, 14, 99, 255]) {
    const reader = new FrameReader();
    reader.push(new Uint8Array([100, 0, 0, 0, type]));
    const err = throwsCode(() => reader.next(), 'UnknownFrameType', `type ${type}`);
    assert.type(err.suggestion, 'string');
  }
  throwsCode(() => decodeMessage({ type: 77 as FrameType, body: new Uint8Array(0) }), 'UnknownFrameType', 'decodeMessage of a hand-made frame');
});

/** Feeds `chunks`, decoding every frame; only ReplicationErrors may escape. */
function feedGarbage(chunks: Uint8Array[]): void {
  try {
    const reader = new FrameReader(1 << 16);
    for (const c of chunks) {
      reader.push(c);
      for (let f = reader.next(); f !== undefined; f = reader.next()) decodeMessage(f);
    }
    reader.finish();
  } catch (err) {
    if (!(err instanceof ReplicationError)) throw fail(`non-ReplicationError escaped: ${String(err)}`);
  }
}

test('random garbage only ever throws ReplicationError (property)', () => {
  fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 10 }), feedGarbage), { numRuns: 1000 });
  // garbage behind a plausible header reaches every body decoder
  const plausible = fc.tuple(fc.integer({ min: 1, max: 12 }), fc.uint8Array({ maxLength: 300 })).map(([type, body]) => {
    const out = new Uint8Array(FRAME_HEADER_BYTES + body.length);
    new DataView(out.buffer).setUint32(0, body.length + 1, true);
    out[4] = type;
    out.set(body, FRAME_HEADER_BYTES);
    return out;
  });
  fc.assert(fc.property(fc.array(plausible, { minLength: 1, maxLength: 8 }), (frames) => feedGarbage(frames)), { numRuns: 2000 });
  // real frames with random bytes overwritten
  fc.assert(fc.property(fc.constantFrom(...fixed), fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 })), { minLength: 1, maxLength: 4 }), (frame, edits) => {
    const bad = frame.slice();
    for (const [at, value] of edits) bad[FRAME_HEADER_BYTES + (at % (bad.length - FRAME_HEADER_BYTES))] = value;
    feedGarbage([bad]);
  }), { numRuns: 2000 });
});

test.run();
