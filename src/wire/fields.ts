/**
 * Field checks for msgpack-decoded control messages: each returns the typed
 * value or throws `MalformedMessage` naming the message and field.
 */
import { ReplicationError } from '../errors.js';
import type { EpochStart } from '../types.js';

/** A decoded msgpack map, not yet trusted. */
export type Untrusted = Record<string, unknown>;

function malformed(message: string, field: string, want: string): ReplicationError {
  return new ReplicationError('MalformedMessage', `${message}: field '${field}' must be ${want}`);
}

/** The decoded value as an object, or `MalformedMessage`. */
export function asObject(value: unknown, message: string): Untrusted {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ReplicationError('MalformedMessage', `${message}: body is not a map`);
  }
  return value as Untrusted;
}

/** A non-negative safe integer field. */
export function uint(obj: Untrusted, field: string, message: string): number {
  const v = obj[field];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw malformed(message, field, 'a non-negative integer');
  return v;
}

/** A string field of at most `maxLength` characters. */
export function str(obj: Untrusted, field: string, message: string, maxLength = 1024): string {
  const v = obj[field];
  if (typeof v !== 'string' || v.length > maxLength) throw malformed(message, field, `a string of at most ${maxLength} characters`);
  return v;
}

/** An epoch history: an array of `{ epoch, startLsn }`, epochs strictly increasing. */
export function epochHistory(obj: Untrusted, field: string, message: string): EpochStart[] {
  const v = obj[field];
  if (!Array.isArray(v) || v.length > 100_000) throw malformed(message, field, 'an array of epoch starts');
  const out: EpochStart[] = [];
  for (const item of v) {
    const entry = asObject(item, message);
    const epoch = uint(entry, 'epoch', message);
    const startLsn = uint(entry, 'startLsn', message);
    const prev = out[out.length - 1];
    if (prev !== undefined && (epoch <= prev.epoch || startLsn < prev.startLsn)) {
      throw malformed(message, field, 'ordered by increasing epoch and start LSN');
    }
    out.push({ epoch, startLsn });
  }
  return out;
}
