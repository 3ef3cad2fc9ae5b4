/**
 * `promotion`: one node's view of who is primary, elections and fencing
 * (DESIGN §8), Raft-like, for one replication group.
 *
 * States: `Follower` (substates `Following`, a primary is heard, and
 * `Suspecting`, none known), `PreCandidate` (asking for pre-votes), `Candidate`, `Primary` (substates `Leading`,
 * writes accepted, `HandingOver`, writes refused during a planned
 * switchover, and `LeaseLost`, writes refused but still the epoch's
 * primary) and the transient `Starting` (picks the first state from the
 * input) and `SteppingDown` (entry `stepDown`, then Follower). The machine is
 * pure: the shell (src/actors) does all I/O and persistence and sends one
 * event per heartbeat, vote request, vote reply or quorum report; time
 * arrives in events as `nowMs`, randomness as `jitter` in [0, 1), and the
 * four timers are `after` transitions with named delays computed from
 * context, so the actor's injected clock drives them.
 *
 * Safety, and what the shell must do for it:
 * - one vote per epoch: `votedEpoch` only grows (a vote for self when a
 *   candidacy starts, `grantVote` for another); the shell persists epoch and
 *   vote (`startElection`, `grantVote`, `adoptEpoch`, `becomePrimary`)
 *   BEFORE it sends anything that depends on them;
 * - at most one primary per epoch: an elected primary holds votes of a
 *   majority (`majorityOf(clusterSize)`, itself included) for its epoch, and
 *   two majorities share a voter. Epoch 1 is reserved for the bootstrap
 *   primary of a new cluster (`initialRole: 'primary'` on ONE node): elections
 *   start at epoch 2, so they never race it. `promote {force: true}` is an
 *   election too: it skips the pre-vote and the refusal while a primary is
 *   live, and its VOTE_REQUEST carries `force`, which a voter grants even
 *   while it follows a live primary or leads (a leading primary that grants
 *   steps down); one vote per epoch and the log check still hold, so a
 *   forced primary also holds a majority's votes for its epoch;
 * - a voter grants only to a log at least as complete as its own
 *   (`(lastEpoch, lastLsn)` compared lexicographically), so an elected
 *   primary's log is at least as complete as a majority's;
 * - leases: the shell sends `quorum.contact` when a majority (self included)
 *   acknowledged a frame this primary sent within the last `leaseMs`; without
 *   one for `leaseMs` the primary is `LeaseLost` and refuses writes. A voter
 *   that heard the primary less than `failoverTimeoutMs` ago refuses votes,
 *   and any electing majority shares a node with the primary's last
 *   acknowledging majority, so with `leaseMs < failoverTimeoutMs` (checked)
 *   the old primary stops accepting writes before a new one can be elected,
 *   provided the delay from that node's heartbeat to the `quorum.contact` it
 *   led to stays under `failoverTimeoutMs - leaseMs` (500 ms by default).
 *
 * Pre-vote: a follower whose failover timer fires does not stand at once.
 * As a `PreCandidate` it asks every peer whether it would vote for it in the
 * next epoch, claiming and persisting nothing; a peer says yes only when it
 * would grant the real vote (epoch above its own, log complete enough, no live
 * primary heard, not a leading primary). Only with a majority of yeses does it
 * become a `Candidate`. So a node that was paused (SIGSTOP, a long GC) or cut
 * off, and whose timer fires before it reads the heartbeats queued for it,
 * never bumps the epoch over a primary that a majority still hears.
 *
 * Handover (planned switchover, Raft's leadership transfer): `handover`
 * moves a Leading primary to `HandingOver` (`beginHandover`: the shell
 * refuses writes, waits until the target has flushed every record and sends
 * it HANDOVER). The target's `handover.request` (from the primary it
 * follows, in its epoch) starts a forced candidacy at once; its log is then
 * complete, so every voter, the old primary included, grants it, and the old
 * primary steps down on granting. Without that within the handover's
 * `timeoutMs`, `endHandover`: with no HANDOVER that may still act
 * (`handover.sent` / `handover.ignored` from the shell), the primary is
 * `LeaseLost` (writes resume with the next quorum contact); with one, the
 * target may still stand in a forced election that the lease does not
 * fence, so the primary steps down (`handoverTimedOut`) rather than write
 * again in its epoch.
 *
 * Leader stickiness: a node `Following` a live primary (heard within
 * `failoverTimeoutMs`) and a `Leading` primary refuse vote requests without
 * adopting their epoch (a forced promotion's excepted: an operator asked for
 * it), so a node cut off from the primary cannot depose a primary that a
 * majority still hears by starting elections. For the same
 * reason the shell turns HEARTBEAT, VOTE_REQUEST and VOTE_REPLY frames into
 * their own events only, and sends `epoch.higher` for any other frame
 * carrying a higher epoch (BATCH, ACK, HELLO, ERROR StaleEpoch, ...).
 *
 * @example
 * const promotion = createActor(promotionMachine.provide({ actions: {
 *   startElection: (_, { epoch }) => meta.persistVote(epoch, nodeId).then(() => peers.requestVotes(epoch)),
 *   becomePrimary: (_, { epoch }) => node.becomePrimary(epoch),
 *   stepDown: () => node.becomeReplica(),
 * } }), { input: { nodeId: 'n1', clusterSize: 3, epoch: meta.epoch, votedEpoch: meta.votedEpoch, jitter: random.next() }, clock }).start()
 * promotion.send({ type: 'heartbeat', from: 'n2', epoch: 4, nowMs: clock.now(), jitter: random.next() })
 */
import { assign, initialTransition, setup, transition } from 'xstate';
import type { SnapshotFrom } from 'xstate';
import { ReplicationError } from '../errors.js';
import type { Epoch, Lsn } from '../types.js';
import { scheduledTimers, type ScheduledTimer } from './shipper.js';

/** The timings of the promotion machine; every one is an input. */
export interface PromotionConfig {
  /** A follower that hears no heartbeat for `failoverTimeoutMs * (1 + electionJitterRatio * jitter)` starts an election. */
  readonly failoverTimeoutMs: number;
  /** Spread of the election timeouts (>= 0): each is scaled by `1 + electionJitterRatio * jitter`. */
  readonly electionJitterRatio: number;
  /** A candidate that neither wins nor hears a primary starts a new round after `electionRoundMs * (1 + electionJitterRatio * jitter)`. */
  readonly electionRoundMs: number;
  /** A primary without `quorum.contact` for `leaseMs` refuses writes (LeaseLost); must be < `failoverTimeoutMs`. */
  readonly leaseMs: number;
}

/** Defaults: failover after 1.5-2.25 s of silence, a 1 s lease, 1-1.5 s election rounds. */
export const defaultPromotionConfig: Readonly<PromotionConfig> = Object.freeze({
  failoverTimeoutMs: 1500,
  electionJitterRatio: 0.5,
  electionRoundMs: 1000,
  leaseMs: 1000,
});
const D = defaultPromotionConfig;

/** The epoch of the bootstrap primary of a new cluster; elections start above it. */
export const BOOTSTRAP_EPOCH: Epoch = 1;

/** The role a node is configured with; `primary` takes effect only for a new cluster (epoch 0). */
export type InitialRole = 'primary' | 'follower';

/** Input: this node, the cluster, the persisted epoch and vote, and any timings to override. */
export interface PromotionInput extends Partial<PromotionConfig> {
  readonly nodeId: string;
  /** Configured nodes, this one included. */
  readonly clusterSize: number;
  /** `primary` only on the one node that bootstraps a NEW cluster; ignored once epoch or votedEpoch is above 0. Default `follower`. */
  readonly initialRole?: InitialRole;
  /** The persisted current epoch (0 for a new node). */
  readonly epoch: Epoch;
  /** The persisted epoch of the last vote this node granted (to itself or another), 0 if none. */
  readonly votedEpoch: Epoch;
  /** A number in [0, 1) from the shell's seeded Random for the first failover timeout. Default 0.5. */
  readonly jitter?: number;
}

/** HEARTBEAT from a primary. */
export interface PrimaryHeartbeatEvent {
  readonly type: 'heartbeat';
  readonly from: string;
  readonly epoch: Epoch;
  readonly nowMs: number;
  /** A number in [0, 1): randomises the failover timeout this heartbeat re-arms. */
  readonly jitter: number;
}
/** VOTE_REQUEST from a candidate; the shell fills in this node's own log position. */
export interface VoteRequestEvent {
  readonly type: 'vote.request';
  readonly candidateId: string;
  readonly epoch: Epoch;
  /** The candidate's last log record: its epoch and LSN. */
  readonly lastEpoch: Epoch;
  readonly lastLsn: Lsn;
  /** This node's last log record. */
  readonly ownLastEpoch: Epoch;
  readonly ownLastLsn: Lsn;
  readonly nowMs: number;
  /** A forced promotion's request: granted even while a live primary is heard or this node leads. */
  readonly force?: boolean;
  /** Optional fresh randomness for the failover timeout a granted vote re-arms. */
  readonly jitter?: number;
}
/**
 * VOTE_REQUEST with `preVote` (Raft's pre-vote): would this node vote for the
 * candidate in `epoch`? Answered from the current state; nothing changes and
 * nothing is persisted. The shell fills in this node's own log position.
 */
export interface PreVoteRequestEvent extends Omit<VoteRequestEvent, 'type' | 'jitter' | 'force'> {
  readonly type: 'prevote.request';
}
/** The answer to this node's pre-vote request. */
export interface PreVoteReplyEvent {
  readonly type: 'prevote.reply';
  readonly from: string;
  /** The epoch asked about when granted; the voter's current epoch when refused. */
  readonly epoch: Epoch;
  readonly granted: boolean;
}
/** VOTE_REPLY to this node's request. */
export interface VoteReplyEvent {
  readonly type: 'vote.reply';
  readonly from: string;
  /** The voter's current epoch (the request's when granted). */
  readonly epoch: Epoch;
  readonly granted: boolean;
  /** Optional fresh randomness for the next election round. */
  readonly jitter?: number;
}
/** On the primary: a majority (self included) acknowledged a frame sent within the last lease period. */
export interface QuorumContactEvent {
  readonly type: 'quorum.contact';
  readonly nowMs: number;
}
/** Manual promotion (`node.promote()`, `POST /promote`). */
export interface PromoteEvent {
  readonly type: 'promote';
  /** A forced election: no pre-vote, not refused while a primary is live, and voters grant even while they hear one. */
  readonly force: boolean;
  readonly nowMs: number;
  readonly jitter?: number;
}
/**
 * Planned switchover, on the primary (`node.handover()`): stop accepting
 * writes and hand over to `to`; the shell catches `to` up and sends it
 * HANDOVER. Without a step-down within `timeoutMs` the handover ends: in
 * LeaseLost, or stepping down when a HANDOVER may still act (see
 * {@link EndHandover}).
 */
export interface HandoverEvent {
  readonly type: 'handover';
  readonly to: string;
  readonly timeoutMs: number;
  readonly nowMs: number;
}
/** On a primary handing over: HANDOVER went out to the target, which may stand from now on. */
export interface HandoverSentEvent {
  readonly type: 'handover.sent';
}
/**
 * On a primary handing over: the target acknowledged a frame sent after the
 * last HANDOVER, in this epoch, so it read HANDOVER and did not stand (TCP
 * keeps a stream in order, and a target that stands refuses this epoch's
 * frames from then on).
 */
export interface HandoverIgnoredEvent {
  readonly type: 'handover.ignored';
}
/** HANDOVER from the primary this node follows: it holds every record, so stand now (a forced election). */
export interface HandoverRequestEvent {
  readonly type: 'handover.request';
  readonly from: string;
  readonly epoch: Epoch;
  readonly nowMs: number;
  readonly jitter?: number;
}
/** A frame other than HEARTBEAT / VOTE_REQUEST / VOTE_REPLY carried a higher epoch. */
export interface HigherEpochSeenEvent {
  readonly type: 'epoch.higher';
  readonly epoch: Epoch;
  /** The node whose frame carried it. */
  readonly from: string;
  readonly jitter?: number;
}

/** Every event the promotion machine accepts. */
export type PromotionEvent =
  | PrimaryHeartbeatEvent
  | VoteRequestEvent
  | VoteReplyEvent
  | PreVoteRequestEvent
  | PreVoteReplyEvent
  | QuorumContactEvent
  | PromoteEvent
  | HandoverEvent
  | HandoverSentEvent
  | HandoverIgnoredEvent
  | HandoverRequestEvent
  | HigherEpochSeenEvent;

/** Why the machine passed through SteppingDown. */
export type StepDownReason = 'higherEpoch' | 'primaryElected' | 'splitBrain' | 'handoverTimedOut';

/** The machine's context. */
export interface PromotionContext {
  readonly nodeId: string;
  readonly clusterSize: number;
  readonly config: Readonly<PromotionConfig>;
  /** As configured; `primary` acts only when epoch and votedEpoch are 0 (a new cluster). */
  readonly initialRole: InitialRole;
  /** The current epoch (persisted by the shell on every change). */
  epoch: Epoch;
  /** The epoch of the last vote granted (to self or another); only grows. */
  votedEpoch: Epoch;
  /** The primary of `epoch` as this node knows it: the one heard (Following), itself (Primary), else null. */
  primaryId: string | null;
  /** Distinct voters of this node's current or last election, itself first. */
  votes: string[];
  /** The epoch of this node's current or last pre-vote round (not persisted, not claimed). */
  preVoteEpoch: Epoch;
  /** Distinct nodes that granted that pre-vote, itself first. */
  preVotes: string[];
  /** The jitter of the last event that carried one into Follower or Candidate, or a vote reply. */
  lastJitter: number;
  /** `nowMs` of the last accepted heartbeat, null before any. */
  lastHeardMs: number | null;
  /** `nowMs` of the last `quorum.contact` as primary, null before any. */
  lastQuorumMs: number | null;
  /** Where the last step-down came from and why; null before any. */
  steppedDown: { readonly from: 'Primary' | 'Candidate'; readonly reason: StepDownReason } | null;
  /** The current candidacy is a forced promotion's (cleared as a Follower or Primary). */
  forcing: boolean;
  /** On a primary handing over: the node it hands over to, else null. */
  handoverTo: string | null;
  /** How long the current handover may take before it ends (ms). */
  handoverTimeoutMs: number;
  /** A HANDOVER of the current handover went out and the target has not shown it ignored it: it may stand at any time. */
  handoverSent: boolean;
  /** On a candidate: the primary whose HANDOVER started this candidacy, else null (cleared as a Follower or Primary). */
  handoverFrom: string | null;
}

/** Why a vote is refused: checked in this order. */
export type VoteRefusal = 'staleEpoch' | 'primaryLive' | 'leading' | 'alreadyVoted' | 'logBehind';
/** Why a manual promotion is refused. */
export type PromotionRefusal = 'primaryLive' | 'electionRunning' | 'alreadyPrimary';
/** Why a handover is refused: not the primary, no lease, one already running, or to itself. */
export type HandoverRefusal = 'notPrimary' | 'leaseLost' | 'handoverRunning' | 'self';

/** Params of `adoptEpoch`: persist the higher epoch (the vote is unchanged). */
export interface AdoptEpoch { readonly epoch: Epoch }
/** Params of `rejectStale`: answer ERROR StaleEpoch (with `currentEpoch`) to `from`. */
export interface RejectStale { readonly from: string; readonly epoch: Epoch; readonly currentEpoch: Epoch }
/** Params of `startElection`: persist epoch and the vote for self, then send VOTE_REQUEST (with `force` when forced) to every peer. */
export interface StartElection { readonly epoch: Epoch; readonly force: boolean }
/** Params of `grantVote`: persist `votedEpoch = epoch` (and the candidate) BEFORE replying granted. */
export interface GrantVote { readonly candidateId: string; readonly epoch: Epoch }
/** Params of `refuseVote`: reply not granted, with `currentEpoch`. */
export interface RefuseVote { readonly candidateId: string; readonly epoch: Epoch; readonly reason: VoteRefusal; readonly currentEpoch: Epoch }
/** Params of `requestPreVotes`: send VOTE_REQUEST with preVote to every peer (nothing to persist). */
export interface RequestPreVotes { readonly epoch: Epoch }
/** Params of `answerPreVote`: reply to a pre-vote request; nothing to persist. */
export interface AnswerPreVote { readonly candidateId: string; readonly epoch: Epoch; readonly granted: boolean; readonly currentEpoch: Epoch }
/** Params of `becomePrimary`: persist the epoch, write its EpochStart record, start shipping and accept writes. */
export interface BecomePrimary { readonly epoch: Epoch; readonly forced: boolean; readonly via: 'election' | 'force' | 'handover' | 'bootstrap' }
/** Params of `leaseLost`: refuse writes with NotPrimary from now on. */
export interface LeaseLost { readonly epoch: Epoch; readonly lastContactMs: number | null }
/** Params of `leaseRegained`: accept writes again. */
export interface LeaseRegained { readonly epoch: Epoch; readonly nowMs: number }
/** Params of `stepDown`: stop being primary or candidate (stop shipping, refuse writes), then follow. */
export interface StepDown { readonly epoch: Epoch; readonly from: 'Primary' | 'Candidate'; readonly reason: StepDownReason; readonly primaryId: string | null }
/** Params of `refusePromotion`: the manual promotion fails with PromotionRefused. */
export interface RefusePromotion { readonly primaryId: string | null; readonly reason: PromotionRefusal }
/** Params of `reportSplitBrain`: another node claims this node's epoch as primary (alert, metric). */
export interface ReportSplitBrain { readonly from: string; readonly epoch: Epoch }
/** Params of `beginHandover`: refuse writes, catch `to` up to this node's last record, then send it HANDOVER. */
export interface BeginHandover { readonly epoch: Epoch; readonly to: string; readonly timeoutMs: number }
/**
 * Params of `endHandover`: the handover to `to` did not complete within its
 * time. Not `sent`: writes stay refused until quorum.contact (LeaseLost).
 * `sent`: the target may still stand, so this node steps down instead.
 */
export interface EndHandover { readonly epoch: Epoch; readonly to: string; readonly sent: boolean }
/** Params of `refuseHandover`: `node.handover()` fails with HandoverFailed. */
export interface RefuseHandover { readonly reason: HandoverRefusal; readonly primaryId: string | null }

/** A named effect the machine asks for: the action's type and its resolved params. */
export type PromotionEffect =
  | { readonly type: 'adoptEpoch'; readonly params: AdoptEpoch }
  | { readonly type: 'rejectStale'; readonly params: RejectStale }
  | { readonly type: 'startElection'; readonly params: StartElection }
  | { readonly type: 'requestPreVotes'; readonly params: RequestPreVotes }
  | { readonly type: 'answerPreVote'; readonly params: AnswerPreVote }
  | { readonly type: 'grantVote'; readonly params: GrantVote }
  | { readonly type: 'refuseVote'; readonly params: RefuseVote }
  | { readonly type: 'becomePrimary'; readonly params: BecomePrimary }
  | { readonly type: 'leaseLost'; readonly params: LeaseLost }
  | { readonly type: 'leaseRegained'; readonly params: LeaseRegained }
  | { readonly type: 'stepDown'; readonly params: StepDown }
  | { readonly type: 'refusePromotion'; readonly params: RefusePromotion }
  | { readonly type: 'reportSplitBrain'; readonly params: ReportSplitBrain }
  | { readonly type: 'beginHandover'; readonly params: BeginHandover }
  | { readonly type: 'endHandover'; readonly params: EndHandover }
  | { readonly type: 'refuseHandover'; readonly params: RefuseHandover };

/** The names of every {@link PromotionEffect}. */
export const PROMOTION_EFFECTS: ReadonlySet<PromotionEffect['type']> = new Set([
  'adoptEpoch', 'rejectStale', 'startElection', 'requestPreVotes', 'answerPreVote', 'grantVote', 'refuseVote', 'becomePrimary',
  'leaseLost', 'leaseRegained', 'stepDown', 'refusePromotion', 'reportSplitBrain', 'beginHandover', 'endHandover', 'refuseHandover',
]);

/**
 * Votes needed to win an election, and acknowledgements for a quorum: a
 * majority of the configured cluster, this node included.
 *
 * @example
 * majorityOf(3) // 2; majorityOf(4) // 3
 */
export function majorityOf(clusterSize: number): number {
  return Math.floor(clusterSize / 2) + 1;
}

/**
 * A randomised election delay: `baseMs * (1 + ratio * jitter)`, rounded; a
 * jitter outside [0, 1) is clamped, NaN counts as 0.5.
 *
 * @example
 * electionDelayMs(1500, 0.5, 0) // 1500; electionDelayMs(1500, 0.5, 0.5) // 1875
 */
export function electionDelayMs(baseMs: number, ratio: number, jitter: number): number {
  const j = Number.isNaN(jitter) ? 0.5 : Math.min(Math.max(jitter, 0), 1);
  return Math.round(baseMs * (1 + ratio * j));
}

const isEpoch = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;
const isMs = (n: number): boolean => Number.isFinite(n) && n > 0;

/**
 * The timings an input gives, defaults filled in, the whole input checked;
 * the actor calls it up front to refuse a bad configuration before starting.
 *
 * @example
 * resolvePromotionConfig({ nodeId: 'n1', clusterSize: 3, epoch: 0, votedEpoch: 0 }).leaseMs // 1000
 * @throws ReplicationError `InvalidConfig` when a value is out of range or leaseMs >= failoverTimeoutMs.
 */
export function resolvePromotionConfig(input: PromotionInput): PromotionConfig {
  const c: PromotionConfig = {
    failoverTimeoutMs: input.failoverTimeoutMs ?? D.failoverTimeoutMs,
    electionJitterRatio: input.electionJitterRatio ?? D.electionJitterRatio,
    electionRoundMs: input.electionRoundMs ?? D.electionRoundMs,
    leaseMs: input.leaseMs ?? D.leaseMs,
  };
  const jitter = input.jitter ?? 0.5;
  const ok =
    typeof input.nodeId === 'string' &&
    input.nodeId.length > 0 &&
    Number.isInteger(input.clusterSize) &&
    input.clusterSize >= 1 &&
    (input.initialRole === undefined || input.initialRole === 'primary' || input.initialRole === 'follower') &&
    isEpoch(input.epoch) &&
    isEpoch(input.votedEpoch) &&
    input.votedEpoch <= input.epoch &&
    jitter >= 0 &&
    jitter < 1 &&
    isMs(c.failoverTimeoutMs) &&
    isMs(c.electionRoundMs) &&
    isMs(c.leaseMs) &&
    c.leaseMs < c.failoverTimeoutMs &&
    Number.isFinite(c.electionJitterRatio) &&
    c.electionJitterRatio >= 0;
  if (!ok) {
    const { nodeId, clusterSize, initialRole, epoch, votedEpoch } = input;
    throw new ReplicationError('InvalidConfig', `promotion config is invalid: ${JSON.stringify({ nodeId, clusterSize, initialRole, epoch, votedEpoch, jitter, ...c })}`, {
      suggestion: 'need a nodeId, an integer clusterSize >= 1, integer epochs >= 0 with votedEpoch <= epoch, 0 <= jitter < 1, timings > 0, electionJitterRatio >= 0 and leaseMs < failoverTimeoutMs (the lease must run out before any follower can take over)',
    });
  }
  return Object.freeze(c);
}

/** The next epoch this node may claim (a candidacy): above any seen or voted, never the bootstrap epoch. */
export function nextEpoch(context: Pick<PromotionContext, 'epoch' | 'votedEpoch'>): Epoch {
  return Math.max(context.epoch, context.votedEpoch, BOOTSTRAP_EPOCH) + 1;
}

interface Args {
  readonly context: PromotionContext;
  readonly event: PromotionEvent;
}

const epochOf = ({ event }: Args): Epoch => ('epoch' in event ? event.epoch : 0);
const nowOf = ({ event }: Args): number | null => ('nowMs' in event ? event.nowMs : null);
const fromOf = ({ event }: Args): string => ('candidateId' in event ? event.candidateId : 'from' in event ? event.from : '');

/** The candidate's log, (last epoch, last LSN) compared lexicographically, is at least as complete as this node's. */
function candidateLogComplete(event: VoteRequestEvent | PreVoteRequestEvent): boolean {
  return event.lastEpoch > event.ownLastEpoch || (event.lastEpoch === event.ownLastEpoch && event.lastLsn >= event.ownLastLsn);
}

/** The refusal every state shares (epoch, vote already cast, log), or null when the vote may be granted. */
function voteRefusal({ context, event }: Args): VoteRefusal | null {
  if (event.type !== 'vote.request') return 'staleEpoch';
  if (event.epoch < context.epoch) return 'staleEpoch';
  if (event.epoch <= context.votedEpoch) return 'alreadyVoted';
  return candidateLogComplete(event) ? null : 'logBehind';
}

/**
 * `answerPreVote`: granted when a real vote in the asked epoch could be: the
 * epoch is above this node's, the candidate's log is at least as complete, and
 * the state does not block it (`primaryLive`: a Follower that heard its
 * primary within failoverTimeoutMs; `leading`: a primary holding its lease).
 */
function answerPreVote(blocked?: 'primaryLive' | 'leading') {
  return {
    type: 'answerPreVote',
    params: (args: Args): AnswerPreVote => {
      const { context, event } = args;
      let granted = false;
      if (event.type === 'prevote.request' && event.epoch > context.epoch && blocked !== 'leading' && !(blocked === 'primaryLive' && isPrimaryLive(args))) {
        granted = candidateLogComplete(event);
      }
      return { candidateId: fromOf(args), epoch: epochOf(args), granted, currentEpoch: context.epoch };
    },
  } as const;
}

/** The event is a forced promotion's vote request. */
function isForcedRequest({ event }: Args): boolean {
  return event.type === 'vote.request' && event.force === true;
}

/** A primary was heard less than failoverTimeoutMs ago (only a Follower in Following has one). */
function isPrimaryLive({ context, event }: Args): boolean {
  const now = nowOf({ context, event });
  return context.primaryId !== null && context.lastHeardMs !== null && now !== null && now - context.lastHeardMs < context.config.failoverTimeoutMs;
}

/** `refuseVote`, with `blocked` (the state's own reason) unless the request's epoch is stale. */
function refuse(blocked?: 'primaryLive' | 'leading') {
  return {
    type: 'refuseVote',
    params: (args: Args): RefuseVote => {
      const shared = voteRefusal(args);
      // `shared` is null only where a grant was possible but the state blocks it.
      const reason = shared === 'staleEpoch' || blocked === undefined ? (shared ?? 'alreadyVoted') : blocked;
      return { candidateId: fromOf(args), epoch: epochOf(args), reason, currentEpoch: args.context.epoch };
    },
  } as const;
}

const adopt = { type: 'adoptEpoch', params: (args: Args): AdoptEpoch => ({ epoch: epochOf(args) }) } as const;
const grant = { type: 'grantVote', params: (args: Args): GrantVote => ({ candidateId: fromOf(args), epoch: epochOf(args) }) } as const;
const rejectStale = {
  type: 'rejectStale',
  params: (args: Args): RejectStale => ({ from: fromOf(args), epoch: epochOf(args), currentEpoch: args.context.epoch }),
} as const;
const noteStepDown = (from: 'Primary' | 'Candidate', reason: StepDownReason) => ({ type: 'noteStepDown', params: { from, reason } }) as const;
/** `becomePrimary` of the bootstrap primary, or of a candidate that won (`via: 'force'` when its candidacy was forced). */
const becomePrimary = (how: 'bootstrap' | 'won') =>
  ({
    type: 'becomePrimary',
    params: ({ context }: Args): BecomePrimary => {
      const via = how === 'bootstrap' ? 'bootstrap' : context.handoverFrom !== null ? 'handover' : context.forcing ? 'force' : 'election';
      return { epoch: context.epoch, forced: via === 'force' || via === 'handover', via };
    },
  }) as const;
const endHandover = {
  type: 'endHandover',
  params: ({ context }: Args): EndHandover => ({ epoch: context.epoch, to: context.handoverTo ?? '', sent: context.handoverSent }),
} as const;
const refuseHandover = (reason: HandoverRefusal) =>
  ({ type: 'refuseHandover', params: ({ context }: Args): RefuseHandover => ({ reason, primaryId: context.primaryId }) }) as const;
const refusePromotion = (reason: PromotionRefusal) =>
  ({ type: 'refusePromotion', params: ({ context }: Args): RefusePromotion => ({ primaryId: context.primaryId, reason }) }) as const;

/** A higher epoch seen by a Candidate or a Primary (epoch.higher, or a vote reply): adopt it and step down. */
const stepDownOnHigher = (from: 'Primary' | 'Candidate') =>
  ({ guard: 'higherEpoch', target: '#promotion.SteppingDown', actions: [adopt, 'adoptEpochContext', 'forgetPrimary', noteStepDown(from, 'higherEpoch')] }) as const;

/** A higher epoch seen by a Follower: adopt it; whoever it followed is stale (the failover timer keeps running). */
const followerOnHigher = { guard: 'higherEpoch', target: '.Suspecting', actions: [adopt, 'adoptEpochContext', 'forgetPrimary'] } as const;

/** Heartbeats in a Candidate or a Primary: stale ones are rejected; a higher epoch steps down and follows. */
const heartbeatAbove = (from: 'Primary' | 'Candidate') => [
  { guard: 'staleEpoch', actions: rejectStale },
  { guard: 'higherEpoch', target: '#promotion.SteppingDown', actions: [adopt, 'adoptEpochContext', 'recordHeartbeat', noteStepDown(from, 'higherEpoch')] },
] as const;

/** The vote may be granted, and the request's epoch is higher than (or the same as) this node's. */
const grantable = (epoch: 'higher' | 'same') => ({ type: 'voteGrantable', params: { epoch } }) as const;

/**
 * Vote requests in a Candidate or a LeaseLost primary (each already voted for
 * itself in its epoch): a higher epoch is adopted and steps down, granted when
 * the candidate's log is complete enough; anything else is refused.
 */
const voteAsSelfVoter = (from: 'Primary' | 'Candidate') => [
  { guard: grantable('higher'), target: '#promotion.SteppingDown', actions: [adopt, 'recordVote', grant, 'forgetPrimary', noteStepDown(from, 'higherEpoch')] },
  { guard: 'higherEpoch', target: '#promotion.SteppingDown', actions: [adopt, 'adoptEpochContext', refuse(), 'forgetPrimary', noteStepDown(from, 'higherEpoch')] },
  { actions: refuse() },
] as const;

/**
 * Vote requests in a Follower (or a PreCandidate, which is one that is asking
 * around): `target` is its Suspecting state. A forced request is not refused
 * for a live primary.
 */
const voteRequestAsFollower = (target: '.Suspecting' | 'Follower.Suspecting') => [
  { guard: 'primaryLiveUnforced', actions: refuse('primaryLive') },
  { guard: grantable('higher'), target, reenter: true, actions: [adopt, 'recordVote', grant, 'forgetPrimary'] },
  { guard: grantable('same'), target, reenter: true, actions: ['recordVote', grant, 'forgetPrimary'] },
  { guard: 'higherEpoch', target, actions: [adopt, 'adoptEpochContext', 'forgetPrimary', refuse()] },
  { actions: refuse() },
] as const;

/** Forced promotion: a forced election at a new epoch (from a Candidate, a new round). */
const forced = { guard: 'forced', target: '#promotion.Candidate', reenter: true, actions: 'markForcing' } as const;

/**
 * Vote requests in a Leading or HandingOver primary: refused, but a forced
 * promotion's (a handover's target stands with a forced election) is granted
 * when the vote and log checks pass, and the primary steps down.
 */
const voteRequestAsLeader = [
  { guard: 'forcedGrantable', target: '#promotion.SteppingDown', actions: [adopt, 'recordVote', grant, 'forgetPrimary', noteStepDown('Primary', 'higherEpoch')] },
  { guard: 'forcedRequest', actions: refuse() },
  { actions: refuse('leading') },
] as const;

/**
 * The promotion machine. Provide the effects with
 * `promotionMachine.provide({ actions })` and create the actor with the
 * node's clock so the failover, election-round and lease timers follow it.
 *
 * @example
 * createActor(promotionMachine.provide({ actions }), { input: { nodeId: 'n1', clusterSize: 3, epoch: 0, votedEpoch: 0 }, clock }).start()
 */
export const promotionMachine = setup({
  types: {
    context: {} as PromotionContext,
    events: {} as PromotionEvent,
    input: {} as PromotionInput,
  },
  actions: {
    /** Effect: persist a higher epoch. */
    adoptEpoch: (_: unknown, _p: AdoptEpoch) => {},
    /** Effect: answer ERROR StaleEpoch to a frame from an older epoch. */
    rejectStale: (_: unknown, _p: RejectStale) => {},
    /** Effect: persist epoch + vote for self, then send VOTE_REQUEST (forced or not) to every peer. */
    startElection: (_: unknown, _p: StartElection) => {},
    /** Effect: send VOTE_REQUEST with preVote to every peer (nothing persisted). */
    requestPreVotes: (_: unknown, _p: RequestPreVotes) => {},
    /** Effect: reply to a pre-vote request (nothing persisted). */
    answerPreVote: (_: unknown, _p: AnswerPreVote) => {},
    /** Effect: persist the vote, then reply granted. */
    grantVote: (_: unknown, _p: GrantVote) => {},
    /** Effect: reply not granted. */
    refuseVote: (_: unknown, _p: RefuseVote) => {},
    /** Effect: persist the epoch, write its EpochStart record, start shipping, accept writes. */
    becomePrimary: (_: unknown, _p: BecomePrimary) => {},
    /** Effect: refuse writes (NotPrimary) until leaseRegained. */
    leaseLost: (_: unknown, _p: LeaseLost) => {},
    /** Effect: accept writes again. */
    leaseRegained: (_: unknown, _p: LeaseRegained) => {},
    /** Effect: stop being primary or candidate (stop shippers, refuse writes), then follow. */
    stepDown: (_: unknown, _p: StepDown) => {},
    /** Effect: fail the manual promotion with PromotionRefused. */
    refusePromotion: (_: unknown, _p: RefusePromotion) => {},
    /** Effect: another node claims this node's epoch as primary (alert, metric). */
    reportSplitBrain: (_: unknown, _p: ReportSplitBrain) => {},
    /** Effect: refuse writes, catch the target up, then send it HANDOVER. */
    beginHandover: (_: unknown, _p: BeginHandover) => {},
    /** Effect: the handover timed out; writes stay refused until quorum.contact, or this node steps down (`sent`). */
    endHandover: (_: unknown, _p: EndHandover) => {},
    /** Effect: fail `node.handover()` with HandoverFailed. */
    refuseHandover: (_: unknown, _p: RefuseHandover) => {},
    adoptEpochContext: assign(({ context, event }) => ({ epoch: Math.max(context.epoch, epochOf({ context, event })) })),
    recordHeartbeat: assign(({ event }) => (event.type === 'heartbeat' ? { primaryId: event.from, lastHeardMs: event.nowMs, lastJitter: event.jitter } : {})),
    recordVote: assign(({ context, event }) => (event.type === 'vote.request' ? { epoch: Math.max(context.epoch, event.epoch), votedEpoch: event.epoch } : {})),
    forgetPrimary: assign({ primaryId: null }),
    noteJitter: assign(({ event }) => ('jitter' in event && typeof event.jitter === 'number' ? { lastJitter: event.jitter } : {})),
    countVote: assign(({ context, event }) =>
      event.type === 'vote.reply' && !context.votes.includes(event.from) ? { votes: [...context.votes, event.from] } : {},
    ),
    startPreVote: assign(({ context }) => ({ preVoteEpoch: nextEpoch(context), preVotes: [context.nodeId], primaryId: null })),
    countPreVote: assign(({ context, event }) =>
      event.type === 'prevote.reply' && !context.preVotes.includes(event.from) ? { preVotes: [...context.preVotes, event.from] } : {},
    ),
    startCandidacy: assign(({ context }) => {
      const epoch = nextEpoch(context);
      return { epoch, votedEpoch: epoch, votes: [context.nodeId], primaryId: null };
    }),
    claimBootstrapEpoch: assign(({ context }) => ({ epoch: BOOTSTRAP_EPOCH, votedEpoch: BOOTSTRAP_EPOCH, votes: [context.nodeId] })),
    markForcing: assign({ forcing: true }),
    clearForcing: assign({ forcing: false, handoverFrom: null, handoverTo: null }),
    clearHandover: assign({ handoverTo: null }),
    markHandoverFrom: assign(({ event }) => (event.type === 'handover.request' ? { forcing: true, handoverFrom: event.from } : {})),
    startHandover: assign(({ event }) => (event.type === 'handover' ? { handoverTo: event.to, handoverTimeoutMs: event.timeoutMs, handoverSent: false } : {})),
    noteHandoverSent: assign({ handoverSent: true }),
    noteHandoverIgnored: assign({ handoverSent: false }),
    claimPrimary: assign(({ context }) => ({ primaryId: context.nodeId })),
    recordQuorum: assign(({ event }) => (event.type === 'quorum.contact' ? { lastQuorumMs: event.nowMs } : {})),
    noteStepDown: assign((_, params: { from: 'Primary' | 'Candidate'; reason: StepDownReason }) => ({ steppedDown: params })),
  },
  guards: {
    /** Only for a new cluster: configured primary, nothing persisted yet. */
    bootstrapPrimary: ({ context }) => context.epoch === 0 && context.votedEpoch === 0 && context.initialRole === 'primary',
    staleEpoch: (args) => epochOf(args) < args.context.epoch,
    higherEpoch: (args) => epochOf(args) > args.context.epoch,
    sameEpoch: (args) => epochOf(args) === args.context.epoch,
    /** A primary was heard less than failoverTimeoutMs ago (only a Follower in Following has one). */
    primaryLive: (args) => isPrimaryLive(args),
    /** A primary is live and the vote request is not a forced promotion's. */
    primaryLiveUnforced: (args) => isPrimaryLive(args) && !isForcedRequest(args),
    /** A forced promotion's vote request that may be granted at an epoch above this node's. */
    forcedGrantable: (args) => isForcedRequest(args) && voteRefusal(args) === null && epochOf(args) > args.context.epoch,
    /** A forced promotion's vote request. */
    forcedRequest: (args) => isForcedRequest(args),
    /** The vote may be granted (epoch, vote, log) and the request's epoch is higher than / the same as this node's. */
    voteGrantable: (args, params: { epoch: 'higher' | 'same' }) =>
      voteRefusal(args) === null && (params.epoch === 'higher' ? epochOf(args) > args.context.epoch : epochOf(args) === args.context.epoch),
    /** A granted vote for this node's current election from a voter not counted yet. */
    newVote: ({ context, event }) => event.type === 'vote.reply' && event.granted && event.epoch === context.epoch && !context.votes.includes(event.from),
    /** A pre-vote refusal from a voter at a higher epoch than this node's. */
    refusedFromHigherEpoch: ({ context, event }) => event.type === 'prevote.reply' && !event.granted && event.epoch > context.epoch,
    hasMajority: ({ context }) => context.votes.length >= majorityOf(context.clusterSize),
    /** A granted pre-vote for this node's current round from a node not counted yet. */
    newPreVote: ({ context, event }) => event.type === 'prevote.reply' && event.granted && event.epoch === context.preVoteEpoch && !context.preVotes.includes(event.from),
    hasPreVoteMajority: ({ context }) => context.preVotes.length >= majorityOf(context.clusterSize),
    forced: ({ event }) => event.type === 'promote' && event.force,
    /** A HANDOVER of the current handover went out, and the target may still stand on it. */
    handoverWasSent: ({ context }) => context.handoverSent,
    /** A handover to another node. */
    handoverToOther: ({ context, event }) => event.type === 'handover' && event.to !== context.nodeId,
    /** HANDOVER from the primary this node follows, in its epoch. */
    handoverFromPrimary: ({ context, event }) => event.type === 'handover.request' && event.epoch === context.epoch && event.from === context.primaryId,
    primaryKnown: ({ context }) => context.primaryId !== null,
  },
  delays: {
    failoverTimeout: ({ context }) => electionDelayMs(context.config.failoverTimeoutMs, context.config.electionJitterRatio, context.lastJitter),
    electionRound: ({ context }) => electionDelayMs(context.config.electionRoundMs, context.config.electionJitterRatio, context.lastJitter),
    lease: ({ context }) => context.config.leaseMs,
    handover: ({ context }) => context.handoverTimeoutMs,
  },
}).createMachine({
  id: 'promotion',
  description: [
    "One node's view of who is primary, elections and fencing (Raft-like, one replication group). The shell does all I/O and persistence and sends one event per heartbeat, vote request, vote reply or quorum report;",
    'time arrives as nowMs and randomness as jitter in events; the failover, election-round, lease and handover timers are after-transitions with named delays (failoverTimeout, electionRound, lease, handover) on the actor clock.',
    'Effects are named actions filled in with machine.provide(): adoptEpoch, rejectStale, requestPreVotes, answerPreVote, startElection, grantVote, refuseVote, becomePrimary, leaseLost, leaseRegained, stepDown, refusePromotion, reportSplitBrain, beginHandover, endHandover, refuseHandover.',
    `Defaults: failoverTimeoutMs ${D.failoverTimeoutMs}, electionJitterRatio ${D.electionJitterRatio}, electionRoundMs ${D.electionRoundMs}, leaseMs ${D.leaseMs} (must be < failoverTimeoutMs); timeouts are base * (1 + electionJitterRatio * jitter).`,
    'One vote per epoch (votedEpoch only grows), granted only to a log at least as complete ((lastEpoch, lastLsn) lexicographic) and never while following a live primary or leading, unless the request is a forced promotion\'s;',
    'a follower whose failover timer fires first asks for pre-votes (PreCandidate) and stands only when a majority would vote for it;',
    'a candidate wins with a majority of the configured cluster, itself included. Epoch 1 belongs to the bootstrap primary of a new cluster; elections start at 2.',
    'A primary without quorum.contact for leaseMs is LeaseLost (writes refused) but stays the epoch\'s primary until it sees a higher epoch.',
    'A planned handover (HandingOver) refuses writes until the target, holding every record, wins a forced election that this primary grants; handover.request from the followed primary starts that candidacy.',
  ].join(' '),
  context: ({ input }) => ({
    nodeId: input.nodeId,
    clusterSize: input.clusterSize,
    config: resolvePromotionConfig(input),
    initialRole: input.initialRole ?? 'follower',
    epoch: input.epoch,
    votedEpoch: input.votedEpoch,
    primaryId: null,
    votes: [],
    preVoteEpoch: 0,
    preVotes: [],
    lastJitter: input.jitter ?? 0.5,
    lastHeardMs: null,
    lastQuorumMs: null,
    steppedDown: null,
    forcing: false,
    handoverTo: null,
    handoverTimeoutMs: 0,
    handoverSent: false,
    handoverFrom: null,
  }),
  initial: 'Starting',
  on: {
    handover: { actions: refuseHandover('notPrimary') },
  },
  states: {
    Starting: {
      description: 'Transient: the bootstrap primary of a new cluster (initialRole primary, epoch and votedEpoch 0) starts as primary of epoch 1; every other node, and every restart, as a follower.',
      always: [
        { guard: 'bootstrapPrimary', target: 'Primary.Leading', actions: ['claimBootstrapEpoch', becomePrimary('bootstrap')] },
        { target: 'Follower' },
      ],
    },
    Follower: {
      description: 'Not primary: follows the primary it hears. Without a heartbeat for failoverTimeoutMs * (1 + electionJitterRatio * jitter) it asks for pre-votes (PreCandidate); an accepted heartbeat or a granted vote re-arms that timer. promote starts an election, refused while the primary is live; promote with force starts a forced election (Candidate), never refused.',
      initial: 'Suspecting',
      entry: ['noteJitter', 'clearForcing'],
      after: { failoverTimeout: { target: 'PreCandidate' } },
      on: {
        heartbeat: [
          { guard: 'staleEpoch', actions: rejectStale },
          { guard: 'higherEpoch', target: '.Following', reenter: true, actions: [adopt, 'adoptEpochContext', 'recordHeartbeat'] },
          { target: '.Following', reenter: true, actions: 'recordHeartbeat' },
        ],
        'vote.request': voteRequestAsFollower('.Suspecting'),
        'prevote.request': { actions: answerPreVote('primaryLive') },
        'vote.reply': followerOnHigher,
        'epoch.higher': followerOnHigher,
        promote: [forced, { guard: 'primaryLive', actions: refusePromotion('primaryLive') }, { target: 'Candidate' }],
        'handover.request': { guard: 'handoverFromPrimary', target: 'Candidate', actions: ['noteJitter', 'markHandoverFrom'] },
      },
      states: {
        Following: { description: 'A primary of the current epoch is heard (primaryId, lastHeardMs); vote requests are refused while it was heard within failoverTimeoutMs.' },
        Suspecting: { description: 'No primary known: just started, stepped down, voted, or saw a higher epoch; the failover timer runs.' },
      },
    },
    PreCandidate: {
      description: 'Pre-vote: entered when the failover timer fires. Asks every peer whether it would vote for this node in the next epoch (requestPreVotes), claiming and persisting nothing, so a node that was paused or cut off cannot depose a primary that a majority still hears. A majority of granted pre-votes, itself included, starts the real election (Candidate); a heartbeat of its epoch or above ends it (Follower); a refusal carrying a higher epoch is adopted (Follower); after electionRoundMs * (1 + electionJitterRatio * jitter) a new round starts.',
      entry: ['noteJitter', 'startPreVote', { type: 'requestPreVotes', params: ({ context }) => ({ epoch: context.preVoteEpoch }) }],
      always: { guard: 'hasPreVoteMajority', target: 'Candidate' },
      after: { electionRound: { target: 'PreCandidate', reenter: true } },
      on: {
        heartbeat: [
          { guard: 'staleEpoch', actions: rejectStale },
          { guard: 'higherEpoch', target: 'Follower.Following', actions: [adopt, 'adoptEpochContext', 'recordHeartbeat'] },
          { target: 'Follower.Following', actions: 'recordHeartbeat' },
        ],
        'vote.request': voteRequestAsFollower('Follower.Suspecting'),
        'prevote.request': { actions: answerPreVote() },
        'prevote.reply': [
          { guard: 'newPreVote', actions: ['countPreVote', 'noteJitter'] },
          { guard: 'refusedFromHigherEpoch', target: 'Follower.Suspecting', actions: [adopt, 'adoptEpochContext', 'forgetPrimary'] },
        ],
        'vote.reply': { guard: 'higherEpoch', target: 'Follower.Suspecting', actions: [adopt, 'adoptEpochContext', 'forgetPrimary'] },
        'epoch.higher': { guard: 'higherEpoch', target: 'Follower.Suspecting', actions: [adopt, 'adoptEpochContext', 'forgetPrimary'] },
        promote: [forced, { target: 'Candidate' }],
      },
    },
    Candidate: {
      description: 'Electing itself: entry moves to a new epoch (above any seen or voted, at least 2), votes for itself and fires startElection. A majority of granted votes wins; after electionRoundMs * (1 + electionJitterRatio * jitter) a new round starts. A heartbeat of its epoch or above, or a higher epoch anywhere, ends the candidacy.',
      entry: ['noteJitter', 'startCandidacy', { type: 'startElection', params: ({ context }) => ({ epoch: context.epoch, force: context.forcing }) }],
      always: { guard: 'hasMajority', target: 'Primary.Leading', actions: becomePrimary('won') },
      after: { electionRound: { target: 'Candidate', reenter: true } },
      on: {
        heartbeat: [
          ...heartbeatAbove('Candidate'),
          { target: 'SteppingDown', actions: ['recordHeartbeat', noteStepDown('Candidate', 'primaryElected')] },
        ],
        'vote.request': voteAsSelfVoter('Candidate'),
        'prevote.request': { actions: answerPreVote() },
        'vote.reply': [stepDownOnHigher('Candidate'), { guard: 'newVote', actions: ['countVote', 'noteJitter'] }],
        'epoch.higher': stepDownOnHigher('Candidate'),
        promote: [forced, { actions: refusePromotion('electionRunning') }],
      },
    },
    Primary: {
      description: 'The primary of its epoch until it sees a higher one. A heartbeat from another primary of the same epoch must never happen: reportSplitBrain, and step down so an election at a higher epoch settles it. promote is refused, forced or not.',
      initial: 'Leading',
      entry: ['claimPrimary', 'clearForcing'],
      on: {
        heartbeat: [
          ...heartbeatAbove('Primary'),
          { guard: 'sameEpoch', target: 'SteppingDown', actions: [{ type: 'reportSplitBrain', params: (args: Args): ReportSplitBrain => ({ from: fromOf(args), epoch: epochOf(args) }) }, 'forgetPrimary', noteStepDown('Primary', 'splitBrain')] },
        ],
        'vote.reply': stepDownOnHigher('Primary'),
        'epoch.higher': stepDownOnHigher('Primary'),
        promote: { actions: refusePromotion('alreadyPrimary') },
      },
      states: {
        Leading: {
          description: 'Accepts writes: a majority acknowledged it within leaseMs (or just elected it). Every quorum.contact re-arms the lease; without one for leaseMs, LeaseLost. Refuses every vote request but a forced promotion\'s: a majority still hears it, so a candidate is at best in a minority, and stepping down would let one flaky node depose a healthy primary. A forced request it can grant (epoch above its own, log complete enough) it grants and steps down.',
          after: { lease: { target: 'LeaseLost', actions: { type: 'leaseLost', params: ({ context }) => ({ epoch: context.epoch, lastContactMs: context.lastQuorumMs }) } } },
          on: {
            'quorum.contact': { target: 'Leading', reenter: true, actions: 'recordQuorum' },
            'vote.request': voteRequestAsLeader,
            'prevote.request': { actions: answerPreVote('leading') },
            handover: [
              {
                guard: 'handoverToOther', target: 'HandingOver',
                actions: ['startHandover', { type: 'beginHandover', params: ({ context }) => ({ epoch: context.epoch, to: context.handoverTo ?? '', timeoutMs: context.handoverTimeoutMs }) }],
              },
              { actions: refuseHandover('self') },
            ],
          },
        },
        HandingOver: {
          description: 'A planned switchover (handover): writes are refused while the shell catches the target up to this node\'s last record and sends it HANDOVER (handover.sent); the target then stands with a forced election, which this node grants (stepping down, as Leading does). Without that within handoverTimeoutMs the handover ends (endHandover): before HANDOVER went out, in LeaseLost, so writes resume only once a majority is heard again; after it, the target may still stand, so this node steps down rather than write again in its epoch.',
          after: {
            handover: [
              { guard: 'handoverWasSent', target: '#promotion.SteppingDown', actions: [endHandover, 'forgetPrimary', noteStepDown('Primary', 'handoverTimedOut')] },
              { target: 'LeaseLost', actions: endHandover },
            ],
          },
          on: {
            'handover.sent': { actions: 'noteHandoverSent' },
            'handover.ignored': { actions: 'noteHandoverIgnored' },
            'quorum.contact': { actions: 'recordQuorum' },
            'vote.request': voteRequestAsLeader,
            'prevote.request': { actions: answerPreVote('leading') },
            handover: { actions: refuseHandover('handoverRunning') },
          },
        },
        LeaseLost: {
          description: 'No majority contact for leaseMs (or a handover that did not complete in time): writes are refused (NotPrimary), but it is still the epoch\'s primary. quorum.contact regains the lease; a vote request with a higher epoch steps it down (and is granted when the candidate\'s log is complete enough).',
          entry: 'clearHandover',
          on: {
            'quorum.contact': { target: 'Leading', actions: ['recordQuorum', { type: 'leaseRegained', params: ({ context }) => ({ epoch: context.epoch, nowMs: context.lastQuorumMs ?? 0 }) }] },
            'vote.request': voteAsSelfVoter('Primary'),
            'prevote.request': { actions: answerPreVote() },
            handover: { actions: refuseHandover('leaseLost') },
          },
        },
      },
    },
    SteppingDown: {
      description: 'Transient: stepDown (stop shipping, refuse writes, abandon the election), then Follower: Following when the new primary is known, else Suspecting.',
      entry: {
        type: 'stepDown',
        params: ({ context }) => ({
          epoch: context.epoch,
          from: context.steppedDown?.from ?? 'Primary',
          reason: context.steppedDown?.reason ?? 'higherEpoch',
          primaryId: context.primaryId,
        }),
      },
      always: [{ guard: 'primaryKnown', target: 'Follower.Following' }, { target: 'Follower.Suspecting' }],
    },
  },
});

/** A snapshot of {@link promotionMachine}. */
export type PromotionSnapshot = SnapshotFrom<typeof promotionMachine>;

/** The states a snapshot can be in (Starting and SteppingDown are transient, never seen in one). */
export type PromotionState = 'Follower.Following' | 'Follower.Suspecting' | 'PreCandidate' | 'Candidate' | 'Primary.Leading' | 'Primary.HandingOver' | 'Primary.LeaseLost';

/** The top-level role of a snapshot. */
export type PromotionRole = 'Follower' | 'PreCandidate' | 'Candidate' | 'Primary';

/**
 * The events of the timers, as an actor's clock delivers them;
 * {@link promotionTransition} accepts them to step a snapshot through a timeout.
 */
export const PROMOTION_TIMERS = Object.freeze({
  failoverTimeout: 'xstate.after.failoverTimeout.promotion.Follower',
  preVoteRound: 'xstate.after.electionRound.promotion.PreCandidate',
  electionRound: 'xstate.after.electionRound.promotion.Candidate',
  lease: 'xstate.after.lease.promotion.Primary.Leading',
  handover: 'xstate.after.handover.promotion.Primary.HandingOver',
} as const);

/** A fired timer of the promotion machine. */
export interface PromotionTimerEvent {
  readonly type: (typeof PROMOTION_TIMERS)[keyof typeof PROMOTION_TIMERS];
}

/** The state of a snapshot as a dotted name: `Follower.Following`, `Candidate`, `Primary.LeaseLost`. */
export function promotionState(snapshot: PromotionSnapshot): PromotionState {
  const value = snapshot.value as string | Record<string, string>;
  if (typeof value === 'string') return value as PromotionState;
  const [role, sub] = Object.entries(value)[0] ?? ['Follower', 'Suspecting'];
  return `${role}.${sub}` as PromotionState;
}

/** The top-level role of a snapshot. */
export function promotionRole(snapshot: PromotionSnapshot): PromotionRole {
  return promotionState(snapshot).split('.')[0] as PromotionRole;
}

/** True when this node may accept writes: the primary of its epoch, holding its lease. */
export function acceptsWrites(snapshot: PromotionSnapshot): boolean {
  return snapshot.matches({ Primary: 'Leading' });
}

/**
 * The first snapshot, computed without starting an actor. The bootstrap
 * primary's snapshot is already Primary.Leading (its `becomePrimary` effect is
 * returned by {@link initialPromotionStep}).
 *
 * @example
 * let promotion = initialPromotion({ nodeId: 'n1', clusterSize: 3, epoch: 0, votedEpoch: 0 })
 * @throws ReplicationError `InvalidConfig` when the input is invalid.
 */
export function initialPromotion(input: PromotionInput): PromotionSnapshot {
  return initialPromotionStep(input).snapshot;
}

/**
 * The first snapshot with the effects and timers of starting: `becomePrimary`
 * for a bootstrap primary, the first failover (or lease) timer.
 *
 * @example
 * initialPromotionStep({ nodeId: 'n1', clusterSize: 3, epoch: 0, votedEpoch: 0, initialRole: 'primary' }).effects[0].type // 'becomePrimary'
 * @throws ReplicationError `InvalidConfig` when the input is invalid.
 */
export function initialPromotionStep(input: PromotionInput): PromotionStep {
  const [snapshot, actions] = initialTransition(promotionMachine, input);
  // xstate turns an error thrown by the context factory into an error snapshot.
  if (snapshot.status === 'error') throw snapshot.error;
  return { snapshot, state: promotionState(snapshot), effects: effectsOf(actions), timers: scheduledTimers(actions) };
}

/** One pure step: the next snapshot, its state, the named effects in order and the timers started. */
export interface PromotionStep {
  readonly snapshot: PromotionSnapshot;
  readonly state: PromotionState;
  readonly effects: PromotionEffect[];
  readonly timers: ScheduledTimer[];
}

function effectsOf(actions: ReadonlyArray<{ type: string; params?: unknown }>): PromotionEffect[] {
  return actions
    .filter((a) => PROMOTION_EFFECTS.has(a.type as PromotionEffect['type']))
    .map((a) => ({ type: a.type, params: a.params }) as PromotionEffect);
}

/**
 * Pure step: the next snapshot, its state, the named effects to perform in
 * order and the timers started, without running anything (xstate's
 * `transition()`). An actor schedules the timers on its clock; here a timer
 * is stepped by passing its event ({@link PROMOTION_TIMERS}).
 *
 * @example
 * const step = promotionTransition(follower, { type: PROMOTION_TIMERS.failoverTimeout })
 * step.state // 'Candidate'; step.effects[0] // { type: 'startElection', params: { epoch: 2 } }
 */
export function promotionTransition(snapshot: PromotionSnapshot, event: PromotionEvent | PromotionTimerEvent): PromotionStep {
  const [next, actions] = transition(promotionMachine, snapshot, event as PromotionEvent);
  return { snapshot: next, state: promotionState(next), effects: effectsOf(actions), timers: scheduledTimers(actions) };
}
