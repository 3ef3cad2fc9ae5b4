// The deterministic simulation with planned handovers in the fault schedule
// (`node.handover()` on the primary, to a named node or its own pick),
// seeds 1-40, among every other fault: one primary per epoch, no
// acknowledged write lost, and the strict `singleWriter` check for the
// epochs handovers create (the old primary stops writing before the target
// stands, so no exemption applies to them).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runSimulation } from '../../src/testing/index.js';

let handovers = 0;
let completed = 0;
for (let seed = 1; seed <= 40; seed++) {
  test(`seed ${seed} with handovers`, async () => {
    const result = await runSimulation({ seed, handovers: true });
    assert.ok(result.ok, result.report);
    handovers += result.faults['handover'] ?? 0;
    completed += result.trace.split('\n').filter((line) => line.includes('via=handover')).length;
  });
}

test('handovers were injected in those runs, and most completed', () => {
  assert.ok(handovers >= 20, `${handovers} handovers`);
  assert.ok(completed >= handovers / 2, `${completed} of ${handovers} handovers completed`);
});

test.run();
