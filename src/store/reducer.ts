/**
 * Projections: the state every node folds from the log (event sourcing).
 * The node calls `apply` once per record in LSN order, `snapshot` to ship or
 * keep its state, `restore` to install a snapshot. The default projection is
 * the {@link MemoryStore}; a host can plug in its own state either as a
 * {@link Projection} (full control over bytes) or as a functional
 * {@link Reducer} adapted with {@link reducerProjection}.
 *
 * @example
 * const counts = reducerProjection<Record<string, number>>({
 *   init: () => ({}),
 *   apply: (s, e) => ({ ...s, [e.space]: (s[e.space] ?? 0) + 1 }),
 *   snapshot: (s) => encodePayload(s).slice(),
 *   restore: (b) => decodePayload(b) as Record<string, number>,
 *   count: (s, space) => s[space] ?? 0,
 * })
 */
import { isReplicationError } from '../errors.js';
import { RecordKind } from '../types.js';
import { decodePayload } from '../wire/payload.js';
import { SNAPSHOT_HEADER_BYTES, beginSnapshot, corrupt, openSnapshot, sealSnapshot } from './snapshotFrame.js';

/**
 * What a projection sees for each applied record: the record header fields
 * and its payload. `payload` is a view into the batch or log buffer that is
 * valid only during the `apply` call, and the node hands every call the same
 * object moved to the next record (its `key` and `payload` made on first
 * read): copy the fields you keep, never the object.
 *
 * @example
 * const r = readRecord(bytes) // a DecodedRecord is an AppliedRecord
 * store.apply(r)
 */
export interface AppliedRecord {
  lsn: number;
  seq: number;
  epoch: number;
  timestampMs: number;
  /** A {@link RecordKind} number (0..255). */
  kind: number;
  space: string;
  /** The memory id of a put or delete, `${from}\u0000${to}` for a link, '' when none. */
  key: string;
  /** The msgpack payload (may be empty). Valid only during the call. */
  payload: Uint8Array;
}

/**
 * A projection folded from the log.
 *
 * @example
 * const p: Projection = new MemoryStore()
 * for (const r of records) p.apply(r)
 * const copy = new MemoryStore(); copy.restore(p.snapshot())
 */
export interface Projection {
  /** Folds one record into the state. Called once per record, in LSN order. */
  apply(record: AppliedRecord): void;
  /** The full state as self-contained bytes (checksummed). */
  snapshot(): Uint8Array;
  /**
   * Replaces the state with a snapshot. Throws `ReplicationError('Corruption')`
   * on bad bytes, and then leaves the current state as it was.
   */
  restore(bytes: Uint8Array): void;
  /** Entries held in a space (memories, for the memory store); 0 for an unknown space. */
  count(space: string): number;
}

/**
 * The entry a {@link Reducer} sees: the record header plus its payload
 * decoded (`value` is `undefined` when the payload is empty).
 *
 * @example
 * const entry: ReducerEntry = { lsn: 7, seq: 3, epoch: 1, space: 'notes', kind: RecordKind.Entry,
 *   key: '', timestampMs: 1732250000000, value: { n: 1 } }
 */
export interface ReducerEntry {
  lsn: number;
  seq: number;
  epoch: number;
  space: string;
  kind: number;
  key: string;
  timestampMs: number;
  value: unknown;
}

/**
 * A host reducer in the design's functional shape. `apply` returns the next
 * state (it may mutate and return the same object). `restore` should throw on
 * bytes it cannot read; {@link reducerProjection} already refuses damaged
 * snapshots before `restore` sees them.
 *
 * @example
 * const lastValue: Reducer<unknown> = {
 *   init: () => undefined, apply: (_s, e) => e.value,
 *   snapshot: (s) => encodePayload(s).slice(), restore: (b) => decodePayload(b),
 * }
 */
export interface Reducer<S> {
  init(): S;
  apply(state: S, entry: ReducerEntry): S;
  snapshot(state: S): Uint8Array;
  restore(bytes: Uint8Array): S;
  /** Entries held in `space`; without it, `count` of the projection is always 0. */
  count?(state: S, space: string): number;
}

const MAGIC = 'EGRS';
const VERSION = 1;
const WHAT = 'reducer snapshot';

/**
 * Adapts a {@link Reducer} to a {@link Projection}. Each record's payload is
 * decoded with the library's msgpack profile (`decodePayload`) and handed to
 * `reducer.apply` with the header fields; `EpochStart` records are not passed
 * on (projections ignore them), every other kind is. A payload that is not
 * valid msgpack makes `apply` throw `MalformedMessage` and leaves the state
 * unchanged.
 *
 * `snapshot()` wraps the reducer's bytes in a checksummed envelope (magic,
 * version, length, CRC32C), so `restore()` refuses a damaged or truncated
 * snapshot with `Corruption` before the reducer sees it; an error thrown by
 * `reducer.restore` is reported as `Corruption` too (with the original as
 * `cause`). On any failure the previous state stays.
 *
 * @example
 * const p = reducerProjection(counterReducer)
 * p.apply(readRecord(bytes))
 * const again = reducerProjection(counterReducer); again.restore(p.snapshot())
 */
export function reducerProjection<S>(reducer: Reducer<S>): Projection {
  let state = reducer.init();
  return {
    apply(record: AppliedRecord): void {
      if (record.kind === RecordKind.EpochStart) return;
      const value = record.payload.length === 0 ? undefined : decodePayload(record.payload);
      state = reducer.apply(state, {
        lsn: record.lsn,
        seq: record.seq,
        epoch: record.epoch,
        space: record.space,
        kind: record.kind,
        key: record.key,
        timestampMs: record.timestampMs,
        value,
      });
    },
    snapshot(): Uint8Array {
      const body = reducer.snapshot(state);
      const out = beginSnapshot(MAGIC, VERSION, body.length);
      out.set(body, SNAPSHOT_HEADER_BYTES);
      return sealSnapshot(out);
    },
    restore(bytes: Uint8Array): void {
      const body = openSnapshot(bytes, MAGIC, VERSION, WHAT);
      try {
        state = reducer.restore(body.slice());
      } catch (err) {
        if (isReplicationError(err, 'Corruption')) throw err;
        const why = err instanceof Error ? err.message : String(err);
        throw corrupt(`${WHAT}: the reducer could not restore it (${why})`, err);
      }
    },
    count(space: string): number {
      return reducer.count === undefined ? 0 : reducer.count(state, space);
    },
  };
}
