// Property tests (fast-check) over random frame sequences on one receiver
// connection: nothing that failed validation is appended, every refusal is
// ERROR -> count -> close and ends the connection, and appended batches are
// contiguous and current. Failing runs print fast-check's seed and path;
// replay with fc.assert(prop, { seed, path }).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import {
  RECEIVER_HELLO_TIMEOUT,
  initialReceiver,
  receiverTransition,
  type ReceiverEvent,
  type ReceiverTimerEvent,
} from '../../src/machines/index.js';

type Ev = ReceiverEvent | ReceiverTimerEvent;
const epoch = fc.integer({ min: 1, max: 4 });
const lsn = fc.integer({ min: 1, max: 6 });
const bool = fc.boolean();
const mostly = fc.oneof({ weight: 6, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) });

/** A frame epoch and the node's epoch: mostly current, sometimes stale or newer. */
const epochs = fc.tuple(epoch, mostly, bool).map(([e, current, newer]) => ({ epoch: current ? e : newer ? e + 1 : e - 1, localEpoch: e }));
/** A batch start and the expected LSN: mostly contiguous. */
const lsns = fc.tuple(lsn, mostly, bool).map(([l, ok, ahead]) => ({ startLsn: ok ? l : ahead ? l + 1 : l - 1, expectedLsn: l }));
const valid: Ev = { type: 'hello', epoch: 2, localEpoch: 2, clusterOk: true, addressedToMe: true, versionOk: true };

const event: fc.Arbitrary<Ev> = fc.oneof(
  { weight: 3, arbitrary: fc.tuple(epochs, mostly, mostly, mostly).map(([e, clusterOk, addressedToMe, versionOk]): Ev => ({ type: 'hello', ...e, clusterOk, addressedToMe, versionOk })) },
  { weight: 10, arbitrary: fc.tuple(epochs, lsns, fc.integer({ min: 1, max: 50 })).map(([e, l, count]): Ev => ({ type: 'batch', ...e, ...l, count })) },
  { weight: 3, arbitrary: epochs.map((e): Ev => ({ type: 'heartbeat', ...e })) },
  { weight: 2, arbitrary: epochs.map((e): Ev => ({ type: 'snapshot.begin', ...e })) },
  { weight: 3, arbitrary: fc.record({ type: fc.constant('snapshot.chunk' as const), offset: fc.nat(), byteLength: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ type: fc.constant('snapshot.end' as const), ok: bool }) },
  { weight: 1, arbitrary: fc.constant<Ev>({ type: 'protocol.error', code: 'TruncatedFrame', message: 'short' }) },
  { weight: 2, arbitrary: fc.record({ type: fc.constant('epoch.higher' as const), epoch }) },
  { weight: 1, arbitrary: fc.constant<Ev>({ type: 'connection.closed' }) },
  { weight: 1, arbitrary: fc.constant<Ev>({ type: RECEIVER_HELLO_TIMEOUT }) },
);
// Half the runs open with a valid HELLO, so the states behind it are explored.
const runs = fc
  .tuple(bool, fc.array(event, { maxLength: 60, size: 'large' }))
  .map(([greet, events]) => (greet ? [valid, ...events] : events));

test('a batch is appended only in Streaming, from a current epoch, at the expected LSN', () => {
  fc.assert(
    fc.property(runs, (events) => {
      let s = initialReceiver({ nodeId: 'r1' });
      for (const e of events) {
        const r = receiverTransition(s, e);
        if (r.effects.some((x) => x.type === 'appendBatch')) {
          if (s.value !== 'Streaming' || e.type !== 'batch' || e.epoch < e.localEpoch || e.startLsn !== e.expectedLsn) return false;
        }
        s = r.snapshot;
      }
      return true;
    }),
  );
});

test('every refusal is sendError, countProtocolError, closeConnection with one code, and ends in Closed', () => {
  fc.assert(
    fc.property(runs, (events) => {
      let s = initialReceiver({ nodeId: 'r1' });
      for (const e of events) {
        const r = receiverTransition(s, e);
        const i = r.effects.findIndex((x) => x.type === 'sendError');
        if (i >= 0) {
          const tail = r.effects.slice(i);
          if (tail.map((x) => x.type).join() !== 'sendError,countProtocolError,closeConnection') return false;
          const [sent, counted] = tail;
          if (sent?.type !== 'sendError' || counted?.type !== 'countProtocolError') return false;
          if (sent.params.code !== counted.params.code || r.state !== 'Closed') return false;
          if (r.effects.some((x) => x.type === 'appendBatch' || x.type === 'installSnapshot')) return false;
        }
        if (r.effects.some((x) => x.type === 'closeConnection') && r.state !== 'Closed') return false;
        s = r.snapshot;
      }
      return true;
    }),
  );
});

test('the generated runs reach every state and every refusal code', () => {
  const states = new Set<string>();
  const codes = new Set<string>();
  for (const events of fc.sample(runs, { numRuns: 300, seed: 11 })) {
    let s = initialReceiver({ nodeId: 'r1' });
    for (const e of events) {
      const r = receiverTransition(s, e);
      states.add(r.state);
      for (const x of r.effects) if (x.type === 'sendError') codes.add(x.params.code);
      s = r.snapshot;
    }
  }
  assert.equal([...states].sort(), ['AwaitingHello', 'Closed', 'ReceivingSnapshot', 'Streaming']);
  for (const code of ['UnsupportedVersion', 'ClusterMismatch', 'StaleEpoch', 'LogGap', 'ChecksumMismatch', 'MalformedMessage', 'TruncatedFrame']) {
    assert.ok(codes.has(code), `never refused with ${code}`);
  }
});

test.run();
