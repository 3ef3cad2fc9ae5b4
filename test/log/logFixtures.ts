/**
 * Shared fixtures of the log tests: a seeded random source, sample records
 * with varied spaces, keys, kinds and payloads, and helpers that read a log
 * back record by record.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as assert from 'uvu/assert';
import { nodeFileSystem } from '../../src/adapters/nodeFileSystem.js';
import { type Log, type LogOptions, type LogRead, openLog, parseSegmentName } from '../../src/log/index.js';
import { encodePayload } from '../../src/wire/payload.js';
import { type DecodedRecord, readRecord } from '../../src/wire/record.js';
import { viewOf } from '../../src/wire/u64.js';

export { seededRandom } from '../helpers/prng.js';

/** The seed of a test run: `SEED=n` in the environment, or a fixed default. */
export function testSeed(fallback: number): number {
  const fromEnv = Number(process.env.SEED);
  return Number.isSafeInteger(fromEnv) && process.env.SEED !== undefined ? fromEnv : fallback;
}

/** One record to append, and what it must read back as. */
export interface Sample {
  space: string;
  key: string;
  kind: number;
  seq: number;
  timestampMs: number;
  payload: Uint8Array | undefined;
}

const SPACES = ['notes', 'ノート', 'émoji😀', 's', 'x'.repeat(255)];
const KEYS = ['', 'm1', 'ключ-7', '🔑', 'k'.repeat(200)];

/** `n` varied samples: multi-byte UTF-8, empty and absent payloads, small and large payloads. */
export function makeSamples(n: number, random: () => number, maxPayloadBytes = 600): Sample[] {
  const out: Sample[] = [];
  for (let i = 0; i < n; i++) {
    const pick = Math.floor(random() * 6);
    let payload: Uint8Array | undefined;
    if (pick === 0) payload = undefined;
    else if (pick === 1) payload = new Uint8Array(0);
    else {
      const text = 'é'.repeat(Math.floor(random() * maxPayloadBytes / 2));
      payload = encodePayload({ i, text, n: random() }).slice();
    }
    out.push({
      space: SPACES[Math.floor(random() * SPACES.length)]!,
      key: KEYS[Math.floor(random() * KEYS.length)]!,
      kind: Math.floor(random() * 5),
      seq: i + 1,
      timestampMs: 1_700_000_000_000 + i,
      payload,
    });
  }
  return out;
}

/** Appends the samples in one tick; returns their LSNs. */
export function appendAll(log: Log, samples: readonly Sample[]): number[] {
  return samples.map((s) => log.append(s.space, s.key, s.kind, s.seq, s.payload, s.timestampMs));
}

/** Splits the bytes of a `LogRead` into decoded records (payloads are views). */
export function recordsOf(read: LogRead): DecodedRecord[] {
  const out: DecodedRecord[] = [];
  const view = viewOf(read.bytes);
  for (let offset = 0; offset < read.bytes.length; offset += view.getUint32(offset, true)) {
    out.push(readRecord(read.bytes, view, offset));
  }
  assert.is(out.length, read.count, 'LogRead.count matches the records in its bytes');
  return out;
}

/** Every durable record from `fromLsn` on, read through a cursor in chunks of about `maxBytes`. */
export async function readAll(log: Log, fromLsn = log.firstLsn, maxBytes = 4096): Promise<DecodedRecord[]> {
  const cursor = log.cursor(fromLsn);
  const out: DecodedRecord[] = [];
  for (let read = await cursor.next(maxBytes); read !== undefined; read = await cursor.next(maxBytes)) {
    assert.is(read.firstLsn, fromLsn + out.length, 'cursor reads continue where they left off');
    out.push(...recordsOf(read));
  }
  return out;
}

/** Asserts that `record` is `sample` stored at `lsn` with `epoch`. */
export function expectRecord(record: DecodedRecord | undefined, sample: Sample, lsn: number, epoch?: number): void {
  assert.ok(record, `record ${lsn} exists`);
  assert.is(record.lsn, lsn);
  assert.is(record.space, sample.space);
  assert.is(record.key, sample.key);
  assert.is(record.kind, sample.kind);
  assert.is(record.seq, sample.seq);
  assert.is(record.timestampMs, sample.timestampMs);
  if (epoch !== undefined) assert.is(record.epoch, epoch);
  assert.equal([...record.payload], [...(sample.payload ?? [])], `payload of ${lsn}`);
}

/** Opens a log on the real disk with small, fast defaults (4 KiB segments, no preallocation). */
export function openSmallLog(dir: string, options: Partial<LogOptions> = {}): Promise<Log> {
  return openLog({ dir, fs: nodeFileSystem, segmentBytes: 4096, preallocate: false, ...options });
}

/** Segment file names of `dir`, in LSN order. */
export async function segmentFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => parseSegmentName(n) !== undefined).sort();
}

/** Byte ranges `[start, end)` of the records in a segment file's bytes (stops at zero fill). */
export function recordRanges(bytes: Uint8Array): { start: number; end: number }[] {
  const view = viewOf(bytes);
  const out: { start: number; end: number }[] = [];
  let offset = 0;
  while (offset + 4 <= bytes.length) {
    const length = view.getUint32(offset, true);
    if (length === 0) break;
    out.push({ start: offset, end: offset + length });
    offset += length;
  }
  return out;
}

/** Contents of a file of `dir`. */
export async function fileBytes(dir: string, name: string): Promise<Uint8Array> {
  return new Uint8Array(await readFile(join(dir, name)));
}

/** Asserts that `promise` rejects with a ReplicationError of `code`; returns the error. */
export async function rejectsWith(promise: Promise<unknown>, code: string): Promise<{ code: string; message: string; context?: Record<string, unknown> | undefined }> {
  try {
    await promise;
  } catch (err) {
    const e = err as { name?: string; code?: string; message: string; context?: Record<string, unknown> };
    assert.is(e.name, 'ReplicationError', `expected a ReplicationError, got ${String(err)}`);
    assert.is(e.code, code, `expected code ${code}, got ${e.code}: ${e.message}`);
    return e as { code: string; message: string; context?: Record<string, unknown> };
  }
  assert.unreachable(`expected a rejection with ${code}`);
  throw new Error('unreachable');
}

/** Like {@link rejectsWith} for a synchronous call. */
export function throwsWith(fn: () => unknown, code: string): void {
  try {
    fn();
  } catch (err) {
    const e = err as { name?: string; code?: string; message: string };
    assert.is(e.name, 'ReplicationError', `expected a ReplicationError, got ${String(err)}`);
    assert.is(e.code, code, `expected code ${code}, got ${e.code}: ${e.message}`);
    return;
  }
  assert.unreachable(`expected a throw with ${code}`);
}
