// Property tests (fast-check) over random event sequences of the shipper:
// the circuit and backoff bookkeeping stay consistent, delays stay in the
// jitter band, every failure reports then closes, and shipping starts at
// most once per connection. Failing runs print fast-check's seed and path;
// replay with fc.assert(prop, { seed, path }).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import {
  SHIPPER_TIMERS,
  backoffDelayMs,
  defaultShipperConfig as D,
  initialShipper,
  shipperTransition,
  type ShipperEvent,
  type ShipperTimerEvent,
} from '../../src/machines/index.js';

type Ev = ShipperEvent | ShipperTimerEvent;
const jitter = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });
const lsn = fc.integer({ min: 0, max: 10_000 });
const failure = (type: 'connection.failed' | 'connection.closed') =>
  fc.record({ type: fc.constant(type), reason: fc.constantFrom('connect', 'timeout', 'closed'), message: fc.constant('x'), jitter, nowMs: lsn });
const coded = (type: 'hello.rejected' | 'peer.error' | 'protocol.error') =>
  fc.record({ type: fc.constant(type), code: fc.constantFrom('StaleEpoch', 'ClusterMismatch', 'LogGap', 'MalformedMessage', 'ChecksumMismatch', 'Overloaded'), message: fc.constant('x'), jitter, nowMs: lsn });

const event: fc.Arbitrary<Ev> = fc.oneof(
  { weight: 3, arbitrary: fc.constant<Ev>({ type: 'start' }) },
  { weight: 10, arbitrary: fc.record({ type: fc.constant('connection.opened' as const), nowMs: lsn, jitter }) },
  { weight: 2, arbitrary: failure('connection.failed') },
  { weight: 2, arbitrary: failure('connection.closed') },
  { weight: 8, arbitrary: fc.record({ type: fc.constant('hello.accepted' as const), replicaFlushedLsn: lsn, logFirstLsn: lsn, primaryLsn: lsn, windowEntries: fc.integer({ min: 1, max: 500 }), nowMs: lsn }) },
  { weight: 1, arbitrary: coded('hello.rejected') },
  { weight: 1, arbitrary: coded('peer.error') },
  { weight: 1, arbitrary: coded('protocol.error') },
  { weight: 2, arbitrary: fc.record({ type: fc.constant('snapshot.sent' as const), snapshotLsn: lsn }) },
  { weight: 12, arbitrary: fc.record({ type: fc.constant('progress' as const), ackedLsn: lsn, primaryLsn: lsn, windowEntries: fc.integer({ min: 1, max: 500 }) }) },
  { weight: 10, arbitrary: fc.constant<Ev>({ type: SHIPPER_TIMERS.backoff }) },
  { weight: 2, arbitrary: fc.constant<Ev>({ type: SHIPPER_TIMERS.handshakeTimeout }) },
  { weight: 1, arbitrary: fc.constant<Ev>({ type: 'stop' }) },
  { weight: 2, arbitrary: fc.constant<Ev>({ type: 'replica.seen' }) },
);
// Every run starts the shipper; runs are long enough to cross several connections.
const runs = fc.array(event, { maxLength: 200, size: 'large' }).map((events): Ev[] => [{ type: 'start' }, ...events]);

test('the generated runs reach every state, with the circuit open and closed', () => {
  const seen = new Set<string>();
  for (const events of fc.sample(runs, { numRuns: 100, seed: 7 })) {
    let s = initialShipper({ replicaId: 'r1' });
    for (const e of events) {
      s = shipperTransition(s, e).snapshot;
      seen.add(`${String(s.value)}${s.context.circuitOpen ? '*' : ''}`);
    }
  }
  for (const state of ['Connecting', 'Handshaking', 'Snapshotting', 'CatchingUp', 'Streaming', 'Backoff', 'Backoff*', 'Stopped']) {
    assert.ok(seen.has(state), `never reached ${state}`);
  }
});

test('circuitOpen and backoffStep always follow consecutiveFailures', () => {
  fc.assert(
    fc.property(runs, (events) => {
      let s = initialShipper({ replicaId: 'r1' });
      for (const e of events) {
        s = shipperTransition(s, e).snapshot;
        const c = s.context;
        if (c.circuitOpen !== c.consecutiveFailures >= D.failuresToOpenCircuit) return false;
        if (c.backoffStep !== Math.min(c.consecutiveFailures, D.backoffScheduleMs.length - 1)) return false;
      }
      return true;
    }),
  );
});

test('in Backoff the delay is the schedule step of the failure count, within +/- jitterRatio', () => {
  fc.assert(
    fc.property(runs, (events) => {
      let s = initialShipper({ replicaId: 'r1' });
      for (const e of events) {
        s = shipperTransition(s, e).snapshot;
        if (s.value !== 'Backoff') continue;
        const base = D.backoffScheduleMs[Math.min(s.context.consecutiveFailures - 1, D.backoffScheduleMs.length - 1)]!;
        const d = s.context.backoffDelayMs;
        if (d < Math.floor(base * (1 - D.jitterRatio)) || d > Math.ceil(base * (1 + D.jitterRatio))) return false;
      }
      return true;
    }),
  );
});

test('every entry into Backoff reports the failure, then closes; Stopped only by stop or StaleEpoch', () => {
  fc.assert(
    fc.property(runs, (events) => {
      let s = initialShipper({ replicaId: 'r1' });
      for (const e of events) {
        const r = shipperTransition(s, e);
        const types = r.effects.map((x) => x.type);
        if (r.state === 'Backoff' && s.value !== 'Backoff') {
          if (types.filter((t) => t === 'reportFailure').length !== 1 || types.at(-1) !== 'closeConnection') return false;
        }
        if (r.state === 'Stopped' && s.value !== 'Stopped') {
          const stale = 'code' in e && e.code === 'StaleEpoch';
          if (!(e.type === 'stop' || stale)) return false;
          if (stale !== types.includes('stepDown')) return false;
        }
        s = r.snapshot;
      }
      return true;
    }),
  );
});

test('startStreaming at most once per connection; lastAckedLsn never decreases within one', () => {
  fc.assert(
    fc.property(runs, (events) => {
      let s = initialShipper({ replicaId: 'r1' });
      let starts = 0;
      for (const e of events) {
        const r = shipperTransition(s, e);
        if (r.effects.some((x) => x.type === 'openConnection')) starts = 0;
        starts += r.effects.filter((x) => x.type === 'startStreaming').length;
        if (starts > 1) return false;
        if (e.type === 'progress' && r.snapshot.context.lastAckedLsn < s.context.lastAckedLsn) return false;
        s = r.snapshot;
      }
      return true;
    }),
  );
});

test('backoffDelayMs stays in the band and grows with jitter', () => {
  const schedule = fc.array(fc.integer({ min: 0, max: 120_000 }), { minLength: 1, maxLength: 6 });
  const ratio = fc.double({ min: 0, max: 0.99, noNaN: true });
  fc.assert(
    fc.property(schedule, fc.integer({ min: 0, max: 20 }), ratio, jitter, jitter, (ms, stepIndex, r, j1, j2) => {
      const base = ms[Math.min(stepIndex, ms.length - 1)]!;
      const d = backoffDelayMs(ms, stepIndex, r, j1);
      assert.ok(d >= Math.floor(base * (1 - r)) && d <= Math.ceil(base * (1 + r)), `${d} for ${base} +/- ${r}`);
      const [lo, hi] = j1 <= j2 ? [j1, j2] : [j2, j1];
      assert.ok(backoffDelayMs(ms, stepIndex, r, lo) <= backoffDelayMs(ms, stepIndex, r, hi));
    }),
  );
});

test.run();
