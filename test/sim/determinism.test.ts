// The same seed replays the same run: the trace of two runs of one seed is
// identical byte for byte; another seed gives another trace.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runSimulation } from '../../src/testing/index.js';

test('one seed run twice gives the identical trace, byte for byte', async () => {
  const first = await runSimulation({ seed: 2 });
  const second = await runSimulation({ seed: 2 });
  assert.ok(first.trace.length > 1000, 'a trace with content');
  assert.ok(first.trace.includes(' fault '), 'faults were injected');
  assert.is(second.trace, first.trace);
  assert.equal(second.faults, first.faults);
  assert.is(second.steps, first.steps);
});

test('another seed gives another trace', async () => {
  const a = await runSimulation({ seed: 3 });
  const b = await runSimulation({ seed: 4 });
  assert.is.not(a.trace, b.trace);
});

test.run();
