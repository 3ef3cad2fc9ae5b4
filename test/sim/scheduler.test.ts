// The scheduler runs tasks in (time, scheduling order), lets promise
// callbacks run between tasks, and skips cancelled tasks; node clocks defer
// timers while paused and drop them once killed.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { NodeClock, Scheduler } from '../../src/testing/index.js';

test('tasks run in time order, ties in the order they were scheduled; cancelled ones are skipped', async () => {
  const s = new Scheduler(100);
  const ran: string[] = [];
  s.at(130, () => ran.push('c'));
  s.at(110, () => ran.push('a'));
  s.at(110, () => ran.push('b'));
  s.at(120, () => ran.push('never')).cancelled = true;
  await s.runUntil(1000);
  assert.equal(ran, ['a', 'b', 'c']);
  assert.is(s.now, 1000);
});

test('promise callbacks started by a task run before the next task', async () => {
  const s = new Scheduler(0);
  const ran: string[] = [];
  s.at(1, () => {
    void Promise.resolve().then(() => Promise.resolve()).then(() => ran.push('then'));
  });
  s.at(1, () => ran.push('next task'));
  await s.runUntil(10);
  assert.equal(ran, ['then', 'next task']);
});

test('a paused node clock fires due timers when the pause ends; a killed one never', async () => {
  const s = new Scheduler(0);
  const clock = new NodeClock(s);
  const fired: number[] = [];
  clock.setTimeout(() => fired.push(s.now), 10);
  clock.pause(500);
  await s.runUntil(1000);
  assert.equal(fired, [500]);
  const cleared = clock.setTimeout(() => fired.push(-1), 10);
  clock.clearTimeout(cleared);
  clock.setTimeout(() => fired.push(-2), 10);
  clock.kill();
  await s.runUntil(2000);
  assert.equal(fired, [500]);
});

test.run();
