// Property tests (fast-check): a steadily streaming replica does not flap.
// Failing runs print fast-check's seed and path; replay with
// fc.assert(prop, { seed, path }).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import {
  defaultReplicaHealthThresholds as D,
  healthTransition,
  initialHealth,
  replicaHealthMachine,
  type ReplicaHealthInput,
  type ReplicaHealthSnapshot,
} from '../../src/machines/index.js';

/** [gapMs since the previous sample, lagMs] pairs. */
type Samples = Array<[gapMs: number, lagMs: number]>;

interface Run {
  readonly statuses: string[];
  readonly changes: number;
  readonly effects: number;
  readonly durationMs: number;
}

function run(samples: Samples, input: ReplicaHealthInput = {}, from?: ReplicaHealthSnapshot): Run {
  let s = from ?? initialHealth({ ...input, nowMs: 0 });
  let nowMs = s.context.since;
  const statuses: string[] = [];
  let changes = 0;
  let effects = 0;
  for (const [gapMs, lagMs] of samples) {
    nowMs += gapMs;
    const r = healthTransition(s, { type: 'lag.sample', lagMs, lagEntries: lagMs * 10, nowMs });
    if (JSON.stringify(r.snapshot.value) !== JSON.stringify(s.value)) changes++;
    effects += r.effects.length;
    statuses.push(r.status);
    s = r.snapshot;
  }
  return { statuses, changes, effects, durationMs: nowMs - (from?.context.since ?? 0) };
}

const thresholds = fc
  .record({
    laggingLagMs: fc.integer({ min: 1, max: 500 }),
    degradedSpanMs: fc.integer({ min: 1, max: 5000 }),
    severeSpanMs: fc.integer({ min: 1, max: 10_000 }),
    recoverRatio: fc.double({ min: 0.1, max: 1, noNaN: true }),
    graceMs: fc.integer({ min: 1, max: 2000 }),
  })
  .map(({ laggingLagMs, degradedSpanMs, severeSpanMs, recoverRatio, graceMs }) => ({
    laggingLagMs,
    degradedLagMs: laggingLagMs + degradedSpanMs,
    severeLagMs: laggingLagMs + degradedSpanMs + severeSpanMs,
    recoverRatio,
    graceMs,
  }));

const gap = fc.integer({ min: 0, max: 200 });

test('lag that stays within [0, laggingLagMs) never leaves Healthy and fires nothing', () => {
  fc.assert(
    fc.property(thresholds, fc.array(fc.tuple(gap, fc.double({ min: 0, max: 1, noNaN: true })), { maxLength: 300 }), (t, raw) => {
      const samples: Samples = raw.map(([g, f]) => [g, Math.min(f * t.laggingLagMs, t.laggingLagMs - 1e-9)]);
      const r = run(samples, t);
      return r.statuses.every((s) => s === 'Healthy') && r.effects === 0;
    }),
  );
});

test('steady streaming with GC-pause spikes shorter than graceMs stays Healthy', () => {
  // Streaming at ~10K writes/s: samples every 1-20 ms with 0-40 ms of lag; now
  // and then a pause (up to 999 ms of lag, below degradedLagMs) lasting less
  // than graceMs, then a normal sample again.
  const normal = fc.array(fc.tuple(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 0, max: 40 })), { minLength: 1, maxLength: 30 });
  const spike = fc.array(fc.tuple(fc.integer({ min: 1, max: 60 }), fc.integer({ min: D.laggingLagMs, max: D.degradedLagMs - 1 })), { maxLength: 8 });
  const episode = fc.tuple(spike, normal).filter(([s]) => s.slice(1).reduce((n, [g]) => n + g, 0) < D.graceMs);
  fc.assert(
    fc.property(fc.array(episode, { maxLength: 40 }), (episodes) => {
      const r = run(episodes.flatMap(([s, n]) => [...s, ...n]));
      return r.statuses.every((s) => s === 'Healthy') && r.effects === 0;
    }),
  );
});

test('hysteresis: jitter inside a recover band never leaves the level it is in', () => {
  const start = (lags: number[]) =>
    lags.reduce((s, lagMs, i) => healthTransition(s, { type: 'lag.sample', lagMs, lagEntries: 0, nowMs: i * D.graceMs }).snapshot, initialHealth({ nowMs: 0 }));
  const inLagging = start([200, 200]);
  const inModerate = start([2000]);
  assert.is(inLagging.value, 'Lagging');
  assert.equal(inModerate.value, { Degraded: 'Moderate' });
  const band = (lo: number, hi: number) => fc.array(fc.tuple(gap, fc.integer({ min: lo, max: hi })), { maxLength: 300 });
  fc.assert(
    fc.property(band(D.laggingLagMs * D.recoverRatio, D.degradedLagMs - 1), (samples) =>
      run(samples, {}, inLagging).statuses.every((s) => s === 'Lagging'),
    ),
  );
  fc.assert(
    fc.property(band(D.degradedLagMs * D.recoverRatio, D.severeLagMs - 1), (samples) => {
      const r = run(samples, {}, inModerate);
      return r.statuses.every((s) => s === 'Degraded') && r.effects === 0;
    }),
  );
});

test('any lag sequence changes state at most 3 * floor(duration / graceMs) + 2 times', () => {
  // Every change that is not an immediate rise to Degraded (or to Severe)
  // waits graceMs since the previous change, and at most two immediate
  // rises come in a row.
  const nearBoundaries = fc.oneof(
    ...[D.laggingLagMs, D.laggingLagMs * D.recoverRatio, D.degradedLagMs, D.degradedLagMs * D.recoverRatio, D.severeLagMs, D.severeLagMs * D.recoverRatio].map(
      (b) => fc.integer({ min: Math.floor(b) - 30, max: Math.floor(b) + 30 }),
    ),
    fc.integer({ min: 0, max: 8000 }),
  );
  fc.assert(
    fc.property(fc.array(fc.tuple(gap, nearBoundaries), { maxLength: 400 }), (samples) => {
      const r = run(samples);
      return r.changes <= 3 * Math.floor(r.durationMs / D.graceMs) + 2;
    }),
  );
});

test('the machine is deterministic: the same samples give the same statuses', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(gap, fc.integer({ min: 0, max: 8000 })), { maxLength: 100 }), (samples) => {
      assert.equal(run(samples).statuses, run(samples).statuses);
    }),
  );
  assert.is(replicaHealthMachine.id, 'replicaHealth');
});

test.run();
