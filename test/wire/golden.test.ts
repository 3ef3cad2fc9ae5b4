/**
 * Golden wire fixtures (test/fixtures/wire, made by scripts/make-wire-fixtures.ts):
 * each file decodes to its known inputs, and encoding those inputs again gives
 * the file byte for byte, so an accidental format change fails here.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { FRAME_HEADER_BYTES, FrameReader, checkRecordAt, decodeMessage, decodePayload, readRecord, splitRecords } from '../../src/wire/index.js';
import { batchFields, batchRecords, encodeFixtures, messages, recordHeader, recordValue } from '../fixtures/wire/inputs.js';

const dir = new URL('../fixtures/wire/', import.meta.url).pathname;
const expected = encodeFixtures();

function fixture(name: string): Uint8Array {
  return new Uint8Array(readFileSync(`${dir}${name}.bin`));
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

/** Reads the single frame of a fixture through a FrameReader. */
function frameOf(name: string) {
  const reader = new FrameReader();
  reader.push(fixture(name));
  const frame = reader.next();
  assert.ok(frame !== undefined, `${name}: one whole frame`);
  assert.is(reader.next(), undefined);
  reader.finish();
  return frame;
}

test('the fixture folder holds exactly the fixtures the inputs describe, and a README', () => {
  const files = readdirSync(dir);
  assert.equal(files.filter((f) => f.endsWith('.bin')).sort(), [...expected.keys()].map((n) => `${n}.bin`).sort());
  assert.ok(files.includes('README.md'));
  assert.ok(readFileSync(`${dir}README.md`, 'utf8').includes('scripts/make-wire-fixtures.ts'));
  assert.is(expected.size, 14); // record + batch + 12 other message kinds
});

test('re-encoding the inputs reproduces every fixture byte for byte', () => {
  for (const [name, bytes] of expected) assert.is(hex(bytes), hex(fixture(name)), `${name}.bin differs from what the encoder produces now`);
});

test('fixed-layout bytes, spelled out (independent of the encoder)', () => {
  // ACK: length 37, type 4, epoch 3, received 102, flushed 101, applied 100, echo T + 5
  assert.is(hex(fixture('frame-ack')), '250000000403000000660000000000000065000000000000006400000000000000855a255293010000');
  assert.is(hex(fixture('frame-heartbeat')), '15000000050300000066000000000000008a5a255293010000');
  // record header: length 183, crc, lsn 42, seq 7, T, epoch 3, kind Put, space 5 bytes, key 10 bytes
  assert.is(hex(fixture('record').subarray(0, 4)), 'b7000000');
  assert.is(hex(fixture('record').subarray(8, 40)), '2a000000000000000700000000000000805a2552930100000300000001050a00');
  // batch frame: frame header, magic EGRB, version 1, flags 0, header 64, epoch 3, count 3, start LSN 100
  assert.is(hex(fixture('frame-batch').subarray(0, 29)), '0101000003' + '45475242' + '01' + '00' + '4000' + '03000000' + '03000000' + '6400000000000000');
});

test('record.bin decodes to its header and payload', () => {
  const bytes = fixture('record');
  assert.is(checkRecordAt(bytes, 0), bytes.length);
  const r = readRecord(bytes);
  assert.equal({ ...r, payload: undefined }, { ...recordHeader, payload: undefined });
  assert.equal(decodePayload(r.payload), recordValue);
});

test('frame-batch.bin decodes to its fields and records', () => {
  const msg = decodeMessage(frameOf('frame-batch'));
  if (msg.kind !== 'batch') throw new Error(`frame-batch.bin decoded as ${msg.kind}`);
  const { batch } = msg;
  assert.is(batch.epoch, batchFields.epoch);
  assert.is(batch.startLsn, batchFields.startLsn);
  assert.is(batch.count, batchFields.count);
  assert.is(batch.firstTimestampMs, batchFields.firstTimestampMs);
  assert.is(batch.sentAtMs, batchFields.sentAtMs);
  const split = splitRecords(batch);
  batchRecords.forEach(({ header, value }, i) => {
    const r = readRecord(batch.payload.subarray(split.offsets[i]!, split.offsets[i + 1]!));
    assert.equal({ ...r, payload: undefined }, { ...header, payload: undefined });
    if (value === undefined) assert.is(r.payload.length, 0);
    else assert.equal(decodePayload(r.payload), value);
  });
});

test('every message frame decodes to its input message', () => {
  for (const [name, msg] of Object.entries(messages)) {
    const frame = frameOf(`frame-${name}`);
    assert.equal(decodeMessage(frame), msg, name);
    assert.is(frame.body.length, fixture(`frame-${name}`).length - FRAME_HEADER_BYTES);
  }
});

test.run();
