/**
 * The network side of an election: a candidate asks every peer for its vote
 * over a short-lived connection (VOTE_REQUEST, one VOTE back, close). Replies
 * go to the promotion machine as `vote.reply` events; an unreachable peer is
 * simply a vote not received.
 *
 * @example
 * requestVotes({ transport, clock, peers, request, timeoutMs: 500, onReply: (from, epoch, granted) => ... })
 */
import type { Clock, Transport } from '../ports.js';
import { FrameReader } from '../wire/frameReader.js';
import { type VoteRequestMessage, decodeMessage, encodeMessage } from '../wire/messages.js';
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
