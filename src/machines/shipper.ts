/**
 * `shipper`: the primary's view of one replication stream to one replica
 * (DESIGN §5, §7).
 *
 * States: `Idle` -> `Connecting` -> `Handshaking` -> `Snapshotting` |
 * `CatchingUp` | `Streaming`, with `Backoff` after every failure and the final
 * `Stopped`. The machine is pure: the shell (src/actors) performs all I/O and
 * sends one event per connection step, per batch acknowledgement or per
 * failure, never per entry; time arrives in events as `nowMs`, randomness as
 * `jitter` (a number in [0, 1) from the shell's seeded Random), and the two
 * timers are xstate `after` transitions with named delays computed from
 * context, so the actor's injected clock drives them. Effects are the named
 * actions listed in {@link ShipperEffect}, empty here and filled in with
 * `machine.provide()`.
 *
 * Failures (connect errors, closed connections, handshake timeouts,
 * rejections, protocol errors) count up `consecutiveFailures`; the next
 * attempt waits `backoffScheduleMs[step]` (capped at the last entry) +/-
 * `jitterRatio`; at `failuresToOpenCircuit` consecutive failures the circuit
 * is open (`circuitOpen`, the health machine shows Failed) and retries go on
 * at the schedule. A successful handshake closes the circuit and resets the
 * count and the schedule. A `StaleEpoch` rejection stops the machine and asks
 * the node to step down.
 *
 * Events from a connection the machine has closed are the shell's to drop
 * (it closed that socket on `closeConnection`); Backoff and Idle ignore
 * connection events anyway. `startStreaming` fires once per connection, when
 * shipping begins; the later CatchingUp <-> Streaming switches (on ACKs, with
 * hysteresis) fire `changeStreamMode` instead, so the shell never restarts a
 * stream it is already running.
 *
 * @example
 * const shipper = createActor(shipperMachine.provide({ actions: {
 *   openConnection: () => transport.connect(replica.address),
 *   reportFailure: (_, f) => health.send({ type: 'failure', reason: f.reason, nowMs: clock.now() }),
 * } }), { input: { replicaId: 'r1' }, clock }).start()
 * shipper.send({ type: 'start' })
 */
import { assign, initialTransition, setup, transition } from 'xstate';
import type { SnapshotFrom } from 'xstate';
import { ReplicationError } from '../errors.js';
import type { Lsn } from '../types.js';
import type { FailureReason } from './replicaHealth.js';

/** The tunables of a shipper; every one is an input. */
export interface ShipperConfig {
  /** How long to wait for HELLO_ACK (or an ERROR) after the connection opened. */
  readonly handshakeTimeoutMs: number;
  /** Reconnect delays, one per consecutive failure; the last one repeats. */
  readonly backoffScheduleMs: readonly number[];
  /** Each delay is scaled by a factor in [1 - jitterRatio, 1 + jitterRatio), in [0, 1). */
  readonly jitterRatio: number;
  /** Consecutive failures that open the circuit (the replica shows Failed). */
  readonly failuresToOpenCircuit: number;
  /**
   * Hysteresis of Streaming -> CatchingUp: a tailing replica goes back to
   * catch-up only when more than `fallBehindWindows * windowEntries` behind
   * (it comes back to Streaming at `windowEntries` or less).
   */
  readonly fallBehindWindows: number;
}

/** Seed defaults (DESIGN §5: reconnect backoff 100 ms -> 1 s -> 10 s -> 60 s with jitter). */
export const defaultShipperConfig: Readonly<ShipperConfig> = Object.freeze({
  handshakeTimeoutMs: 5000,
  backoffScheduleMs: Object.freeze([100, 1000, 10_000, 60_000]),
  jitterRatio: 0.2,
  failuresToOpenCircuit: 3,
  fallBehindWindows: 4,
});
const D = defaultShipperConfig;

/** Input: the replica this stream goes to, and any tunables to override. */
export interface ShipperInput extends Partial<ShipperConfig> {
  readonly replicaId: string;
}

/** Fields every failure event carries: what went wrong, a jitter draw and the time. */
interface FailureFields {
  readonly message: string;
  /** A number in [0, 1) from the shell's seeded Random; picks the backoff jitter. */
  readonly jitter: number;
  readonly nowMs: number;
}

/** The machine leaves Idle for Connecting. */
export interface ShipperStartEvent { readonly type: 'start' }
/**
 * The connection is open. `jitter` is drawn now and used for the backoff if
 * the handshake then times out (a timer carries no data of its own).
 */
export interface ConnectionOpenedEvent { readonly type: 'connection.opened'; readonly nowMs: number; readonly jitter: number }
/** The connect attempt failed (refused, unreachable, or the transport's connect timeout: `reason: 'timeout'`). */
export interface ConnectionFailedEvent extends FailureFields { readonly type: 'connection.failed'; readonly reason: FailureReason }
/** The connection closed or errored after it opened. */
export interface ConnectionClosedEvent extends FailureFields { readonly type: 'connection.closed'; readonly reason: FailureReason }
/** HELLO_ACK arrived: where the replica's log ends and what the primary has. */
export interface HelloAcceptedEvent {
  readonly type: 'hello.accepted';
  /** The replica's flushed LSN (0 for an empty log). */
  readonly replicaFlushedLsn: Lsn;
  /** The first LSN the primary's log still holds (retention may have deleted older ones). */
  readonly logFirstLsn: Lsn;
  /** The last LSN the primary may ship: durable, or published when it ships before durable. */
  readonly primaryLsn: Lsn;
  /** The in-flight window in entries: how far behind counts as catching up. */
  readonly windowEntries: number;
  readonly nowMs: number;
}
/** The replica answered HELLO with an ERROR frame (`code` as the replica sent it). */
export interface HelloRejectedEvent extends FailureFields { readonly type: 'hello.rejected'; readonly code: string }
/** The replica sent an ERROR frame after the handshake (e.g. a batch refused as `StaleEpoch`). */
export interface PeerErrorEvent extends FailureFields { readonly type: 'peer.error'; readonly code: string }
/** The last snapshot chunk and SNAPSHOT_END went out; streaming resumes after `snapshotLsn`. */
export interface SnapshotSentEvent { readonly type: 'snapshot.sent'; readonly snapshotLsn: Lsn }
/** One per ACK: the replica's flushed LSN and the last LSN the primary may ship, with the current window. */
export interface ProgressEvent {
  readonly type: 'progress';
  readonly ackedLsn: Lsn;
  readonly primaryLsn: Lsn;
  readonly windowEntries: number;
}
/** A frame from the replica failed to decode or validate (the shell could not use it). */
export interface ShipperProtocolErrorEvent extends FailureFields { readonly type: 'protocol.error'; readonly code: string }
/** Stop for good (replica removed, node shutting down). */
export interface ShipperStopEvent { readonly type: 'stop' }
/**
 * The replica showed it is up (it sent this node a vote or pre-vote
 * request): a Backoff ends at once instead of waiting out its delay (up to
 * the last step of the schedule, 60 s by default). Ignored elsewhere.
 */
export interface ReplicaSeenEvent { readonly type: 'replica.seen' }

/** Every event the shipper accepts. */
export type ShipperEvent =
  | ShipperStartEvent
  | ConnectionOpenedEvent
  | ConnectionFailedEvent
  | ConnectionClosedEvent
  | HelloAcceptedEvent
  | HelloRejectedEvent
  | PeerErrorEvent
  | SnapshotSentEvent
  | ProgressEvent
  | ShipperProtocolErrorEvent
  | ShipperStopEvent
  | ReplicaSeenEvent;

/** The last failure, for status pages. */
export interface ShipperFailure {
  readonly reason: FailureReason;
  readonly message: string;
  readonly nowMs: number;
}

/** The machine's context. */
export interface ShipperContext {
  readonly replicaId: string;
  readonly config: Readonly<ShipperConfig>;
  /** Failures since the last successful handshake. */
  consecutiveFailures: number;
  /** Index into `backoffScheduleMs` of the next failure's delay (capped at the last). */
  backoffStep: number;
  /** The delay of the current (or last) Backoff, jitter applied. */
  backoffDelayMs: number;
  /** True from `failuresToOpenCircuit` consecutive failures until a handshake succeeds. */
  circuitOpen: boolean;
  lastFailure: ShipperFailure | undefined;
  /** The highest LSN the replica has acknowledged as flushed (from HELLO_ACK, then ACKs). */
  lastAckedLsn: Lsn;
  /** `nowMs` of the last successful handshake; undefined while not connected. */
  connectedSinceMs: number | undefined;
  /** `nowMs` of `connection.opened`; a handshake timeout happens at this + handshakeTimeoutMs. */
  openedAtMs: number | undefined;
  /** The jitter of `connection.opened`, used if the handshake times out. */
  openedJitter: number;
}

/** Whether the shell ships a backlog (`catchUp`) or new records as they are flushed (`tail`). */
export type StreamMode = 'catchUp' | 'tail';

/** Params of `openConnection` and `sendHello`. */
export interface ShipperTarget { readonly replicaId: string }
/** Params of `startStreaming`: once per connection, when shipping begins. */
export interface StartStreaming {
  readonly replicaId: string;
  /** The first LSN to ship. */
  readonly fromLsn: Lsn;
  readonly mode: StreamMode;
}
/** Params of `changeStreamMode`: the stream crossed the hysteresis band (same connection). */
export interface StreamModeChange {
  readonly replicaId: string;
  readonly mode: StreamMode;
  readonly ackedLsn: Lsn;
  readonly primaryLsn: Lsn;
}
/** Params of `sendSnapshot`: the replica's log ends before the primary's log begins. */
export interface SendSnapshot {
  readonly replicaId: string;
  readonly replicaFlushedLsn: Lsn;
}
/** Params of `reportFailure`: on every failure, so the shell can feed the health machine. */
export interface FailureReport {
  readonly replicaId: string;
  readonly reason: FailureReason;
  readonly message: string;
  readonly nowMs: number;
  readonly consecutiveFailures: number;
  readonly circuitOpen: boolean;
  /** The delay before the next attempt. */
  readonly backoffDelayMs: number;
}
/** Params of `reportConnected`: a handshake succeeded. */
export interface ConnectedReport {
  readonly replicaId: string;
  readonly nowMs: number;
  readonly replicaFlushedLsn: Lsn;
  readonly primaryLsn: Lsn;
}
/** Params of `reportProtocolError` and `stepDown`. */
export interface CodedMessage {
  readonly replicaId: string;
  readonly code: string;
  readonly message: string;
}

/** A named effect the machine asks for: the action's type and its resolved params. */
export type ShipperEffect =
  | { readonly type: 'openConnection'; readonly params: ShipperTarget }
  | { readonly type: 'sendHello'; readonly params: ShipperTarget }
  | { readonly type: 'startStreaming'; readonly params: StartStreaming }
  | { readonly type: 'changeStreamMode'; readonly params: StreamModeChange }
  | { readonly type: 'sendSnapshot'; readonly params: SendSnapshot }
  | { readonly type: 'closeConnection'; readonly params: ShipperTarget }
  | { readonly type: 'stepDown'; readonly params: CodedMessage }
  | { readonly type: 'reportFailure'; readonly params: FailureReport }
  | { readonly type: 'reportConnected'; readonly params: ConnectedReport }
  | { readonly type: 'reportProtocolError'; readonly params: CodedMessage };

/** The names of every {@link ShipperEffect}. */
export const SHIPPER_EFFECTS: ReadonlySet<ShipperEffect['type']> = new Set([
  'openConnection', 'sendHello', 'startStreaming', 'changeStreamMode', 'sendSnapshot',
  'closeConnection', 'stepDown', 'reportFailure', 'reportConnected', 'reportProtocolError',
]);

/**
 * The config an input gives, defaults filled in and checked; the actor calls
 * it up front to refuse a bad configuration before starting.
 *
 * @example
 * resolveShipperConfig({ replicaId: 'r1', jitterRatio: 0 }).backoffScheduleMs // [100, 1000, 10000, 60000]
 * @throws ReplicationError `InvalidConfig` when a value is out of range.
 */
export function resolveShipperConfig(input: ShipperInput): ShipperConfig {
  const c: ShipperConfig = {
    handshakeTimeoutMs: input.handshakeTimeoutMs ?? D.handshakeTimeoutMs,
    backoffScheduleMs: Object.freeze([...(input.backoffScheduleMs ?? D.backoffScheduleMs)]),
    jitterRatio: input.jitterRatio ?? D.jitterRatio,
    failuresToOpenCircuit: input.failuresToOpenCircuit ?? D.failuresToOpenCircuit,
    fallBehindWindows: input.fallBehindWindows ?? D.fallBehindWindows,
  };
  const ok =
    typeof input.replicaId === 'string' &&
    input.replicaId.length > 0 &&
    Number.isFinite(c.handshakeTimeoutMs) &&
    c.handshakeTimeoutMs > 0 &&
    c.backoffScheduleMs.length > 0 &&
    c.backoffScheduleMs.every((ms) => Number.isFinite(ms) && ms >= 0) &&
    c.jitterRatio >= 0 &&
    c.jitterRatio < 1 &&
    Number.isInteger(c.failuresToOpenCircuit) &&
    c.failuresToOpenCircuit >= 1 &&
    c.fallBehindWindows >= 1;
  if (!ok) {
    throw new ReplicationError('InvalidConfig', `shipper config is invalid: ${JSON.stringify({ replicaId: input.replicaId, ...c })}`, {
      suggestion: 'need a replicaId, handshakeTimeoutMs > 0, a non-empty backoffScheduleMs of delays >= 0, 0 <= jitterRatio < 1, an integer failuresToOpenCircuit >= 1 and fallBehindWindows >= 1',
    });
  }
  return Object.freeze(c);
}

/**
 * The reconnect delay for a backoff step: `backoffScheduleMs[step]` (the last
 * entry for any step past it) scaled by `1 + jitterRatio * (2 * jitter - 1)`
 * and rounded, so jitter 0 gives -jitterRatio and jitter -> 1 gives
 * +jitterRatio. A jitter outside [0, 1) (or NaN) is clamped (NaN: no jitter).
 *
 * @example
 * backoffDelayMs([100, 1000], 5, 0.2, 0.5) // 1000
 */
export function backoffDelayMs(scheduleMs: readonly number[], step: number, jitterRatio: number, jitter: number): number {
  const base = scheduleMs[Math.min(Math.max(step, 0), scheduleMs.length - 1)] ?? 0;
  const j = Number.isNaN(jitter) ? 0.5 : Math.min(Math.max(jitter, 0), 1);
  return Math.max(0, Math.round(base * (1 + jitterRatio * (2 * j - 1))));
}

interface Args {
  readonly context: ShipperContext;
  readonly event: ShipperEvent;
}

/** A failure as recorded: from the event that reports it, or the handshake timer. */
interface FailureParams extends ShipperFailure {
  readonly jitter: number;
}

function failureOf({ context, event }: Args): FailureParams {
  switch (event.type) {
    case 'connection.failed':
    case 'connection.closed':
      return { reason: event.reason, message: event.message, nowMs: event.nowMs, jitter: event.jitter };
    case 'hello.rejected':
    case 'peer.error':
      return { reason: 'rejected', message: `${event.code}: ${event.message}`, nowMs: event.nowMs, jitter: event.jitter };
    case 'protocol.error':
      return { reason: 'protocol', message: `${event.code}: ${event.message}`, nowMs: event.nowMs, jitter: event.jitter };
    default: {
      // The handshake timer (xstate.after.handshakeTimeout...): no data of its own.
      const ms = context.config.handshakeTimeoutMs;
      return { reason: 'timeout', message: `no HELLO_ACK within ${ms} ms`, nowMs: (context.openedAtMs ?? 0) + ms, jitter: context.openedJitter };
    }
  }
}

const target = ({ context }: Args): ShipperTarget => ({ replicaId: context.replicaId });
const codedOf = ({ context, event }: Args): CodedMessage =>
  'code' in event ? { replicaId: context.replicaId, code: event.code, message: event.message } : { replicaId: context.replicaId, code: 'unknown', message: '' };

/** The actions of a failure: count it and schedule the backoff, then report it. */
const fail = [
  { type: 'recordFailure', params: (args: Args) => failureOf(args) },
  {
    type: 'reportFailure',
    params: ({ context }: Args): FailureReport => ({
      replicaId: context.replicaId,
      reason: context.lastFailure?.reason ?? 'unknown',
      message: context.lastFailure?.message ?? '',
      nowMs: context.lastFailure?.nowMs ?? 0,
      consecutiveFailures: context.consecutiveFailures,
      circuitOpen: context.circuitOpen,
      backoffDelayMs: context.backoffDelayMs,
    }),
  },
] as const;

/** A rejection from the replica: StaleEpoch stops the machine and steps down; anything else is a failure. */
const rejected = [
  { guard: 'staleEpoch', target: '#shipper.Stopped', actions: [{ type: 'stepDown', params: codedOf }] },
  { target: '#shipper.Backoff', actions: fail },
] as const;

/** Failures every state with a connection (or a connect attempt) accepts. */
const failures = {
  'connection.failed': { target: '#shipper.Backoff', actions: fail },
  'connection.closed': { target: '#shipper.Backoff', actions: fail },
  'protocol.error': { target: '#shipper.Backoff', actions: [{ type: 'reportProtocolError', params: codedOf }, ...fail] },
} as const;

const recordAck = 'recordAck' as const;

/** Stop for good: accepted in every state but Stopped (declared per state so the diagram draws it). */
const stoppable = { stop: { target: '#shipper.Stopped' } } as const;

/**
 * The shipper machine. Provide the effects with `shipperMachine.provide({ actions })`
 * and create the actor with the node's clock so the timers follow it.
 *
 * @example
 * createActor(shipperMachine.provide({ actions }), { input: { replicaId: 'r1' }, clock }).start()
 */
export const shipperMachine = setup({
  types: {
    context: {} as ShipperContext,
    events: {} as ShipperEvent,
    input: {} as ShipperInput,
  },
  actions: {
    /** Effect: dial the replica; answer with connection.opened or connection.failed. */
    openConnection: (_: unknown, _p: ShipperTarget) => {},
    /** Effect: send HELLO; answer with hello.accepted or hello.rejected. */
    sendHello: (_: unknown, _p: ShipperTarget) => {},
    /** Effect: begin shipping from `fromLsn` (once per connection). */
    startStreaming: (_: unknown, _p: StartStreaming) => {},
    /** Effect: the stream switched between catch-up and tailing (informative: metrics, batch sizing). */
    changeStreamMode: (_: unknown, _p: StreamModeChange) => {},
    /** Effect: send a snapshot; answer with snapshot.sent. */
    sendSnapshot: (_: unknown, _p: SendSnapshot) => {},
    /** Effect: close the connection (or abort the connect attempt); tolerate none being open. */
    closeConnection: (_: unknown, _p: ShipperTarget) => {},
    /** Effect: the replica knows a newer epoch: this node is not the primary anymore. */
    stepDown: (_: unknown, _p: CodedMessage) => {},
    /** Effect: a failure happened (feed the health machine's `failure`). */
    reportFailure: (_: unknown, _p: FailureReport) => {},
    /** Effect: a handshake succeeded (feed the health machine's `connected`). */
    reportConnected: (_: unknown, _p: ConnectedReport) => {},
    /** Effect: a frame from the replica was invalid (metric; the shell may send ERROR before the close). */
    reportProtocolError: (_: unknown, _p: CodedMessage) => {},
    recordOpened: assign(({ event }) =>
      event.type === 'connection.opened' ? { openedAtMs: event.nowMs, openedJitter: event.jitter } : {},
    ),
    recordFailure: assign(({ context }, f: FailureParams) => {
      const consecutiveFailures = context.consecutiveFailures + 1;
      const { backoffScheduleMs, jitterRatio, failuresToOpenCircuit } = context.config;
      return {
        consecutiveFailures,
        circuitOpen: consecutiveFailures >= failuresToOpenCircuit,
        backoffDelayMs: backoffDelayMs(backoffScheduleMs, context.backoffStep, jitterRatio, f.jitter),
        backoffStep: Math.min(context.backoffStep + 1, backoffScheduleMs.length - 1),
        lastFailure: { reason: f.reason, message: f.message, nowMs: f.nowMs },
        connectedSinceMs: undefined,
        openedAtMs: undefined,
      };
    }),
    recordConnected: assign(({ event }) =>
      event.type === 'hello.accepted'
        ? { consecutiveFailures: 0, backoffStep: 0, circuitOpen: false, connectedSinceMs: event.nowMs, lastAckedLsn: event.replicaFlushedLsn }
        : {},
    ),
    recordAck: assign(({ context, event }) =>
      event.type === 'progress' ? { lastAckedLsn: Math.max(context.lastAckedLsn, event.ackedLsn) } : {},
    ),
  },
  guards: {
    /** The replica's log ends before the primary's log begins: only a snapshot can bridge the gap. */
    needsSnapshot: ({ event }) => event.type === 'hello.accepted' && event.replicaFlushedLsn + 1 < event.logFirstLsn,
    /** More than a window behind: catch up first. */
    farBehind: ({ event }) => event.type === 'hello.accepted' && event.primaryLsn - event.replicaFlushedLsn > event.windowEntries,
    /** Within one window of the primary: tailing. */
    withinWindow: ({ event }) => event.type === 'progress' && event.primaryLsn - event.ackedLsn <= event.windowEntries,
    /** More than fallBehindWindows windows behind while tailing: back to catch-up. */
    fellBehind: ({ context, event }) =>
      event.type === 'progress' && event.primaryLsn - event.ackedLsn > context.config.fallBehindWindows * event.windowEntries,
    staleEpoch: ({ event }) => (event.type === 'hello.rejected' || event.type === 'peer.error') && event.code === 'StaleEpoch',
  },
  delays: {
    handshakeTimeout: ({ context }) => context.config.handshakeTimeoutMs,
    backoff: ({ context }) => context.backoffDelayMs,
  },
}).createMachine({
  id: 'shipper',
  description: [
    "The primary's view of one replication stream to one replica. The shell performs all I/O and sends one event per connection step, per ACK (progress) or per failure, never per entry;",
    'time arrives as nowMs and randomness as jitter in events; the handshake timeout and the backoff are after-transitions with named delays (handshakeTimeout, backoff) on the actor clock.',
    'Effects are named actions filled in with machine.provide(): openConnection, sendHello, startStreaming, changeStreamMode, sendSnapshot, closeConnection, stepDown, reportFailure, reportConnected, reportProtocolError.',
    `Defaults: handshakeTimeoutMs ${D.handshakeTimeoutMs}, backoffScheduleMs ${D.backoffScheduleMs.join(' -> ')} (last repeats), jitterRatio ${D.jitterRatio},`,
    `failuresToOpenCircuit ${D.failuresToOpenCircuit}, fallBehindWindows ${D.fallBehindWindows}.`,
    'Every failure (connection.failed, connection.closed, handshake timeout, hello.rejected, peer.error, protocol.error) counts, fires reportFailure and waits in Backoff;',
    'at failuresToOpenCircuit consecutive failures circuitOpen is true and retries go on at the schedule; a successful handshake resets the count, the schedule and the circuit.',
    'A StaleEpoch rejection stops the machine and fires stepDown. Hysteresis: CatchingUp -> Streaming within windowEntries, Streaming -> CatchingUp beyond fallBehindWindows * windowEntries.',
  ].join(' '),
  context: ({ input }) => ({
    replicaId: input.replicaId,
    config: resolveShipperConfig(input),
    consecutiveFailures: 0,
    backoffStep: 0,
    backoffDelayMs: 0,
    circuitOpen: false,
    lastFailure: undefined,
    lastAckedLsn: 0,
    connectedSinceMs: undefined,
    openedAtMs: undefined,
    openedJitter: 0.5,
  }),
  initial: 'Idle',
  states: {
    Idle: {
      description: 'Created, not started: start dials the replica.',
      on: { start: 'Connecting', ...stoppable },
    },
    Connecting: {
      description: "Dialling the replica (openConnection). The transport's connect timeout reports connection.failed with reason timeout.",
      entry: { type: 'openConnection', params: target },
      on: {
        'connection.opened': { target: 'Handshaking', actions: 'recordOpened' },
        ...failures,
        ...stoppable,
      },
    },
    Handshaking: {
      description: 'HELLO sent (sendHello), waiting for HELLO_ACK; after handshakeTimeoutMs it is a timeout failure.',
      entry: { type: 'sendHello', params: target },
      after: { handshakeTimeout: { target: 'Backoff', actions: fail } },
      on: {
        'hello.accepted': [
          {
            guard: 'needsSnapshot',
            target: 'Snapshotting',
            actions: ['recordConnected', { type: 'reportConnected', params: connectedOf }],
          },
          {
            guard: 'farBehind',
            target: 'CatchingUp',
            actions: ['recordConnected', { type: 'reportConnected', params: connectedOf }, { type: 'startStreaming', params: startFrom('catchUp') }],
          },
          {
            target: 'Streaming',
            actions: ['recordConnected', { type: 'reportConnected', params: connectedOf }, { type: 'startStreaming', params: startFrom('tail') }],
          },
        ],
        'hello.rejected': rejected,
        'peer.error': rejected,
        ...failures,
        ...stoppable,
      },
    },
    Snapshotting: {
      description: "The replica's log ends before the primary's log begins: a snapshot is on its way (sendSnapshot); snapshot.sent resumes streaming after it in CatchingUp.",
      entry: { type: 'sendSnapshot', params: ({ context }) => ({ replicaId: context.replicaId, replicaFlushedLsn: context.lastAckedLsn }) },
      on: {
        'snapshot.sent': {
          target: 'CatchingUp',
          actions: {
            type: 'startStreaming',
            params: ({ context, event }) => ({ replicaId: context.replicaId, fromLsn: event.snapshotLsn + 1, mode: 'catchUp' as const }),
          },
        },
        progress: { actions: recordAck },
        'peer.error': rejected,
        ...failures,
        ...stoppable,
      },
    },
    CatchingUp: {
      description: 'More than a window behind: the shell ships from the log as fast as the window allows. Streaming once an ACK is within windowEntries of the primary.',
      on: {
        progress: [
          { guard: 'withinWindow', target: 'Streaming', actions: [recordAck, { type: 'changeStreamMode', params: modeChange('tail') }] },
          { actions: recordAck },
        ],
        'peer.error': rejected,
        ...failures,
        ...stoppable,
      },
    },
    Streaming: {
      description: 'Caught up, tailing the log: the shell ships records as they are flushed. Back to CatchingUp only beyond fallBehindWindows * windowEntries (hysteresis).',
      on: {
        progress: [
          { guard: 'fellBehind', target: 'CatchingUp', actions: [recordAck, { type: 'changeStreamMode', params: modeChange('catchUp') }] },
          { actions: recordAck },
        ],
        'peer.error': rejected,
        ...failures,
        ...stoppable,
      },
    },
    Backoff: {
      description: 'After a failure: the connection is closed and the next attempt waits backoffDelayMs (schedule step, jitter applied), or until replica.seen (the replica showed it is up). circuitOpen after failuresToOpenCircuit failures in a row.',
      entry: { type: 'closeConnection', params: target },
      after: { backoff: 'Connecting' },
      on: { ...stoppable, 'replica.seen': 'Connecting' },
    },
    Stopped: {
      description: 'Final: stopped by stop, or by a StaleEpoch rejection (after stepDown).',
      type: 'final',
      entry: { type: 'closeConnection', params: target },
    },
  },
});

function connectedOf({ context, event }: Args): ConnectedReport {
  return event.type === 'hello.accepted'
    ? { replicaId: context.replicaId, nowMs: event.nowMs, replicaFlushedLsn: event.replicaFlushedLsn, primaryLsn: event.primaryLsn }
    : { replicaId: context.replicaId, nowMs: context.connectedSinceMs ?? 0, replicaFlushedLsn: context.lastAckedLsn, primaryLsn: context.lastAckedLsn };
}

function startFrom(mode: StreamMode) {
  return ({ context }: Args): StartStreaming => ({ replicaId: context.replicaId, fromLsn: context.lastAckedLsn + 1, mode });
}

function modeChange(mode: StreamMode) {
  return ({ context, event }: Args): StreamModeChange => ({
    replicaId: context.replicaId,
    mode,
    ackedLsn: context.lastAckedLsn,
    primaryLsn: event.type === 'progress' ? event.primaryLsn : context.lastAckedLsn,
  });
}

/** A snapshot of {@link shipperMachine}. */
export type ShipperSnapshot = SnapshotFrom<typeof shipperMachine>;

/** The state names of the shipper. */
export type ShipperState = 'Idle' | 'Connecting' | 'Handshaking' | 'Snapshotting' | 'CatchingUp' | 'Streaming' | 'Backoff' | 'Stopped';

/**
 * The events of the shipper's two timers, as an actor's clock delivers them;
 * {@link shipperTransition} accepts them to step a snapshot through a timeout.
 */
export const SHIPPER_TIMERS = Object.freeze({
  handshakeTimeout: 'xstate.after.handshakeTimeout.shipper.Handshaking',
  backoff: 'xstate.after.backoff.shipper.Backoff',
} as const);

/** A fired timer of the shipper. */
export interface ShipperTimerEvent {
  readonly type: (typeof SHIPPER_TIMERS)[keyof typeof SHIPPER_TIMERS];
}

/** A timer a transition started: the event it will deliver and after how long. */
export interface ScheduledTimer {
  readonly event: string;
  readonly delayMs: number;
}

/**
 * The first snapshot (Idle), computed without starting an actor.
 *
 * @example
 * let shipper = initialShipper({ replicaId: 'r1' })
 * @throws ReplicationError `InvalidConfig` when the input is invalid.
 */
export function initialShipper(input: ShipperInput): ShipperSnapshot {
  const snapshot = initialTransition(shipperMachine, input)[0];
  if (snapshot.status === 'error') throw snapshot.error;
  return snapshot;
}

/**
 * The delayed events among the actions xstate's transition() returned.
 *
 * @example
 * scheduledTimers(transition(shipperMachine, snapshot, event)[1]) // [{ event: SHIPPER_TIMERS.backoff, delayMs: 100 }]
 */
export function scheduledTimers(actions: ReadonlyArray<{ type: string; params?: unknown }>): ScheduledTimer[] {
  const timers: ScheduledTimer[] = [];
  for (const a of actions) {
    const p = a.params as { id?: unknown; delay?: unknown } | undefined;
    if (a.type === 'xstate.raise' && typeof p?.id === 'string' && typeof p.delay === 'number') {
      timers.push({ event: p.id, delayMs: p.delay });
    }
  }
  return timers;
}

/**
 * Pure step: the next snapshot, its state, the named effects to perform in
 * order and the timers started, without running anything (xstate's
 * `transition()`). An actor schedules the timers on its clock; here a timer
 * is stepped by passing its event ({@link SHIPPER_TIMERS}).
 *
 * @example
 * const step = shipperTransition(initialShipper({ replicaId: 'r1' }), { type: 'start' })
 * step.state // 'Connecting'; step.effects[0].type === 'openConnection'
 */
export function shipperTransition(
  snapshot: ShipperSnapshot,
  event: ShipperEvent | ShipperTimerEvent,
): { snapshot: ShipperSnapshot; state: ShipperState; effects: ShipperEffect[]; timers: ScheduledTimer[] } {
  // A final snapshot takes no more events, as a stopped actor drops them.
  if (snapshot.status !== 'active') return { snapshot, state: snapshot.value as ShipperState, effects: [], timers: [] };
  const [next, actions] = transition(shipperMachine, snapshot, event as ShipperEvent);
  const effects = actions
    .filter((a) => SHIPPER_EFFECTS.has(a.type as ShipperEffect['type']))
    .map((a) => ({ type: a.type, params: a.params }) as ShipperEffect);
  return { snapshot: next, state: next.value as ShipperState, effects, timers: scheduledTimers(actions) };
}
