// Deliberately broken variants (test/sim/brokenVariants.ts) must be caught by
// the checkers within 200 seeds: each run here stops at the first failing seed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runSimulation } from '../../src/testing/index.js';
import { brokenVariants } from './brokenVariants.js';

const expected: Record<string, string[]> = {
  'fsync that makes nothing durable': ['durability', 'logPrefix', 'recovery', 'logMatching', 'appliedOnce', 'convergence'],
  'vote guard that ignores log completeness': ['durability', 'logPrefix', 'logMatching'],
  'primary that skips its lease': ['singleWriter'],
};

for (const [name, options] of Object.entries(brokenVariants)) {
  test(`caught within 200 seeds: ${name}`, async () => {
    for (let seed = 1; seed <= 200; seed++) {
      const result = await runSimulation({ seed, ...options });
      if (result.ok) continue;
      assert.ok(expected[name]!.includes(result.violation!.checker), `seed ${seed} failed by an unexpected checker: ${result.report}`);
      console.log(`  ${name}: seed ${seed}, checker ${result.violation!.checker}: ${result.violation!.message}`);
      return;
    }
    assert.unreachable(`${name} passed 200 seeds`);
  });
}

test.run();
