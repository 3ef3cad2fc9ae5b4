// forkPoint: the last LSN two logs agree on, from epoch histories.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { epochAt, forkPoint } from '../../src/actors/forkPoint.js';

const h = (...pairs: [number, number][]) => pairs.map(([epoch, startLsn]) => ({ epoch, startLsn }));

test('same history: the shorter log is a prefix', () => {
  assert.is(forkPoint(h([1, 1]), 50, h([1, 1]), 80), 50);
  assert.is(forkPoint(h([1, 1], [2, 40]), 80, h([1, 1], [2, 40]), 60), 60);
});

test('an old primary with an unreplicated tail in a superseded epoch', () => {
  // We led epoch 2 from LSN 90 to 120; the new primary (epoch 3) took over at 100.
  assert.is(forkPoint(h([1, 1], [2, 90]), 120, h([1, 1], [3, 100]), 150), 89);
  // Epoch 2 records that the new primary did replicate before its own epoch began.
  assert.is(forkPoint(h([1, 1], [2, 90]), 120, h([1, 1], [2, 90], [3, 100]), 150), 99);
});

test('a tail of the current epoch that is simply ahead of the other log agrees up to its end', () => {
  assert.is(forkPoint(h([1, 1]), 30, h([1, 1]), 20), 20);
});

test('nothing in common', () => {
  assert.is(forkPoint(h([2, 1]), 10, h([3, 1]), 10), 0);
  assert.is(forkPoint([], 0, h([1, 1]), 10), 0);
});

test('epochAt', () => {
  assert.is(epochAt(h([1, 1], [3, 10]), 9), 1);
  assert.is(epochAt(h([1, 1], [3, 10]), 10), 3);
  assert.is(epochAt(h([2, 5]), 4), 0);
});

test.run();
