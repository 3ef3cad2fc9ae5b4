/**
 * Shared builders for the store tests (not a test file itself): records made
 * through the real record codec, a typed-error assertion, and a plain `Map`
 * model of the memory store to compare against.
 */
import * as assert from 'uvu/assert';
import { type ErrorCode, ReplicationError } from '../../src/errors.js';
import type { AppliedRecord } from '../../src/store/index.js';
import { RecordKind } from '../../src/types.js';
import { encodePayload, encodeRecord, readRecord } from '../../src/wire/index.js';

let nextLsn = 1;

/**
 * An applied record made the way a replica gets one: encoded with
 * `encodeRecord`, read back with `readRecord` (so `payload` is a view into
 * the record bytes). `value === undefined` means no payload; a Uint8Array is
 * used as the raw payload.
 */
export function record(kind: number, space: string, key: string, value?: unknown): AppliedRecord {
  const lsn = nextLsn++;
  const payload = value === undefined ? undefined : value instanceof Uint8Array ? value : encodePayload(value).slice();
  return readRecord(encodeRecord({ lsn, seq: lsn, timestampMs: 1_732_250_000_000 + lsn, epoch: 1, kind, space, key }, payload));
}

export const put = (space: string, id: string, value: unknown): AppliedRecord => record(RecordKind.Put, space, id, value);
export const del = (space: string, id: string): AppliedRecord => record(RecordKind.Delete, space, id);
export const link = (space: string, from: string, to: string, weight?: number): AppliedRecord =>
  record(RecordKind.Link, space, `${from}\u0000${to}`, weight === undefined ? { from, to } : { from, to, weight });

/** Runs `fn`, asserts it throws a ReplicationError with `code`, returns it. */
export function throwsCode(fn: () => unknown, code: ErrorCode, what = ''): ReplicationError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ReplicationError, `${what}: threw a non-ReplicationError: ${String(err)}`);
    assert.is(err.code, code, `${what}: expected ${code}, got ${err.code} (${err.message})`);
    return err;
  }
  assert.unreachable(`${what}: expected ${code}, nothing was thrown`);
  throw new Error('unreachable');
}

/** The memory store as plain maps: space -> id -> value, and space -> from -> to -> weight. */
export class StoreModel {
  memories = new Map<string, Map<string, unknown>>();
  links = new Map<string, Map<string, Map<string, number | undefined>>>();

  put(space: string, id: string, value: unknown): void {
    let m = this.memories.get(space);
    if (!m) this.memories.set(space, (m = new Map()));
    m.set(id, value);
  }

  link(space: string, from: string, to: string, weight: number | undefined): void {
    let s = this.links.get(space);
    if (!s) this.links.set(space, (s = new Map()));
    let t = s.get(from);
    if (!t) s.set(from, (t = new Map()));
    t.set(to, weight);
  }

  delete(space: string, id: string): void {
    this.memories.get(space)?.delete(id);
    const s = this.links.get(space);
    if (s) {
      s.delete(id);
      for (const [from, t] of s) {
        t.delete(id);
        if (t.size === 0) s.delete(from);
      }
    }
    if ((this.memories.get(space)?.size ?? 0) === 0) this.memories.delete(space);
    if ((this.links.get(space)?.size ?? 0) === 0) this.links.delete(space);
  }

  spaces(): string[] {
    return [...new Set([...this.memories.keys(), ...this.links.keys()])].sort();
  }

  edges(space: string, from: string): { to: string; weight?: number }[] {
    const t = this.links.get(space)?.get(from);
    return t ? [...t].map(([to, weight]) => (weight === undefined ? { to } : { to, weight })) : [];
  }
}
