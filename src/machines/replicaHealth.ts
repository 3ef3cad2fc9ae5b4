/**
 * `replicaHealth`: one replica's health as the primary sees it (DESIGN §7).
 *
 * Statuses: `Healthy` (caught up), `Lagging`, `Degraded` (substates
 * `Moderate` and `Severe`) and `Failed` (substates `Disconnected` and
 * `Reconnected`). The machine is pure: it never reads a clock, every event
 * that can move it carries `nowMs`, and its effects are the named actions
 * `notifyStatusChange` and `raiseLagAlert`, empty here and filled in by the
 * actor with `machine.provide()`.
 *
 * Thresholds (all inputs, seed defaults in {@link defaultReplicaHealthThresholds}):
 * - up to `Lagging`: lag >= `laggingLagMs` in every sample for `graceMs`;
 * - up to `Degraded`: one sample with lag >= `degradedLagMs` (alert `degraded`),
 *   `Degraded.Severe` at lag >= `severeLagMs` (alert `severe`);
 * - one level down: lag < threshold * `recoverRatio` in every sample for `graceMs`;
 * - `Failed`: `failuresToFail` consecutive failures; leaves through
 *   `connected` then the first `lag.sample`, to the status that lag gives.
 *
 * @example
 * const actor = createActor(replicaHealthMachine.provide({ actions: {
 *   notifyStatusChange: (_, change) => emitter.emit('replicaStatus', id, change),
 * } }), { input: { nowMs: clock.now() } }).start()
 * actor.send({ type: 'lag.sample', lagMs: 12, lagEntries: 40, nowMs: clock.now() })
 */
import { assign, initialTransition, setup, transition } from 'xstate';
import type { SnapshotFrom } from 'xstate';
import { ReplicationError } from '../errors.js';

/** The public status values of a replica. */
export type HealthStatus = 'Healthy' | 'Lagging' | 'Degraded' | 'Failed';

/** Every {@link HealthStatus}, in order of increasing trouble. */
export const HEALTH_STATUSES: readonly HealthStatus[] = ['Healthy', 'Lagging', 'Degraded', 'Failed'];

/** The thresholds of the health machine; every one is an input. */
export interface ReplicaHealthThresholds {
  /** Time lag at or above which a replica starts to count as Lagging (after `graceMs`). */
  readonly laggingLagMs: number;
  /** Time lag at or above which a replica is Degraded at once (alert `degraded`). */
  readonly degradedLagMs: number;
  /** Time lag at or above which a Degraded replica is Severe (alert `severe`). */
  readonly severeLagMs: number;
  /** A level is left downwards only below `threshold * recoverRatio` (hysteresis), in (0, 1]. */
  readonly recoverRatio: number;
  /** How long a sample run must hold before Healthy -> Lagging or any step down. */
  readonly graceMs: number;
  /** Consecutive failures (connect, timeout, protocol) that make a replica Failed. */
  readonly failuresToFail: number;
}

/**
 * Seed defaults. `laggingLagMs` is 100 ms, not 0: at 10K writes/s a healthy
 * replica always shows a few ms of apply lag (group commit alone holds up to
 * 10 ms), and `graceMs` 500 ms rides out a 310 ms GC pause without a flap.
 */
export const defaultReplicaHealthThresholds: Readonly<ReplicaHealthThresholds> = Object.freeze({
  laggingLagMs: 100,
  degradedLagMs: 1000,
  severeLagMs: 5000,
  recoverRatio: 0.8,
  graceMs: 500,
  failuresToFail: 3,
});
const D = defaultReplicaHealthThresholds;

/** Input: any thresholds to override, and the time the replica was added. */
export interface ReplicaHealthInput extends Partial<ReplicaHealthThresholds> {
  readonly nowMs?: number;
}

/** Why a connection attempt or stream failed; the first three are the library's own. */
export type FailureReason = 'connect' | 'timeout' | 'protocol' | (string & {});

/** Sent on every ACK and on the periodic lag tick (never per entry). */
export interface LagSampleEvent {
  readonly type: 'lag.sample';
  readonly lagMs: number;
  readonly lagEntries: number;
  readonly nowMs: number;
}
/** A connect error, a timeout or a protocol error. */
export interface FailureEvent {
  readonly type: 'failure';
  readonly reason: FailureReason;
  readonly nowMs: number;
}
/** A handshake succeeded: resets the failure count; does not by itself leave Failed. */
export interface ConnectedEvent {
  readonly type: 'connected';
  readonly nowMs: number;
}
/** Any successful exchange (an ACK, an answered heartbeat): resets the failure count. */
export interface SuccessEvent {
  readonly type: 'success';
}
/** Every event the health machine accepts. */
export type ReplicaHealthEvent = LagSampleEvent | FailureEvent | ConnectedEvent | SuccessEvent;

/** The machine's context. */
export interface ReplicaHealthContext {
  readonly thresholds: Readonly<ReplicaHealthThresholds>;
  consecutiveFailures: number;
  /** Reason of the last failure, or null before any. */
  lastFailure: string | null;
  lastLagMs: number;
  lastLagEntries: number;
  /** `nowMs` of entering the current status. */
  since: number;
  /** Why the last state change (status or substate) happened. */
  lastReason: string;
  /** Start of the current run of samples that argue for a move (the grace window), or null. */
  graceSinceMs: number | null;
}

/** Params of `notifyStatusChange`: called once per change of the top-level status. */
export interface StatusChange {
  readonly from: HealthStatus;
  readonly to: HealthStatus;
  readonly reason: string;
  readonly nowMs: number;
  readonly lagMs: number;
  readonly lagEntries: number;
  readonly consecutiveFailures: number;
}

/** Params of `raiseLagAlert`: on entering Degraded (`degraded`) or Degraded.Severe (`severe`). */
export interface LagAlert {
  readonly level: 'degraded' | 'severe';
  readonly lagMs: number;
  readonly lagEntries: number;
  readonly thresholdMs: number;
  readonly nowMs: number;
}

/** The lag thresholds guards are parameterised with. */
export type LagThreshold = 'laggingLagMs' | 'degradedLagMs' | 'severeLagMs';

interface Args {
  readonly context: ReplicaHealthContext;
  readonly event: ReplicaHealthEvent;
}

/**
 * The thresholds an input gives, defaults filled in and checked; the actor
 * calls it up front to refuse a bad configuration before starting.
 *
 * @example
 * resolveReplicaHealthThresholds({ graceMs: 250 }).degradedLagMs // 1000
 * @throws ReplicationError `InvalidConfig` when they are inconsistent.
 */
export function resolveReplicaHealthThresholds(input: ReplicaHealthInput): ReplicaHealthThresholds {
  const t: ReplicaHealthThresholds = {
    laggingLagMs: input.laggingLagMs ?? D.laggingLagMs,
    degradedLagMs: input.degradedLagMs ?? D.degradedLagMs,
    severeLagMs: input.severeLagMs ?? D.severeLagMs,
    recoverRatio: input.recoverRatio ?? D.recoverRatio,
    graceMs: input.graceMs ?? D.graceMs,
    failuresToFail: input.failuresToFail ?? D.failuresToFail,
  };
  const ok =
    t.laggingLagMs > 0 &&
    t.laggingLagMs < t.degradedLagMs &&
    t.degradedLagMs < t.severeLagMs &&
    t.recoverRatio > 0 &&
    t.recoverRatio <= 1 &&
    t.graceMs >= 0 &&
    Number.isInteger(t.failuresToFail) &&
    t.failuresToFail >= 1;
  if (!ok) {
    throw new ReplicationError('InvalidConfig', `replica health thresholds are inconsistent: ${JSON.stringify(t)}`, {
      suggestion: 'need 0 < laggingLagMs < degradedLagMs < severeLagMs, 0 < recoverRatio <= 1, graceMs >= 0, failuresToFail >= 1',
    });
  }
  return Object.freeze(t);
}

const nowOf = ({ context, event }: Args): number => ('nowMs' in event ? event.nowMs : context.since);
const lagOf = ({ event }: Args): number => (event.type === 'lag.sample' ? event.lagMs : Number.NaN);
const graceHeld = (args: Args): boolean =>
  nowOf(args) - (args.context.graceSinceMs ?? nowOf(args)) >= args.context.thresholds.graceMs;
const recoveryMs = (context: ReplicaHealthContext, threshold: LagThreshold): number =>
  context.thresholds[threshold] * context.thresholds.recoverRatio;

/** Actions for a change of top-level status: bookkeeping, then the notification. */
function changeStatus(from: HealthStatus, to: HealthStatus, why: (args: Args) => string) {
  return [
    { type: 'enterStatus', params: (args: Args) => ({ reason: why(args) }) },
    {
      type: 'notifyStatusChange',
      params: ({ context }: Args): StatusChange => ({
        from,
        to,
        reason: context.lastReason,
        nowMs: context.since,
        lagMs: context.lastLagMs,
        lagEntries: context.lastLagEntries,
        consecutiveFailures: context.consecutiveFailures,
      }),
    },
  ] as const;
}

/** The `raiseLagAlert` action for a level. */
function alert(level: LagAlert['level']) {
  const threshold: LagThreshold = level === 'severe' ? 'severeLagMs' : 'degradedLagMs';
  return {
    type: 'raiseLagAlert',
    params: (args: Args): LagAlert => ({
      level,
      lagMs: args.context.lastLagMs,
      lagEntries: args.context.lastLagEntries,
      thresholdMs: args.context.thresholds[threshold],
      nowMs: nowOf(args),
    }),
  } as const;
}

const above = (threshold: LagThreshold) => (args: Args) =>
  `lag ${lagOf(args)} ms >= ${threshold} ${args.context.thresholds[threshold]}`;
const aboveForGrace = (threshold: LagThreshold) => (args: Args) =>
  `${above(threshold)(args)} for graceMs ${args.context.thresholds.graceMs}`;
const belowForGrace = (threshold: LagThreshold) => (args: Args) =>
  `lag ${lagOf(args)} ms < ${threshold} * recoverRatio (${recoveryMs(args.context, threshold)}) for graceMs ${args.context.thresholds.graceMs}`;
const failed = ({ context }: Args) =>
  `${context.consecutiveFailures} consecutive failures (last: ${context.lastFailure ?? 'unknown'})`;
const reconnected = (args: Args) => `reconnected with lag ${lagOf(args)} ms`;

const guard = (type: 'lagAtLeast' | 'lagAtLeastForGrace' | 'lagBelowRecovery' | 'lagBelowRecoveryForGrace', threshold: LagThreshold) =>
  ({ type, params: { threshold } }) as const;

/** `failure` from a non-Failed status: count it, and go to Failed at the limit. */
function failureFrom(from: HealthStatus) {
  return [
    { guard: 'failureLimitReached', target: '#replicaHealth.Failed', actions: ['countFailure', ...changeStatus(from, 'Failed', failed)] },
    { actions: 'countFailure' },
  ] as const;
}

/**
 * The replica health machine. Provide `notifyStatusChange` and `raiseLagAlert`
 * with `replicaHealthMachine.provide({ actions })`.
 */
export const replicaHealthMachine = setup({
  types: {
    context: {} as ReplicaHealthContext,
    events: {} as ReplicaHealthEvent,
    input: {} as ReplicaHealthInput,
  },
  actions: {
    /** Effect: the top-level status changed. Empty by default. */
    notifyStatusChange: (_: unknown, _change: StatusChange) => {},
    /** Effect: lag crossed an alert level. Empty by default. */
    raiseLagAlert: (_: unknown, _alert: LagAlert) => {},
    recordLag: assign(({ context, event }) =>
      event.type === 'lag.sample' ? { lastLagMs: event.lagMs, lastLagEntries: event.lagEntries } : context,
    ),
    holdGrace: assign(({ context, event }) => ({ graceSinceMs: context.graceSinceMs ?? nowOf({ context, event }) })),
    clearGrace: assign({ graceSinceMs: null }),
    countFailure: assign(({ context, event }) => ({
      consecutiveFailures: context.consecutiveFailures + 1,
      lastFailure: event.type === 'failure' ? event.reason : context.lastFailure,
    })),
    resetFailures: assign({ consecutiveFailures: 0 }),
    enterStatus: assign(({ context, event }, params: { reason: string }) => ({
      since: nowOf({ context, event }),
      lastReason: params.reason,
      graceSinceMs: null,
    })),
    enterSubstate: assign((_, params: { reason: string }) => ({ lastReason: params.reason, graceSinceMs: null })),
  },
  guards: {
    lagAtLeast: (args, params: { threshold: LagThreshold }) =>
      lagOf(args) >= args.context.thresholds[params.threshold],
    lagAtLeastForGrace: (args, params: { threshold: LagThreshold }) =>
      lagOf(args) >= args.context.thresholds[params.threshold] && graceHeld(args),
    lagBelowRecovery: (args, params: { threshold: LagThreshold }) =>
      lagOf(args) < recoveryMs(args.context, params.threshold),
    lagBelowRecoveryForGrace: (args, params: { threshold: LagThreshold }) =>
      lagOf(args) < recoveryMs(args.context, params.threshold) && graceHeld(args),
    failureLimitReached: ({ context }) => context.consecutiveFailures + 1 >= context.thresholds.failuresToFail,
  },
}).createMachine({
  id: 'replicaHealth',
  description: [
    "One replica's health as the primary sees it, from lag samples (sent on every ACK and on a periodic tick) and connection failures.",
    'Time arrives in events as nowMs; effects are the named actions notifyStatusChange and raiseLagAlert, filled in with machine.provide().',
    `Defaults: laggingLagMs ${D.laggingLagMs}, degradedLagMs ${D.degradedLagMs}, severeLagMs ${D.severeLagMs},`,
    `recoverRatio ${D.recoverRatio}, graceMs ${D.graceMs}, failuresToFail ${D.failuresToFail}.`,
    'Up to Lagging only after graceMs of samples at or above laggingLagMs; up to Degraded at once; one level down only after graceMs of samples below threshold * recoverRatio.',
    'Failed recovers through reconnect -> catch-up: connected, then the first lag sample picks Healthy, Lagging or Degraded.',
  ].join(' '),
  context: ({ input }) => ({
    thresholds: resolveReplicaHealthThresholds(input),
    consecutiveFailures: 0,
    lastFailure: null,
    lastLagMs: 0,
    lastLagEntries: 0,
    since: input.nowMs ?? 0,
    lastReason: 'added',
    graceSinceMs: null,
  }),
  initial: 'Healthy',
  on: {
    success: { description: 'A successful exchange resets the consecutive failure count.', actions: 'resetFailures' },
    connected: { description: 'A handshake resets the consecutive failure count.', actions: 'resetFailures' },
  },
  states: {
    Healthy: {
      description: 'Caught up: lag below laggingLagMs, or above it for less than graceMs.',
      on: {
        'lag.sample': [
          { guard: guard('lagAtLeast', 'severeLagMs'), target: '#replicaHealth.Degraded.Severe', actions: ['recordLag', ...changeStatus('Healthy', 'Degraded', above('severeLagMs')), alert('severe')] },
          { guard: guard('lagAtLeast', 'degradedLagMs'), target: '#replicaHealth.Degraded', actions: ['recordLag', ...changeStatus('Healthy', 'Degraded', above('degradedLagMs')), alert('degraded')] },
          { guard: guard('lagAtLeastForGrace', 'laggingLagMs'), target: 'Lagging', actions: ['recordLag', ...changeStatus('Healthy', 'Lagging', aboveForGrace('laggingLagMs'))] },
          { guard: guard('lagAtLeast', 'laggingLagMs'), actions: ['recordLag', 'holdGrace'] },
          { actions: ['recordLag', 'clearGrace'] },
        ],
        failure: failureFrom('Healthy'),
      },
    },
    Lagging: {
      description: 'Behind by less than degradedLagMs; back to Healthy below laggingLagMs * recoverRatio for graceMs.',
      on: {
        'lag.sample': [
          { guard: guard('lagAtLeast', 'severeLagMs'), target: '#replicaHealth.Degraded.Severe', actions: ['recordLag', ...changeStatus('Lagging', 'Degraded', above('severeLagMs')), alert('severe')] },
          { guard: guard('lagAtLeast', 'degradedLagMs'), target: '#replicaHealth.Degraded', actions: ['recordLag', ...changeStatus('Lagging', 'Degraded', above('degradedLagMs')), alert('degraded')] },
          { guard: guard('lagBelowRecoveryForGrace', 'laggingLagMs'), target: 'Healthy', actions: ['recordLag', ...changeStatus('Lagging', 'Healthy', belowForGrace('laggingLagMs'))] },
          { guard: guard('lagBelowRecovery', 'laggingLagMs'), actions: ['recordLag', 'holdGrace'] },
          { actions: ['recordLag', 'clearGrace'] },
        ],
        failure: failureFrom('Lagging'),
      },
    },
    Degraded: {
      description: 'Behind by degradedLagMs or more (alert). Back to Lagging below degradedLagMs * recoverRatio for graceMs.',
      initial: 'Moderate',
      on: { failure: failureFrom('Degraded') },
      states: {
        Moderate: {
          description: 'Lag between degradedLagMs and severeLagMs.',
          on: {
            'lag.sample': [
              { guard: guard('lagAtLeast', 'severeLagMs'), target: 'Severe', actions: ['recordLag', { type: 'enterSubstate', params: (args: Args) => ({ reason: above('severeLagMs')(args) }) }, alert('severe')] },
              { guard: guard('lagBelowRecoveryForGrace', 'degradedLagMs'), target: '#replicaHealth.Lagging', actions: ['recordLag', ...changeStatus('Degraded', 'Lagging', belowForGrace('degradedLagMs'))] },
              { guard: guard('lagBelowRecovery', 'degradedLagMs'), actions: ['recordLag', 'holdGrace'] },
              { actions: ['recordLag', 'clearGrace'] },
            ],
          },
        },
        Severe: {
          description: 'Lag at or above severeLagMs (severe alert). Back to Moderate below severeLagMs * recoverRatio for graceMs.',
          on: {
            'lag.sample': [
              { guard: guard('lagBelowRecoveryForGrace', 'severeLagMs'), target: 'Moderate', actions: ['recordLag', { type: 'enterSubstate', params: (args: Args) => ({ reason: belowForGrace('severeLagMs')(args) }) }] },
              { guard: guard('lagBelowRecovery', 'severeLagMs'), actions: ['recordLag', 'holdGrace'] },
              { actions: ['recordLag', 'clearGrace'] },
            ],
          },
        },
      },
    },
    Failed: {
      description: 'failuresToFail consecutive failures. Recovers through reconnect -> catch-up: connected, then the first lag sample picks the status.',
      initial: 'Disconnected',
      states: {
        Disconnected: {
          description: 'No working connection; lag samples are recorded only.',
          on: {
            connected: { target: 'Reconnected', actions: ['resetFailures', { type: 'enterSubstate', params: () => ({ reason: 'handshake succeeded' }) }] },
            failure: { actions: 'countFailure' },
            'lag.sample': { actions: 'recordLag' },
          },
        },
        Reconnected: {
          description: 'Handshake done; the first lag sample leaves Failed for the status its lag gives.',
          on: {
            'lag.sample': [
              { guard: guard('lagAtLeast', 'severeLagMs'), target: '#replicaHealth.Degraded.Severe', actions: ['recordLag', ...changeStatus('Failed', 'Degraded', reconnected), alert('severe')] },
              { guard: guard('lagAtLeast', 'degradedLagMs'), target: '#replicaHealth.Degraded', actions: ['recordLag', ...changeStatus('Failed', 'Degraded', reconnected), alert('degraded')] },
              { guard: guard('lagAtLeast', 'laggingLagMs'), target: '#replicaHealth.Lagging', actions: ['recordLag', ...changeStatus('Failed', 'Lagging', reconnected)] },
              { target: '#replicaHealth.Healthy', actions: ['recordLag', ...changeStatus('Failed', 'Healthy', reconnected)] },
            ],
            failure: { target: 'Disconnected', actions: ['countFailure', { type: 'enterSubstate', params: ({ context }: Args) => ({ reason: `failure during catch-up (${context.lastFailure ?? 'unknown'})` }) }] },
          },
        },
      },
    },
  },
});

/** A snapshot of {@link replicaHealthMachine}. */
export type ReplicaHealthSnapshot = SnapshotFrom<typeof replicaHealthMachine>;

/** A named effect the machine asks for: the action's type and its resolved params. */
export type ReplicaHealthEffect =
  | { readonly type: 'notifyStatusChange'; readonly params: StatusChange }
  | { readonly type: 'raiseLagAlert'; readonly params: LagAlert };

/** The top-level status of a snapshot (`Degraded` for both of its substates). */
export function healthStatus(snapshot: ReplicaHealthSnapshot): HealthStatus {
  const value = snapshot.value;
  return (typeof value === 'string' ? value : Object.keys(value)[0]) as HealthStatus;
}

/** True when the replica is Degraded at the severe level. */
export function isSevere(snapshot: ReplicaHealthSnapshot): boolean {
  return snapshot.matches({ Degraded: 'Severe' });
}

/**
 * The first snapshot, computed without starting an actor.
 *
 * @example
 * let health = initialHealth({ nowMs: 0, graceMs: 200 })
 * @throws ReplicationError `InvalidConfig` when the thresholds are inconsistent.
 */
export function initialHealth(input: ReplicaHealthInput = {}): ReplicaHealthSnapshot {
  const snapshot = initialTransition(replicaHealthMachine, input)[0];
  // xstate turns an error thrown by the context factory into an error snapshot.
  if (snapshot.status === 'error') throw snapshot.error;
  return snapshot;
}

/**
 * Pure step: the next snapshot, its status and the named effects to perform,
 * without running them (xstate's `transition()`).
 *
 * @example
 * const step = healthTransition(health, { type: 'failure', reason: 'timeout', nowMs: 10 })
 * for (const effect of step.effects) perform(effect)
 */
export function healthTransition(
  snapshot: ReplicaHealthSnapshot,
  event: ReplicaHealthEvent,
): { snapshot: ReplicaHealthSnapshot; status: HealthStatus; effects: ReplicaHealthEffect[] } {
  const [next, actions] = transition(replicaHealthMachine, snapshot, event);
  const effects = actions
    .filter((a) => a.type === 'notifyStatusChange' || a.type === 'raiseLagAlert')
    .map((a) => ({ type: a.type, params: a.params }) as ReplicaHealthEffect);
  return { snapshot: next, status: healthStatus(next), effects };
}
