/**
 * Inputs for fuzzing a node's replication port, from a seeded PRNG: real
 * frames from the wire encoders (HELLO, BATCH, HEARTBEAT, ACK, SNAPSHOT_BEGIN,
 * VOTE_REQUEST, TRUNCATE, HANDOVER) with one mutation (bit flip, byte
 * overwrite, insert, delete, truncate, rewritten length or type),
 * deliberately invalid but well-formed frames (stale epoch, LSN behind or far
 * ahead, wrong cluster, wrong addressee, unknown version, a HANDOVER before
 * HELLO or from a stale epoch), and plain random bytes.
 *
 * A mutation that still decodes into a *different valid message* is not bad
 * input (the protocol has no authentication: a valid HELLO with a higher
 * epoch fences the primary by design), so `mutatedSequence` skips it: every
 * sequence it returns is seed frames up to a frame that fails to decode or
 * is cut short.
 */
import { FrameReader } from '../../src/wire/frameReader.js';
import { type WireMessage, decodeMessage, encodeMessage } from '../../src/wire/messages.js';
import { craftBatch } from '../helpers/cluster.js';

/** A seeded source of integers. */
export interface Dice {
  /** An integer in [0, n). */
  int(n: number): number;
}

/** Dice over a `() => number` PRNG in [0, 1). */
export function dice(random: () => number): Dice {
  return { int: (n) => Math.floor(random() * n) };
}

/** What the fuzzed node must be told to be addressed correctly. */
export interface Target {
  clusterId: string;
  /** The node under fuzz. */
  nodeId: string;
  /** The LSN the node's log expects next (approximate: the real stream moves it). */
  nextLsn: number;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (out.set(p, at), at + p.length), 0);
  return out;
}

function hello(t: Target, change: Partial<Extract<WireMessage, { kind: 'hello' }>> = {}): Uint8Array {
  return concat(encodeMessage({
    kind: 'hello', protocolVersion: 1, clusterId: t.clusterId, fromId: 'n1', toId: t.nodeId,
    epoch: 1, lastLsn: 0, epochHistory: [{ epoch: 1, startLsn: 1 }], ...change,
  }));
}

/** One real frame of a random kind, well formed and addressed to the target. */
function realFrame(t: Target, d: Dice): Uint8Array {
  const now = Date.now();
  switch (d.int(8)) {
    case 0: return hello(t);
    case 1: return concat(craftBatch(t.nextLsn, 1 + d.int(20)));
    case 2: return concat(encodeMessage({ kind: 'heartbeat', epoch: 1, primaryLsn: t.nextLsn, sentAtMs: now }));
    case 3: return concat(encodeMessage({ kind: 'ack', epoch: 1, receivedLsn: t.nextLsn, flushedLsn: t.nextLsn, appliedLsn: t.nextLsn, echoSentAtMs: now }));
    case 4: return concat(encodeMessage({ kind: 'snapshotBegin', epoch: 1, snapshotLsn: t.nextLsn, snapshotEpoch: 1, totalBytes: 64, crc: 0, epochHistory: [{ epoch: 1, startLsn: 1 }] }));
    case 5: return concat(encodeMessage({ kind: 'voteRequest', clusterId: t.clusterId, candidateId: 'n9', epoch: 1, lastEpoch: 1, lastLsn: t.nextLsn }));
    case 6: return concat(encodeMessage({ kind: 'handover', epoch: 1, lsn: t.nextLsn }));
    default: return concat(encodeMessage({ kind: 'truncate', epoch: 1, afterLsn: 1 }));
  }
}

function randomBytes(d: Dice, n: number): Uint8Array {
  return Uint8Array.from({ length: n }, () => d.int(256));
}

/** `bytes` with one random mutation; never equal to `bytes`. */
function mutate(bytes: Uint8Array, d: Dice): Uint8Array {
  const at = d.int(bytes.length);
  const out = bytes.slice();
  switch (d.int(7)) {
    case 0: out[at] = out[at]! ^ (1 << d.int(8)); return out;
    case 1: out[at] = (out[at]! + 1 + d.int(255)) & 0xff; return out;
    case 2: return concat([bytes.subarray(0, at), randomBytes(d, 1 + d.int(16)), bytes.subarray(at)]);
    case 3: return concat([bytes.subarray(0, at), bytes.subarray(Math.min(bytes.length, at + 1 + d.int(16)))]);
    case 4: return bytes.slice(0, at);
    case 5: { // the frame length: off by a little, or anything
      const v = new DataView(out.buffer);
      const length = v.getUint32(0, true);
      const next = d.int(2) === 0 ? length + d.int(33) - 16 : d.int(0x1_0000_0000);
      v.setUint32(0, next === length ? length + 1 : next >>> 0, true);
      return out;
    }
    default: out[4] = (out[4]! + 1 + d.int(255)) & 0xff; return out; // the frame type
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * True when the node would stop at a bad or cut-short frame before it saw any
 * valid frame that is not one of `seeds` (byte for byte).
 */
function isBadInput(bytes: Uint8Array, seeds: readonly Uint8Array[]): boolean {
  const reader = new FrameReader();
  reader.push(bytes);
  for (;;) {
    let frame;
    try {
      frame = reader.next();
      if (frame === undefined) return reader.bufferedBytes > 0; // cut short (bad) or all valid seeds (not fuzz)
      decodeMessage(frame);
    } catch {
      return true;
    }
    const whole = concat([new Uint8Array([0, 0, 0, 0, frame.type]), frame.body]);
    new DataView(whole.buffer).setUint32(0, frame.body.length + 1, true);
    if (!seeds.some((s) => sameBytes(s, whole))) return false;
  }
}

/** Seed frames (a HELLO first, or not) and a mutation of the last one that is bad input. */
export function mutatedSequence(t: Target, d: Dice): Uint8Array {
  for (;;) {
    const seeds = d.int(2) === 0 ? [hello(t)] : [];
    const victim = realFrame(t, d);
    const bytes = concat([...seeds, mutate(victim, d)]);
    if (isBadInput(bytes, seeds)) return bytes;
  }
}

/** A well-formed frame the node must refuse: stale epoch, LSN gap, wrong cluster or addressee, unknown version, a stray HANDOVER. */
export function invalidSequence(t: Target, d: Dice): Uint8Array {
  const now = Date.now();
  switch (d.int(9)) {
    case 0: return concat([hello(t), ...craftBatch(t.nextLsn, 3, 0)]);
    case 1: return concat([hello(t), ...craftBatch(1, 3)]);
    case 2: return concat([hello(t), ...craftBatch(t.nextLsn + 1_000_000_000, 3)]);
    case 3: return hello(t, { clusterId: `${t.clusterId}-other` });
    case 4: return hello(t, { toId: 'n9' });
    case 5: return hello(t, { protocolVersion: 2 + d.int(100) });
    case 6: return concat(encodeMessage({ kind: 'handover', epoch: 1, lsn: 1 })); // before any HELLO
    case 7: return concat([hello(t), ...encodeMessage({ kind: 'handover', epoch: 0, lsn: 1 })]); // older than the stream's epoch
    default: return concat([hello(t, { epoch: 0, epochHistory: [] }), ...encodeMessage({ kind: 'heartbeat', epoch: 0, primaryLsn: 1, sentAtMs: now })]);
  }
}

/** 1..4096 random bytes. */
export function randomSequence(d: Dice): Uint8Array {
  return randomBytes(d, 1 + d.int(4096));
}
