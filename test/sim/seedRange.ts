/** Registers one uvu test per seed in [from, to]: each run must keep every invariant (the report carries seed, checker and trace). */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runSimulation } from '../../src/testing/index.js';

export function seedRange(from: number, to: number): void {
  for (let seed = from; seed <= to; seed++) {
    test(`seed ${seed}`, async () => {
      const result = await runSimulation({ seed });
      assert.ok(result.ok, result.report);
      assert.ok(result.steps > 0 && Object.values(result.writes).reduce((a, b) => a + b, 0) > 0, 'the run did work');
    });
  }
}
