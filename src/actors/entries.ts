/**
 * Host entries of the default memory store, turned into log records:
 *
 * | entry | record kind | key | payload |
 * | --- | --- | --- | --- |
 * | `{ op: 'put', memory: { id, ... } }` or a plain `{ id, ... }` | Put | id | the memory |
 * | `{ op: 'delete', id }` | Delete | id | none |
 * | `{ op: 'link', from, to, weight? }` | Link | `from + '\u0000' + to` | `{ from, to, weight? }` |
 *
 * With a custom reducer every entry is an `Entry` record whose payload is the
 * entry itself.
 *
 * @example
 * toRecordParts({ id: 'm1', text: 'hi' }) // { kind: RecordKind.Put, key: 'm1', value: { id: 'm1', text: 'hi' } }
 */
import { ReplicationError } from '../errors.js';
import { RecordKind } from '../types.js';

/** A memory: any plain object with a string `id`. */
export interface Memory {
  id: string;
  [field: string]: unknown;
}

/** An entry of the default memory store. */
export type MemoryEntry =
  | { op: 'put'; memory: Memory }
  | { op: 'delete'; id: string }
  | { op: 'link'; from: string; to: string; weight?: number }
  | Memory;

/** The parts of a log record an entry becomes. */
export interface RecordParts {
  kind: RecordKind;
  key: string;
  /** Encoded as the msgpack payload; `undefined` means no payload. */
  value: unknown;
}

const ID_MAX_CHARS = 512;
const SPACE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

function invalid(message: string): ReplicationError {
  return new ReplicationError('InvalidEntry', message, {
    suggestion: "write { id, ... }, { op: 'put', memory: { id, ... } }, { op: 'delete', id } or { op: 'link', from, to, weight? }",
  });
}

function checkId(id: unknown, field: string): string {
  if (typeof id !== 'string' || id.length === 0 || id.length > ID_MAX_CHARS || id.includes('\u0000')) {
    throw invalid(`'${field}' must be a non-empty string of at most ${ID_MAX_CHARS} characters without NUL`);
  }
  return id;
}

/** Throws `InvalidEntry` unless `space` is 1-128 of `A-Z a-z 0-9 . _ : -`, starting with a letter or digit. */
export function checkSpaceName(space: unknown): string {
  if (typeof space !== 'string' || !SPACE_PATTERN.test(space)) {
    throw new ReplicationError('InvalidEntry', `space name ${JSON.stringify(space)} is not allowed`, {
      suggestion: 'use 1-128 characters from A-Z a-z 0-9 . _ : - starting with a letter or digit',
    });
  }
  return space;
}

/** The record parts of a memory-store entry; throws `InvalidEntry` for anything else. */
export function memoryRecordParts(entry: unknown): RecordParts {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw invalid('an entry must be an object');
  const e = entry as Record<string, unknown>;
  switch (e['op']) {
    case undefined:
      return { kind: RecordKind.Put, key: checkId(e['id'], 'id'), value: entry };
    case 'put': {
      const memory = e['memory'];
      if (typeof memory !== 'object' || memory === null || Array.isArray(memory)) throw invalid("'memory' must be an object");
      return { kind: RecordKind.Put, key: checkId((memory as Record<string, unknown>)['id'], 'memory.id'), value: memory };
    }
    case 'delete':
      return { kind: RecordKind.Delete, key: checkId(e['id'], 'id'), value: undefined };
    case 'link': {
      const from = checkId(e['from'], 'from');
      const to = checkId(e['to'], 'to');
      const weight = e['weight'];
      if (weight !== undefined && (typeof weight !== 'number' || !Number.isFinite(weight))) throw invalid("'weight' must be a finite number");
      return { kind: RecordKind.Link, key: `${from}\u0000${to}`, value: weight === undefined ? { from, to } : { from, to, weight } };
    }
    default:
      throw invalid(`unknown op ${JSON.stringify(e['op'])}`);
  }
}

/** The record parts of an entry for a custom reducer: an `Entry` record carrying the entry. */
export function customRecordParts(entry: unknown): RecordParts {
  if (entry === undefined) throw invalid('an entry must not be undefined');
  return { kind: RecordKind.Entry, key: '', value: entry };
}
