// The deterministic simulation with forced promotions in the fault schedule,
// seeds 1-60: a forced promotion is an election (votes of a majority, one per
// epoch, log check), so there is still one primary per epoch and no quorum
// write is lost. Seed 21 was the first to show two primaries of one epoch
// when a forced promotion took its epoch without votes.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runSimulation } from '../../src/testing/index.js';

let forced = 0;
for (let seed = 1; seed <= 60; seed++) {
  test(`seed ${seed} with forced promotions`, async () => {
    const result = await runSimulation({ seed, forcedPromotions: true });
    assert.ok(result.ok, result.report);
    assert.ok(result.steps > 0, 'the run did work');
    forced += result.faults['forcePromote'] ?? 0;
  });
}

test('forced promotions were injected in those runs', () => {
  assert.ok(forced > 0, `${forced} forced promotions`);
});

test.run();
