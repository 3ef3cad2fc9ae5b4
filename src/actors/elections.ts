/**
 * The network and disk side of elections. A candidate asks every peer for
 * its (pre-)vote over a short-lived connection (VOTE_REQUEST, one VOTE back,
 * close); an unreachable peer is simply a vote not received. A peer answers
 * through its promotion machine, which decides, and grants a real vote only
 * once it is persisted; a pre-vote is answered at once, it records nothing.
 *
 * @example
 * requestVotes({ transport, clock, peers, request, timeoutMs: 500, onReply: (from, epoch, granted) => ... })
 */
import type { Clock, Random, Transport } from '../ports.js';
import { FrameReader } from '../wire/frameReader.js';
import { type VoteMessage, type VoteRequestMessage, decodeMessage, encodeMessage } from '../wire/messages.js';
import type { ClusterNode } from './nodeOptions.js';

/** Options of {@link requestVotes}. */
export interface VoteRound {
  transport: Transport;
  clock: Clock;
  peers: readonly ClusterNode[];
  request: VoteRequestMessage;
  /** Per peer: connect + answer within this, or no vote. */
  timeoutMs: number;
  onReply(from: string, epoch: number, granted: boolean): void;
}

/** Sends the vote request to every peer in parallel. */
export function requestVotes(round: VoteRound): void {
  for (const peer of round.peers) void askPeer(round, peer);
}

async function askPeer(round: VoteRound, peer: ClusterNode): Promise<void> {
  const connection = await round.transport.connect(peer.replication, { timeoutMs: round.timeoutMs }).catch(() => undefined);
  if (connection === undefined) return;
  const timer = round.clock.setTimeout(() => connection.destroy(), round.timeoutMs);
  const reader = new FrameReader(64 * 1024);
  let answered = false;
  connection.onData((chunk) => {
    if (answered) return;
    reader.push(chunk);
    try {
      const frame = reader.next();
      if (frame === undefined) return;
      answered = true;
      const msg = decodeMessage(frame);
      if (msg.kind === 'vote') round.onReply(msg.voterId, msg.epoch, msg.granted);
    } catch {
      answered = true; // a malformed answer is no vote
    }
    round.clock.clearTimeout(timer);
    connection.end();
  });
  connection.onClose(() => round.clock.clearTimeout(timer));
  connection.write(encodeMessage(round.request));
}

/** What a {@link Ballot} needs from its node. */
export interface BallotHost {
  readonly nodeId: string;
  readonly clusterId: string;
  /** Every other node of the cluster. */
  readonly peers: readonly ClusterNode[];
  /** Per peer: connect + answer within this, or no vote. */
  readonly roundTimeoutMs: number;
  readonly transport: Transport;
  readonly clock: Clock;
  readonly random: Random;
  /** This node's last log record: its epoch and LSN. */
  logPosition(): { lastEpoch: number; lastLsn: number };
  /** The persisted epoch and vote (as of the last completed metadata write). */
  meta(): { epoch: number; votedEpoch: number; votedFor: string | null };
  /** Resolves once every metadata write issued so far has completed. */
  metaWritten(): Promise<void>;
  /** Hands a vote or pre-vote request to the promotion machine (started if need be); its effects call {@link Ballot.decide}. */
  consult(event: Record<string, unknown> & { type: 'vote.request' | 'prevote.request' }): void;
}

/** This node's side of votes: asking peers, and answering them through the promotion machine. */
export class Ballot {
  readonly #host: BallotHost;
  #decision: { granted: boolean; epoch: number } | undefined;

  constructor(host: BallotHost) {
    this.#host = host;
  }

  /** The promotion machine's answer to the request being decided (from its grant/refuse/answerPreVote effect). */
  decide(granted: boolean, epoch: number): void {
    this.#decision = { granted, epoch };
  }

  /**
   * Asks every peer for its vote (or, with `preVote`, whether it would vote)
   * in `epoch`, `force`d for a forced promotion; each answer goes to `onReply`.
   */
  ask(epoch: number, kind: 'preVote' | 'vote' | 'forcedVote', onReply: (from: string, epoch: number, granted: boolean) => void): void {
    const h = this.#host;
    const request: VoteRequestMessage = { kind: 'voteRequest', clusterId: h.clusterId, candidateId: h.nodeId, epoch, ...h.logPosition() };
    if (kind === 'preVote') request.preVote = true;
    if (kind === 'forcedVote') request.force = true;
    requestVotes({ transport: h.transport, clock: h.clock, request, peers: h.peers, timeoutMs: h.roundTimeoutMs, onReply });
  }

  /**
   * Answers a peer's VOTE_REQUEST. A real vote is granted only once it is
   * on disk: after a crash this node must not vote again in the epoch.
   */
  async answer(request: VoteRequestMessage): Promise<VoteMessage> {
    const h = this.#host;
    this.#decision = undefined;
    if (request.clusterId === h.clusterId) {
      // A node that never joined still votes (an empty log never outranks a
      // candidate's); only a node that has joined ever asks for votes, so a
      // cluster of never-joined nodes still never elects among itself.
      const own = h.logPosition();
      const asked = {
        candidateId: request.candidateId, epoch: request.epoch, lastEpoch: request.lastEpoch, lastLsn: request.lastLsn,
        ownLastEpoch: own.lastEpoch, ownLastLsn: own.lastLsn, nowMs: h.clock.now(),
      };
      h.consult(request.preVote === true ? { type: 'prevote.request', ...asked }
        : { type: 'vote.request', ...asked, force: request.force === true, jitter: h.random.next() });
    }
    const decision = this.#decision as { granted: boolean; epoch: number } | undefined;
    let granted = decision?.granted === true;
    if (request.preVote !== true) {
      await h.metaWritten();
      granted &&= this.persisted(decision!.epoch, request.candidateId);
    }
    return { kind: 'vote', voterId: h.nodeId, epoch: decision?.epoch ?? h.meta().epoch, granted };
  }

  /** The persisted metadata holds a vote for `candidateId` in `epoch` (its write succeeded). */
  persisted(epoch: number, candidateId: string): boolean {
    const meta = this.#host.meta();
    return meta.votedEpoch === epoch && meta.votedFor === candidateId;
  }
}
