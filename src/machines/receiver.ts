/**
 * `receiver`: the replica's side of ONE inbound replication connection
 * (DESIGN §5, §8).
 *
 * States: `AwaitingHello` -> `Streaming` <-> `ReceivingSnapshot`, and the
 * final `Closed`. The machine is pure and sees decoded, typed events, never
 * bytes: the shell decodes a frame, sends ONE event for it (one per batch,
 * never per entry) and keeps the frame while the machine's actions run, which
 * `actor.send` does synchronously. The shell also fills in what only it knows:
 * the node's current epoch (`localEpoch`), whether the HELLO names this
 * cluster and this node, and the LSN the next batch must start at.
 *
 * Every refused frame runs `sendError {code, message}`, then
 * `countProtocolError {code}`, then `closeConnection`, in that order, on the
 * same transition to `Closed`: the ERROR frame is queued before the close.
 * Nothing that failed validation is appended.
 *
 * @example
 * const receiver = createActor(receiverMachine.provide({ actions: {
 *   appendBatch: () => log.appendReplicated(current.batch),
 *   sendError: (_, e) => connection.write(encodeMessage({ kind: 'error', ...e })),
 *   closeConnection: () => connection.end(),
 * } }), { input: { nodeId: 'r1' }, clock }).start()
 * receiver.send({ type: 'hello', epoch: 3, localEpoch: 3, clusterOk: true, addressedToMe: true, versionOk: true })
 */
import { assign, initialTransition, setup, transition } from 'xstate';
import type { SnapshotFrom } from 'xstate';
import { ReplicationError } from '../errors.js';
import type { ErrorCode } from '../errors.js';
import type { Epoch, Lsn } from '../types.js';
import { scheduledTimers, type ScheduledTimer } from './shipper.js';

/** The tunables of a receiver. */
export interface ReceiverConfig {
  /** How long a new connection may stay silent before its HELLO. */
  readonly helloTimeoutMs: number;
}

/** Seed default: the same 5 s as the primary's connect and handshake timeouts. */
export const defaultReceiverConfig: Readonly<ReceiverConfig> = Object.freeze({ helloTimeoutMs: 5000 });

/** Input: this node's id and any tunables to override. */
export interface ReceiverInput extends Partial<ReceiverConfig> {
  readonly nodeId: string;
}

/** The epoch a frame carries and the node's current epoch, as the shell knows it. */
interface Epochs {
  readonly epoch: Epoch;
  readonly localEpoch: Epoch;
}

/** HELLO, with the checks only the shell can make already made. */
export interface HelloEvent extends Epochs {
  readonly type: 'hello';
  /** The cluster id matches this node's. */
  readonly clusterOk: boolean;
  /** `toId` is this node. */
  readonly addressedToMe: boolean;
  /** The protocol version is one this node speaks. */
  readonly versionOk: boolean;
}
/** A decoded, checksum-verified BATCH (the shell keeps its bytes). */
export interface BatchEvent extends Epochs {
  readonly type: 'batch';
  readonly startLsn: Lsn;
  /** The LSN the local log expects next (its last LSN + 1). */
  readonly expectedLsn: Lsn;
  readonly count: number;
}
/** SNAPSHOT_BEGIN. */
export interface SnapshotBeginEvent extends Epochs {
  readonly type: 'snapshot.begin';
}
/** One SNAPSHOT_CHUNK (the shell keeps its bytes). */
export interface SnapshotChunkEvent {
  readonly type: 'snapshot.chunk';
  readonly offset: number;
  readonly byteLength: number;
}
/** SNAPSHOT_END, after the shell checked the snapshot's size and CRC (`ok`). */
export interface SnapshotEndEvent {
  readonly type: 'snapshot.end';
  readonly ok: boolean;
}
/** HEARTBEAT. */
export interface HeartbeatEvent extends Epochs {
  readonly type: 'heartbeat';
}
/** A frame could not be decoded (bad CRC, bad magic, oversized, truncated ...). */
export interface ReceiverProtocolErrorEvent {
  readonly type: 'protocol.error';
  readonly code: ErrorCode;
  readonly message: string;
}
/** The connection closed (by the peer, or an I/O error). */
export interface ReceiverConnectionClosedEvent {
  readonly type: 'connection.closed';
}
/** A frame carried an epoch higher than the node's: the node must adopt and persist it. */
export interface EpochHigherEvent {
  readonly type: 'epoch.higher';
  readonly epoch: Epoch;
}
/** The node closes this connection (shutdown, or it became primary). */
export interface ReceiverStopEvent {
  readonly type: 'stop';
}

/** Every event the receiver accepts. */
export type ReceiverEvent =
  | HelloEvent
  | BatchEvent
  | SnapshotBeginEvent
  | SnapshotChunkEvent
  | SnapshotEndEvent
  | HeartbeatEvent
  | ReceiverProtocolErrorEvent
  | ReceiverConnectionClosedEvent
  | EpochHigherEvent
  | ReceiverStopEvent;

/** An ERROR frame's contents. */
export interface ReceiverError {
  readonly code: ErrorCode;
  readonly message: string;
}

/** The machine's context. */
export interface ReceiverContext {
  readonly nodeId: string;
  readonly config: Readonly<ReceiverConfig>;
  /** The epoch of the accepted HELLO; undefined before. */
  peerEpoch: Epoch | undefined;
  /** Batches appended on this connection. */
  batchesAppended: number;
  /** The ERROR this side sent before closing, if any. */
  lastError: ReceiverError | undefined;
}

/** Params of `acceptHello`, `beginSnapshot`, `answerHeartbeat` and `adoptEpoch`. */
export interface EpochParams {
  readonly epoch: Epoch;
}
/** Params of `appendBatch`: append (and later apply and ACK) the batch the shell holds. */
export interface AppendBatch {
  readonly epoch: Epoch;
  readonly startLsn: Lsn;
  readonly count: number;
}
/** Params of `storeSnapshotChunk`. */
export interface StoreSnapshotChunk {
  readonly offset: number;
  readonly byteLength: number;
}
/** Params of `countProtocolError`. */
export interface ProtocolErrorCount {
  readonly code: ErrorCode;
}

/** A named effect the machine asks for: the action's type and its resolved params. */
export type ReceiverEffect =
  | { readonly type: 'acceptHello'; readonly params: EpochParams }
  | { readonly type: 'appendBatch'; readonly params: AppendBatch }
  | { readonly type: 'beginSnapshot'; readonly params: EpochParams }
  | { readonly type: 'storeSnapshotChunk'; readonly params: StoreSnapshotChunk }
  | { readonly type: 'installSnapshot'; readonly params: undefined }
  | { readonly type: 'answerHeartbeat'; readonly params: EpochParams }
  | { readonly type: 'sendError'; readonly params: ReceiverError }
  | { readonly type: 'closeConnection'; readonly params: undefined }
  | { readonly type: 'countProtocolError'; readonly params: ProtocolErrorCount }
  | { readonly type: 'adoptEpoch'; readonly params: EpochParams };

/** The names of every {@link ReceiverEffect}. */
export const RECEIVER_EFFECTS: ReadonlySet<ReceiverEffect['type']> = new Set([
  'acceptHello', 'appendBatch', 'beginSnapshot', 'storeSnapshotChunk', 'installSnapshot',
  'answerHeartbeat', 'sendError', 'closeConnection', 'countProtocolError', 'adoptEpoch',
]);

/**
 * The config an input gives, defaults filled in and checked.
 *
 * @example
 * resolveReceiverConfig({ nodeId: 'r1' }).helloTimeoutMs // 5000
 * @throws ReplicationError `InvalidConfig` when a value is out of range.
 */
export function resolveReceiverConfig(input: ReceiverInput): ReceiverConfig {
  const c: ReceiverConfig = { helloTimeoutMs: input.helloTimeoutMs ?? defaultReceiverConfig.helloTimeoutMs };
  if (typeof input.nodeId !== 'string' || input.nodeId.length === 0 || !Number.isFinite(c.helloTimeoutMs) || c.helloTimeoutMs <= 0) {
    throw new ReplicationError('InvalidConfig', `receiver config is invalid: ${JSON.stringify({ nodeId: input.nodeId, ...c })}`, {
      suggestion: 'need a nodeId and helloTimeoutMs > 0',
    });
  }
  return Object.freeze(c);
}

interface Args {
  readonly context: ReceiverContext;
  readonly event: ReceiverEvent;
}

const epochOf = ({ event }: Args): EpochParams => ({ epoch: 'epoch' in event ? event.epoch : 0 });
const describe = (event: ReceiverEvent): string => (event.type === 'protocol.error' ? event.code : event.type);

/** Why a frame is refused, as the ERROR frame will say it. */
function errorOf(code: ErrorCode, args: Args): ReceiverError {
  const e = args.event;
  switch (code) {
    case 'UnsupportedVersion':
      return { code, message: 'HELLO speaks a protocol version this node does not' };
    case 'ClusterMismatch':
      return { code, message: `HELLO is for another cluster or another node (this is ${args.context.nodeId})` };
    case 'StaleEpoch':
      return 'localEpoch' in e
        ? { code, message: `${e.type} from epoch ${e.epoch}, local epoch is ${e.localEpoch}` }
        : { code, message: 'stale epoch' };
    case 'LogGap':
      return e.type === 'batch'
        ? { code, message: `batch starts at LSN ${e.startLsn}, expected ${e.expectedLsn}` }
        : { code, message: 'log gap' };
    case 'ChecksumMismatch':
      return { code, message: 'snapshot failed its size or checksum check' };
    case 'ConnectionTimeout':
      return { code, message: `no HELLO within ${args.context.config.helloTimeoutMs} ms` };
    default:
      return e.type === 'protocol.error' ? { code: e.code, message: e.message } : { code, message: `unexpected ${describe(e)}` };
  }
}

/** Refuse the frame: ERROR, metric, close, in this order, then Closed. */
function reject(code: ErrorCode) {
  return {
    target: '#receiver.Closed',
    actions: [
      { type: 'recordError', params: (args: Args) => errorOf(code, args) },
      { type: 'sendError', params: ({ context }: Args) => context.lastError ?? { code, message: code } },
      { type: 'countProtocolError', params: ({ context }: Args) => ({ code: context.lastError?.code ?? code }) },
      'closeConnection',
    ],
  } as const;
}

/** A frame that has no place in this state (a batch before HELLO, a second HELLO, ...). */
const unexpected = reject('MalformedMessage');

/** A frame from an epoch older than the node's. */
const stale = { guard: 'staleEpoch', ...reject('StaleEpoch') } as const;

/**
 * What every open state accepts (declared per state so the diagram draws it):
 * an undecodable frame is refused with its own code; a closed connection
 * needs no close; `stop` closes from this side.
 */
const closing = {
  'protocol.error': reject('MalformedMessage'),
  'connection.closed': { target: '#receiver.Closed' },
  stop: { target: '#receiver.Closed', actions: 'closeConnection' },
} as const;

/**
 * The receiver machine. Provide the effects with `receiverMachine.provide({ actions })`
 * and create the actor with the node's clock so the HELLO timeout follows it.
 *
 * @example
 * createActor(receiverMachine.provide({ actions }), { input: { nodeId: 'r1' }, clock }).start()
 */
export const receiverMachine = setup({
  types: {
    context: {} as ReceiverContext,
    events: {} as ReceiverEvent,
    input: {} as ReceiverInput,
  },
  actions: {
    /** Effect: answer HELLO_ACK with this node's positions. */
    acceptHello: (_: unknown, _p: EpochParams) => {},
    /** Effect: append the batch the shell holds to the local log (then apply and ACK). */
    appendBatch: (_: unknown, _p: AppendBatch) => {},
    /** Effect: start a snapshot download (discard any partial one). */
    beginSnapshot: (_: unknown, _p: EpochParams) => {},
    /** Effect: store the chunk the shell holds. */
    storeSnapshotChunk: (_: unknown, _p: StoreSnapshotChunk) => {},
    /** Effect: install the verified snapshot (reset log and projection to it) and ACK. */
    installSnapshot: () => {},
    /** Effect: answer the heartbeat (an ACK with the current positions). */
    answerHeartbeat: (_: unknown, _p: EpochParams) => {},
    /** Effect: queue an ERROR frame. Always followed by closeConnection. */
    sendError: (_: unknown, _p: ReceiverError) => {},
    /** Effect: close the connection after queued writes. */
    closeConnection: () => {},
    /** Effect: count a refused frame by code (metric). */
    countProtocolError: (_: unknown, _p: ProtocolErrorCount) => {},
    /** Effect: persist a higher epoch (and step down if this node was primary). */
    adoptEpoch: (_: unknown, _p: EpochParams) => {},
    recordError: assign((_, error: ReceiverError) => ({ lastError: error })),
    recordHello: assign(({ event }) => (event.type === 'hello' ? { peerEpoch: event.epoch } : {})),
    countBatch: assign(({ context }) => ({ batchesAppended: context.batchesAppended + 1 })),
  },
  guards: {
    versionUnsupported: ({ event }) => event.type === 'hello' && !event.versionOk,
    notForMe: ({ event }) => event.type === 'hello' && (!event.clusterOk || !event.addressedToMe),
    staleEpoch: ({ event }) => 'localEpoch' in event && event.epoch < event.localEpoch,
    logGap: ({ event }) => event.type === 'batch' && event.startLsn !== event.expectedLsn,
    snapshotOk: ({ event }) => event.type === 'snapshot.end' && event.ok,
  },
  delays: {
    helloTimeout: ({ context }) => context.config.helloTimeoutMs,
  },
}).createMachine({
  id: 'receiver',
  description: [
    "The replica's side of one inbound connection. The shell decodes each frame and sends one event for it (one per batch, never per entry), with the node's localEpoch and the checks only it can make;",
    'the machine validates order, epoch and LSN continuity and asks for effects through named actions filled in with machine.provide():',
    'acceptHello, appendBatch, beginSnapshot, storeSnapshotChunk, installSnapshot, answerHeartbeat, sendError, countProtocolError, closeConnection, adoptEpoch.',
    'Every refused frame runs sendError, countProtocolError, closeConnection in that order and ends in Closed; a frame in the wrong state is refused as MalformedMessage.',
    `Default helloTimeoutMs ${defaultReceiverConfig.helloTimeoutMs}: a connection silent that long is refused as ConnectionTimeout.`,
    'epoch.higher (the shell saw a higher epoch in a frame) fires adoptEpoch in any state; send it before the frame\'s own event, with localEpoch updated.',
  ].join(' '),
  context: ({ input }) => ({
    nodeId: input.nodeId,
    config: resolveReceiverConfig(input),
    peerEpoch: undefined,
    batchesAppended: 0,
    lastError: undefined,
  }),
  initial: 'AwaitingHello',
  on: {
    'epoch.higher': { description: 'Persist the higher epoch (the shell does).', actions: { type: 'adoptEpoch', params: epochOf } },
  },
  states: {
    AwaitingHello: {
      description: 'Connection accepted; the first frame must be a HELLO for this cluster, this node, a known version and a current epoch, within helloTimeoutMs.',
      after: { helloTimeout: reject('ConnectionTimeout') },
      on: {
        hello: [
          { guard: 'versionUnsupported', ...reject('UnsupportedVersion') },
          { guard: 'notForMe', ...reject('ClusterMismatch') },
          stale,
          { target: 'Streaming', actions: ['recordHello', { type: 'acceptHello', params: epochOf }] },
        ],
        batch: unexpected,
        heartbeat: unexpected,
        'snapshot.begin': unexpected,
        'snapshot.chunk': unexpected,
        'snapshot.end': unexpected,
        ...closing,
      },
    },
    Streaming: {
      description: 'Session open: batches must carry a current epoch and start exactly at the next LSN; heartbeats are answered; SNAPSHOT_BEGIN starts a snapshot.',
      on: {
        batch: [
          stale,
          { guard: 'logGap', ...reject('LogGap') },
          {
            actions: [
              'countBatch',
              { type: 'appendBatch', params: ({ event }) => (event.type === 'batch' ? { epoch: event.epoch, startLsn: event.startLsn, count: event.count } : { epoch: 0, startLsn: 0, count: 0 }) },
            ],
          },
        ],
        heartbeat: [stale, { actions: { type: 'answerHeartbeat', params: epochOf } }],
        'snapshot.begin': [stale, { target: 'ReceivingSnapshot', actions: { type: 'beginSnapshot', params: epochOf } }],
        hello: unexpected,
        'snapshot.chunk': unexpected,
        'snapshot.end': unexpected,
        ...closing,
      },
    },
    ReceivingSnapshot: {
      description: 'Chunks are stored; SNAPSHOT_END installs the snapshot when its size and checksum check out (back to Streaming), else ChecksumMismatch. Heartbeats are answered.',
      on: {
        'snapshot.chunk': {
          actions: { type: 'storeSnapshotChunk', params: ({ event }) => (event.type === 'snapshot.chunk' ? { offset: event.offset, byteLength: event.byteLength } : { offset: 0, byteLength: 0 }) },
        },
        'snapshot.end': [
          { guard: 'snapshotOk', target: 'Streaming', actions: 'installSnapshot' },
          reject('ChecksumMismatch'),
        ],
        heartbeat: [stale, { actions: { type: 'answerHeartbeat', params: epochOf } }],
        hello: unexpected,
        batch: unexpected,
        'snapshot.begin': unexpected,
        ...closing,
      },
    },
    Closed: {
      description: 'Final: the connection is closed (after an ERROR when a frame was refused).',
      type: 'final',
    },
  },
});

/** A snapshot of {@link receiverMachine}. */
export type ReceiverSnapshot = SnapshotFrom<typeof receiverMachine>;

/** The state names of the receiver. */
export type ReceiverState = 'AwaitingHello' | 'Streaming' | 'ReceivingSnapshot' | 'Closed';

/** The event of the receiver's HELLO timer, as an actor's clock delivers it. */
export const RECEIVER_HELLO_TIMEOUT = 'xstate.after.helloTimeout.receiver.AwaitingHello' as const;

/** The fired HELLO timer. */
export interface ReceiverTimerEvent {
  readonly type: typeof RECEIVER_HELLO_TIMEOUT;
}

/**
 * The first snapshot (AwaitingHello), computed without starting an actor.
 *
 * @example
 * let receiver = initialReceiver({ nodeId: 'r1' })
 * @throws ReplicationError `InvalidConfig` when the input is invalid.
 */
export function initialReceiver(input: ReceiverInput): ReceiverSnapshot {
  const snapshot = initialTransition(receiverMachine, input)[0];
  if (snapshot.status === 'error') throw snapshot.error;
  return snapshot;
}

/**
 * Pure step: the next snapshot, its state, the named effects in order and the
 * timers started, without running anything (xstate's `transition()`).
 *
 * @example
 * const step = receiverTransition(initialReceiver({ nodeId: 'r1' }), { type: 'protocol.error', code: 'BadMagic', message: 'bad magic' })
 * step.effects.map((e) => e.type) // ['sendError', 'countProtocolError', 'closeConnection']
 */
export function receiverTransition(
  snapshot: ReceiverSnapshot,
  event: ReceiverEvent | ReceiverTimerEvent,
): { snapshot: ReceiverSnapshot; state: ReceiverState; effects: ReceiverEffect[]; timers: ScheduledTimer[] } {
  // A final snapshot takes no more events, as a stopped actor drops them.
  if (snapshot.status !== 'active') return { snapshot, state: snapshot.value as ReceiverState, effects: [], timers: [] };
  const [next, actions] = transition(receiverMachine, snapshot, event as ReceiverEvent);
  const effects = actions
    .filter((a) => RECEIVER_EFFECTS.has(a.type as ReceiverEffect['type']))
    .map((a) => ({ type: a.type, params: a.params }) as ReceiverEffect);
  return { snapshot: next, state: next.value as ReceiverState, effects, timers: scheduledTimers(actions) };
}
