/**
 * Truncation sweeps over every frame kind: a stream cut anywhere inside a
 * frame yields no frame and `finish()` reports TruncatedFrame; a frame whose
 * body is cut short (with a consistent length prefix) never decodes to a
 * wrong message.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ReplicationError } from '../../src/errors.js';
import { FRAME_HEADER_BYTES, type Frame, FrameReader, FrameType, decodeMessage } from '../../src/wire/index.js';
import { fail, sampleFrames, throwsCode } from './arbitraries.js';

const frames = sampleFrames();

test('the sweep covers every frame type', () => {
  const types = new Set(frames.map((f) => f.bytes[4]));
  assert.equal([...types].sort((a, b) => a! - b!), Object.values(FrameType).sort((a, b) => a - b));
});

test('a stream cut at every length 0..n-1 yields no frame and finish() throws TruncatedFrame', () => {
  for (const { kind, bytes } of frames) {
    for (let cut = 0; cut < bytes.length; cut++) {
      for (const oneByteChunks of [false, true]) {
        const reader = new FrameReader();
        const part = bytes.subarray(0, cut);
        if (oneByteChunks) for (let i = 0; i < part.length; i++) reader.push(part.subarray(i, i + 1));
        else reader.push(part);
        assert.is(reader.next(), undefined, `${kind} cut at ${cut}: no frame`);
        assert.is(reader.bufferedBytes, cut);
        if (cut === 0) reader.finish();
        else throwsCode(() => reader.finish(), 'TruncatedFrame', `${kind} cut at ${cut}`);
      }
    }
    const reader = new FrameReader();
    reader.push(bytes);
    const whole = reader.next();
    assert.ok(whole !== undefined, `${kind}: the whole frame comes out`);
    assert.is(decodeMessage(whole).kind, kind);
  }
});

test('a second frame cut short after a whole one: the first comes out, then nothing', () => {
  for (const { kind, bytes } of frames) {
    for (let cut = 1; cut < bytes.length; cut += Math.max(1, bytes.length >> 5)) {
      const reader = new FrameReader();
      const stream = new Uint8Array(bytes.length + cut);
      stream.set(bytes, 0);
      stream.set(bytes.subarray(0, cut), bytes.length);
      reader.push(stream);
      assert.ok(reader.next() !== undefined, `${kind}: first frame`);
      assert.is(reader.next(), undefined, `${kind}: second frame cut at ${cut}`);
      throwsCode(() => reader.finish(), 'TruncatedFrame');
    }
  }
});

test('a body cut at every length decodes to a typed error, never a wrong message', () => {
  for (const { kind, bytes } of frames) {
    const type = bytes[4] as FrameType;
    const body = bytes.subarray(FRAME_HEADER_BYTES);
    for (let cut = 0; cut < body.length; cut++) {
      const frame: Frame = { type, body: body.slice(0, cut) };
      let decoded: ReturnType<typeof decodeMessage> | undefined;
      try {
        decoded = decodeMessage(frame);
      } catch (err) {
        if (!(err instanceof ReplicationError)) throw fail(`${kind} body cut at ${cut}: ${String(err)}`);
        continue;
      }
      // only a snapshot chunk is still a valid message when shorter: the same offset, fewer bytes
      if (kind !== 'snapshotChunk' || decoded.kind !== 'snapshotChunk') throw fail(`${kind} body cut at ${cut} decoded as ${decoded.kind}`);
      assert.ok(cut >= 8);
      assert.is(decoded.bytes.length, cut - 8);
    }
  }
});

test('fixed-size bodies report TruncatedFrame when short and MalformedMessage when long', () => {
  for (const { kind, bytes } of frames.filter((f) => f.kind === 'ack' || f.kind === 'heartbeat')) {
    const type = bytes[4] as FrameType;
    const body = bytes.subarray(FRAME_HEADER_BYTES);
    throwsCode(() => decodeMessage({ type, body: body.subarray(0, body.length - 1) }), 'TruncatedFrame', `${kind} short`);
    const long = new Uint8Array(body.length + 1);
    long.set(body);
    throwsCode(() => decodeMessage({ type, body: long }), 'MalformedMessage', `${kind} long`);
  }
  throwsCode(() => decodeMessage({ type: FrameType.SnapshotChunk, body: new Uint8Array(7) }), 'TruncatedFrame', 'chunk without offset');
  throwsCode(() => decodeMessage({ type: FrameType.Batch, body: new Uint8Array(63) }), 'TruncatedBatch', 'batch without header');
});

test.run();
