/**
 * The node's machines, provided once per node with effects that dispatch to
 * the session objects: shipper and health actors find their session by
 * replica id, receiver actors by their own actor id. Every effect is
 * guarded: an exception becomes a node `error` event, never an xstate error.
 */
import type { AnyActorRef } from 'xstate';
import { type PromotionEffect, promotionMachine } from '../machines/promotion.js';
import { receiverMachine } from '../machines/receiver.js';
import { replicaHealthMachine } from '../machines/replicaHealth.js';
import { shipperMachine } from '../machines/shipper.js';
import type { NodeLogics } from './nodeSystem.js';
import type { ReceiverSession } from './receiverSession.js';
import type { ShipperSession } from './shipperSession.js';

/** Where provided effects find their session, and where failures go. */
export interface SessionDirectory {
  shipper(replicaId: string): ShipperSession | undefined;
  receiver(actorId: string): ReceiverSession | undefined;
  healthChanged(replicaId: string, change: { from: string; to: string; reason: string }): void;
  lagAlert(replicaId: string, alert: { level: 'degraded' | 'severe'; lagMs: number; lagEntries: number }): void;
  effectFailed(where: string, err: unknown): void;
  /** Every effect of the node's promotion machine. */
  promotion(effect: PromotionEffect): void;
}

/** The three logics of a node, with effects bound to `directory`. */
export function nodeLogics(directory: SessionDirectory): NodeLogics {
  const onShipper = (where: string, id: string, fn: (s: ShipperSession) => void) => {
    try {
      const session = directory.shipper(id);
      if (session !== undefined) fn(session);
    } catch (err) {
      directory.effectFailed(where, err);
    }
  };
  const onReceiver = (where: string, self: AnyActorRef, fn: (s: ReceiverSession) => void) => {
    try {
      const session = directory.receiver(self.id);
      if (session !== undefined) fn(session);
    } catch (err) {
      directory.effectFailed(where, err);
    }
  };
  const shipper = shipperMachine.provide({
    actions: {
      openConnection: (_, p) => onShipper('openConnection', p.replicaId, (s) => s.openConnection()),
      sendHello: (_, p) => onShipper('sendHello', p.replicaId, (s) => s.sendHello()),
      startStreaming: (_, p) => onShipper('startStreaming', p.replicaId, (s) => s.startStreaming(p.fromLsn, p.mode)),
      changeStreamMode: (_, p) => onShipper('changeStreamMode', p.replicaId, (s) => s.changeStreamMode(p.mode)),
      sendSnapshot: (_, p) => onShipper('sendSnapshot', p.replicaId, (s) => s.sendSnapshot()),
      closeConnection: (_, p) => onShipper('closeConnection', p.replicaId, (s) => s.closeConnection()),
      stepDown: (_, p) => onShipper('stepDown', p.replicaId, (s) => s.stepDown(p.code, p.message)),
      reportFailure: (_, p) => onShipper('reportFailure', p.replicaId, (s) => s.reportFailure(p.reason, p.message, p.nowMs)),
      reportConnected: (_, p) => onShipper('reportConnected', p.replicaId, (s) => s.reportConnected(p.nowMs)),
      reportProtocolError: (_, p) => onShipper('reportProtocolError', p.replicaId, (s) => s.reportProtocolError(p.code, p.message)),
    },
  });
  const health = replicaHealthMachine.provide({
    actions: {
      notifyStatusChange: ({ self }, p) => directory.healthChanged(replicaOf(self), p),
      raiseLagAlert: ({ self }, p) => directory.lagAlert(replicaOf(self), p),
    },
  });
  const receiver = receiverMachine.provide({
    actions: {
      acceptHello: ({ self }) => onReceiver('acceptHello', self, (s) => s.acceptHello()),
      appendBatch: ({ self }) => onReceiver('appendBatch', self, (s) => s.appendBatch()),
      beginSnapshot: () => undefined,
      storeSnapshotChunk: () => undefined,
      installSnapshot: ({ self }) => onReceiver('installSnapshot', self, (s) => s.installSnapshot()),
      answerHeartbeat: ({ self }) => onReceiver('answerHeartbeat', self, (s) => s.answerHeartbeat()),
      sendError: ({ self }, p) => onReceiver('sendError', self, (s) => s.sendError(p.code, p.message)),
      closeConnection: ({ self }) => onReceiver('closeConnection', self, (s) => s.close()),
      countProtocolError: ({ self }, p) => onReceiver('countProtocolError', self, (s) => s.countProtocolError(p.code)),
      adoptEpoch: ({ self }, p) => onReceiver('adoptEpoch', self, (s) => s.adoptEpoch(p.epoch)),
    },
  });
  const onPromotion = (effect: PromotionEffect) => {
    try {
      directory.promotion(effect);
    } catch (err) {
      directory.effectFailed(effect.type, err);
    }
  };
  // Every effect is listed (the `satisfies` fails the build when one is missing).
  const promotionActions = {
    adoptEpoch: (_, params) => onPromotion({ type: 'adoptEpoch', params }),
    rejectStale: (_, params) => onPromotion({ type: 'rejectStale', params }),
    requestPreVotes: (_, params) => onPromotion({ type: 'requestPreVotes', params }),
    answerPreVote: (_, params) => onPromotion({ type: 'answerPreVote', params }),
    startElection: (_, params) => onPromotion({ type: 'startElection', params }),
    grantVote: (_, params) => onPromotion({ type: 'grantVote', params }),
    refuseVote: (_, params) => onPromotion({ type: 'refuseVote', params }),
    becomePrimary: (_, params) => onPromotion({ type: 'becomePrimary', params }),
    leaseLost: (_, params) => onPromotion({ type: 'leaseLost', params }),
    leaseRegained: (_, params) => onPromotion({ type: 'leaseRegained', params }),
    stepDown: (_, params) => onPromotion({ type: 'stepDown', params }),
    refusePromotion: (_, params) => onPromotion({ type: 'refusePromotion', params }),
    reportSplitBrain: (_, params) => onPromotion({ type: 'reportSplitBrain', params }),
    beginHandover: (_, params) => onPromotion({ type: 'beginHandover', params }),
    endHandover: (_, params) => onPromotion({ type: 'endHandover', params }),
    refuseHandover: (_, params) => onPromotion({ type: 'refuseHandover', params }),
  } satisfies { [K in PromotionEffect['type']]: (args: unknown, params: Extract<PromotionEffect, { type: K }>['params']) => void };
  const promotion = promotionMachine.provide({ actions: promotionActions });
  return { shipper, health, receiver, promotion };
}

/** Health actors are spawned with id `health:<replicaId>`. */
function replicaOf(self: AnyActorRef): string {
  return self.id.slice('health:'.length);
}
