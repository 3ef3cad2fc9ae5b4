// Seeds that found product bugs, kept as regression cases. Each failed
// before its fix with the checker named here.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runSimulation } from '../../src/testing/index.js';
import { brokenVariants } from './brokenVariants.js';

const fixed: { seed: number; forcedPromotions?: boolean; checker: string; bug: string }[] = [
  { seed: 2, forcedPromotions: true, checker: 'logPrefix', bug: 'a batch of the old epoch was appended after a newer primary\'s HELLO (epoch adopted only once meta.json was written), so an old-epoch record sat under the new epoch history and was never cut' },
  { seed: 352, checker: 'onePrimaryPerEpoch', bug: 'a vote whose metadata write failed was still used (candidate asked for votes, voter replied granted); after a restart the node voted again in the same epoch' },
  { seed: 2179, checker: 'logPrefix', bug: 'a node elected before it had received the records of an epoch named in its adopted history wrote a history out of order ((5, 57) then (6, 55)); followers refused its HELLO as malformed and fork points came out wrong. A new primary now leaves out epochs its log holds no record of' },
  { seed: 7624, checker: 'logPrefix', bug: 'the same out-of-order history, reached through two elections in a row' },
  { seed: 3202, checker: 'convergence', bug: 'a candidate that won while a higher epoch was on its way still became primary of its old epoch once its queued transition ran (after it had stepped down): two primaries, each refusing the other; and metadata writes of the transition and of an effect ran at once, racing on the temp file (ENOENT) and able to lose each other\'s fields. The transition now re-checks the machine, and LocalState serialises metadata writes' },
  { seed: 5061, checker: 'convergence', bug: 'retention ran while a rejoin rebuilt the state below a snapshot it was discarding: retention, deciding from that snapshot, deleted the log segments the rebuild was replaying, and the node stayed at applied LSN 0 for good (LogTruncated, then LogGap). Retention, rejoins and snapshot installs now run one at a time (LocalState.exclusive)' },
  { seed: 387, checker: 'singleWriter', bug: 'the primary re-sent quorum.contact from contact up to leaseMs old, stretching its lease to ~2x leaseMs, past failoverTimeoutMs: it accepted writes after a new primary was elected' },
];

for (const { seed, forcedPromotions, checker, bug } of fixed) {
  test(`seed ${seed} (${checker}): ${bug}`, async () => {
    const result = await runSimulation({ seed, forcedPromotions: forcedPromotions === true });
    assert.ok(result.ok, result.report);
  });
}

// Found with a broken variant (the old primary's extra epoch-1 record made
// the fork visible), but the bug was the product's: a replica that installed a
// snapshot took the epoch history stored inside it, taken before the sender's
// epoch 2 began, so its later epoch-2 records sat under epoch 1; elected, it
// made the others cut records it held too, and left the old primary's
// divergent record uncut. The variant may still fail, but only by its own
// checker (singleWriter).
test('seed 57 with a primary that skips its lease: a snapshot install adopts the sender\'s current epoch history (logPrefix)', async () => {
  const result = await runSimulation({ seed: 57, ...brokenVariants['primary that skips its lease'] });
  assert.ok(result.violation?.checker !== 'logPrefix', result.report);
});

// Seed 1111 with forced promotions: a rejoin cut below a node's local snapshot,
// the node rebuilt from nothing and then voted as an empty log, electing a
// candidate that lacked acknowledged writes (durability). It now keeps
// claiming the records it held up to the fork (test/node/rejoinBelowSnapshot.test.ts).
test('seed 1111 with forced promotions: a node reset below its snapshot still votes with the records it held', async () => {
  const result = await runSimulation({ seed: 1111, forcedPromotions: true });
  assert.ok(result.ok, result.report);
});

// Seed 700393 with forced promotions (no forced promotion in this run, but a
// disk error): a replica whose write of a new primary's epoch history failed
// still answered its HELLO (the failure was reported, not thrown) and appended
// the records of that epoch under its old history; elected later, it let an
// old primary keep a divergent tail (logPrefix). Following now fails unless
// the history is on disk.
test('seed 700393 with forced promotions: no records of an epoch whose history failed to persist', async () => {
  const result = await runSimulation({ seed: 700393, forcedPromotions: true });
  assert.ok(result.ok, result.report);
});

// Seed 801065: a crash between a rejoin's cut and the deletion of the local
// snapshot past it left the state ahead of the log on restart; the node
// never converged. Opening now finishes the rebuild (and the log is reset
// before that snapshot is deleted).
test('seed 801065: a crash in the middle of a rejoin below the snapshot is finished on open', async () => {
  const result = await runSimulation({ seed: 801065 });
  assert.ok(result.ok, result.report);
});

// Seed 1644: a new primary could not reach a replica (connect timeouts of
// 5 s each), so the replica stayed Healthy for over 12 s while it fell behind
// (statusMatchesLag). The default connect timeout is now 2 s: three failures
// make it Failed in about 7 s.
test('seed 1644: an unreachable replica turns Failed before it has been called Healthy while behind for long', async () => {
  const result = await runSimulation({ seed: 1644 });
  assert.ok(result.ok, result.report);
});

test.run();
