/**
 * Codec throughput (`npm run bench -- codec`): record encode and decode in
 * entries/s, batch header + CRC in MB/s, batch verify + split in GB/s, and the
 * frame reader on 64 KiB chunks in MB/s. Every figure is 5 rounds; the median
 * is printed with all rounds. Bars (from the task): encode >= 400,000
 * entries/s, verify + split >= 1 GB/s.
 */
import { isNativeAccelerationEnabled } from 'msgpackr';
import {
  BATCH_HEADER_BYTES,
  FrameReader,
  decodeBatch,
  decodePayload,
  encodeBatchFrame,
  encodeBatchHeader,
  encodeMessage,
  encodePayload,
  encodeRecordInto,
  readRecord,
  splitRecords,
} from '../src/wire/index.js';
import { RecordKind } from '../src/types.js';
import { fmt, median } from './stats.js';

const ROUNDS = 5;
const MiB = 1024 * 1024;
let sink = 0;

/** Runs `round` ROUNDS times (after one warm-up), prints median + all rounds, returns the median. */
function measure(name: string, unit: string, digits: number, round: () => number, bar?: number): number {
  round(); // warm-up: let the JIT settle
  const values: number[] = [];
  for (let i = 0; i < ROUNDS; i++) values.push(round());
  const m = median(values);
  const verdict = bar === undefined ? '' : m >= bar ? `  (bar >= ${fmt(bar, digits)}: met)` : `  (bar >= ${fmt(bar, digits)}: MISSED)`;
  console.log(`${name.padEnd(44)} median ${fmt(m, digits).padStart(12)} ${unit}  rounds [${values.map((v) => fmt(v, digits)).join(', ')}]${verdict}`);
  return m;
}

/** Repeats `body` until at least `minMs` have passed; returns units per second. */
function rate(minMs: number, body: () => number): number {
  let units = 0;
  const start = performance.now();
  let elapsed = 0;
  do {
    units += body();
    elapsed = performance.now() - start;
  } while (elapsed < minMs);
  return units / (elapsed / 1000);
}

const TEXT = 'Met Ana at the harbour cafe; she mentioned the lighthouse restoration is behind schedule and volunteers are needed in May.';
function memory(i: number): { id: string; text: string; tags: string[]; confidence: number; createdAt: number } {
  const id = `mem-${String(i).padStart(6, '0')}`;
  return { id, text: TEXT, tags: ['a', 'b'], confidence: 0.87, createdAt: 1732250000000 + i };
}
const memories = Array.from({ length: 4096 }, (_, i) => memory(i));
const T0 = 1732250000000;

function header(i: number, lsn: number): Parameters<typeof encodeRecordInto>[2] {
  return { lsn, seq: lsn, timestampMs: T0 + i, epoch: 1, kind: RecordKind.Put, space: 'notes', key: memories[i & 4095]!.id };
}

/** Whole records of ~200-byte memories packed into one payload of about `bytes`. */
function recordPayload(bytes: number, startLsn = 1): { payload: Uint8Array; count: number } {
  const buf = new Uint8Array(bytes + 4096);
  let offset = 0;
  let count = 0;
  while (offset < bytes) {
    const m = memories[count & 4095]!;
    offset += encodeRecordInto(buf, offset, header(count, startLsn + count), encodePayload(m));
    count++;
  }
  return { payload: buf.slice(0, offset), count };
}

console.log(`msgpackr native accelerator: ${isNativeAccelerationEnabled ? 'loaded' : 'NOT loaded (pure JS path)'}`);
const sample = recordPayload(1);
console.log(`entry size: ${sample.payload.length} bytes (record header 40 + space + key + msgpack payload)`);
console.log(`rounds: ${ROUNDS} after one warm-up; figures are medians`);

// (a) encodePayload + encodeRecordInto into a preallocated buffer
const target = new Uint8Array(MiB + 64 * 1024);
let lsn = 1;
measure('(a) record encode (payload + record)', 'entries/s', 0, () => rate(400, () => {
  let offset = 0;
  let n = 0;
  while (offset < MiB) {
    offset += encodeRecordInto(target, offset, header(n, lsn++), encodePayload(memories[n & 4095]!));
    n++;
  }
  return n;
}), 400_000);

// (b) readRecord + decodePayload over a buffer of records
const decodeInput = recordPayload(MiB);
measure('(b) record decode (readRecord + payload)', 'entries/s', 0, () => rate(400, () => {
  const { payload, count } = decodeInput;
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  let offset = 0;
  for (let i = 0; i < count; i++) {
    const r = readRecord(payload, view, offset);
    const value = decodePayload(r.payload) as { confidence: number };
    sink += value.confidence + r.lsn;
    offset += view.getUint32(offset, true);
  }
  return count;
}));

// (c) batch header + CRC over a ~1 MiB payload
const batchInput = recordPayload(MiB);
const batchFields = { epoch: 1, startLsn: 1, count: batchInput.count, primaryId: 'node-a', firstTimestampMs: T0, sentAtMs: T0 };
measure('(c) batch encode (header + CRC32C, 1 MiB)', 'MB/s', 0, () => rate(300, () => {
  sink += encodeBatchHeader(batchFields, batchInput.payload)[48]!;
  return batchInput.payload.length / 1e6;
}));

// (d) decodeBatch (CRC) + splitRecords
const batchBody = new Uint8Array(BATCH_HEADER_BYTES + batchInput.payload.length);
batchBody.set(encodeBatchHeader(batchFields, batchInput.payload), 0);
batchBody.set(batchInput.payload, BATCH_HEADER_BYTES);
measure('(d) batch verify + split (1 MiB)', 'GB/s', 2, () => rate(300, () => {
  const batch = decodeBatch(batchBody);
  sink += splitRecords(batch).count;
  return batchBody.length / 1e9;
}), 1);

// (e) FrameReader over a 16 MiB stream of mixed frames, pushed as 64 KiB chunks
function buildStream(): Uint8Array {
  const parts: Uint8Array[] = [];
  let startLsn = 1;
  let total = 0;
  while (total < 16 * MiB) {
    const size = 16 * 1024 + ((startLsn * 7919) % (256 * 1024));
    const { payload, count } = recordPayload(size, startLsn);
    const [head, body] = encodeBatchFrame({ ...batchFields, startLsn, count }, payload);
    startLsn += count;
    for (const p of [head, body, ...encodeMessage({ kind: 'heartbeat', epoch: 1, primaryLsn: startLsn, sentAtMs: T0 })]) {
      parts.push(p);
      total += p.length;
    }
  }
  const out = new Uint8Array(total);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}
const stream = buildStream();
const CHUNK = 64 * 1024;
const chunks: Uint8Array[] = [];
for (let o = 0; o < stream.length; o += CHUNK) chunks.push(stream.slice(o, o + CHUNK));
measure('(e) FrameReader, 64 KiB chunks (16 MiB)', 'MB/s', 0, () => rate(300, () => {
  const reader = new FrameReader();
  let frames = 0;
  for (const chunk of chunks) {
    reader.push(chunk);
    for (let f = reader.next(); f !== undefined; f = reader.next()) { frames++; sink += f.body.length; }
  }
  reader.finish();
  if (frames === 0) throw new Error('no frames');
  return stream.length / 1e6;
}));

if (sink === 42) console.log('');
