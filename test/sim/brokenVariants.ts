/**
 * Deliberately broken nodes for the checker tests, handed in through the
 * ports (a disk whose fsync does nothing) or `machine.provide()` on the
 * node's own logics (a vote guard that ignores log completeness, a primary
 * that never gives up its lease). The product has no switch for any of them.
 */
import type { AnyStateMachine } from 'xstate';
import type { NodeLogics } from '../../src/actors/nodeSystem.js';
import type { SimulationOptions } from '../../src/testing/index.js';

type VoteArgs = { context: { epoch: number; votedEpoch: number }; event: { type: string; epoch?: number } };

/** Grants any vote request of a new epoch, however far behind the candidate's log is. */
function voteIgnoringLog(logics: NodeLogics): NodeLogics {
  const promotion = (logics.promotion as AnyStateMachine).provide({
    guards: {
      voteGrantable: ({ context, event }: VoteArgs, params: { epoch: 'higher' | 'same' }) =>
        event.type === 'vote.request' && event.epoch !== undefined && event.epoch > context.votedEpoch &&
        (params.epoch === 'higher' ? event.epoch > context.epoch : event.epoch === context.epoch),
    } as never,
  });
  return { ...logics, promotion };
}

/** A primary that keeps accepting writes when its lease runs out. */
function leaseSkipped(logics: NodeLogics): NodeLogics {
  const promotion = (logics.promotion as AnyStateMachine).provide({ actions: { leaseLost: () => undefined } as never });
  return { ...logics, promotion };
}

/** Each broken variant as the options of a run. */
export const brokenVariants: Record<string, Omit<SimulationOptions, 'seed'>> = {
  'fsync that makes nothing durable': { fsyncIsNoop: true },
  'vote guard that ignores log completeness': { adaptLogics: voteIgnoringLog },
  'primary that skips its lease': { adaptLogics: leaseSkipped },
};
