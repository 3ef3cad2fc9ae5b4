// HandoverRun against a stub node: when HANDOVER goes out, and when the
// target counts as having ignored it (an ACK on the same connection echoing
// a frame stamped later than every frame before HANDOVER). An echo on
// another connection, or after the clock stepped back, proves nothing; the
// sends are capped; the run settles once.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { HANDOVER_SENDS_MAX, type HandoverHost, HandoverRun } from '../../src/actors/handover.js';
import { isReplicationError } from '../../src/errors.js';

/** A stub node: the target's flushed LSN and stream are set by the test; sends and in-flight reports are recorded. */
function stub(lastLsn = 10) {
  let now = 1000;
  const timers = new Map<number, () => void>();
  let nextTimer = 0;
  const state = { flushed: 0, stream: { generation: 1, sentMs: 0, echoedMs: 0 } as { generation: number; sentMs: number; echoedMs: number } | undefined, up: true };
  const sent: number[] = [];
  const inFlight: boolean[] = [];
  const host: HandoverHost = {
    clock: {
      now: () => now,
      setTimeout: (fn: () => void) => (timers.set(++nextTimer, fn), nextTimer),
      clearTimeout: (id: unknown) => void timers.delete(id as number),
    },
    durableLastLsn: async () => lastLsn,
    flushedOn: () => state.flushed,
    sendHandover: (_id, _epoch, lsn) => (state.up ? (sent.push(lsn), true) : false),
    streamTo: () => state.stream,
    handoverInFlight: (f) => void inFlight.push(f),
  };
  return { host, state, sent, inFlight, timers, setNow: (ms: number) => (now = ms) };
}

async function started(s: ReturnType<typeof stub>): Promise<HandoverRun> {
  const run = new HandoverRun(s.host, 'n2', 4, 1000);
  run.done.catch(() => undefined);
  run.start();
  await Promise.resolve(); // durableLastLsn resolved
  await Promise.resolve();
  return run;
}

test('HANDOVER goes out once the target has flushed the last LSN, not before', async () => {
  const s = stub();
  const run = await started(s);
  s.state.flushed = 9;
  run.progress();
  assert.equal([s.sent, s.inFlight], [[], []]);
  s.state.flushed = 10;
  run.progress();
  run.progress();
  assert.equal([s.sent, s.inFlight], [[10], [true]]);
});

test('an echo on the same connection of a frame stamped after HANDOVER: ignored, sent again, up to the cap', async () => {
  const s = stub();
  s.state.flushed = 10;
  s.state.stream = { generation: 1, sentMs: 1000, echoedMs: 1000 };
  const run = await started(s);
  assert.equal(s.sent.length, 1);
  s.state.stream = { generation: 1, sentMs: 1000, echoedMs: 1000 }; // an echo of a frame sent in the same ms: not proof
  run.progress();
  assert.equal(s.sent.length, 1);
  for (let i = 1; i <= 5; i++) {
    s.setNow(1000 + 250 * i);
    s.state.stream = { generation: 1, sentMs: 1000 + 250 * i, echoedMs: 1000 + 250 * i }; // a later heartbeat, acknowledged
    run.progress();
  }
  assert.is(s.sent.length, HANDOVER_SENDS_MAX);
  assert.equal(s.inFlight, [true, false, true, false, true, false]);
});

test('an echo on another connection proves nothing: the HANDOVER stays in flight', async () => {
  const s = stub();
  s.state.flushed = 10;
  const run = await started(s);
  s.state.stream = { generation: 3, sentMs: 5000, echoedMs: 5000 }; // reconnected: the target may still read the old stream
  run.progress();
  assert.equal([s.sent.length, s.inFlight], [1, [true]]);
});

test('a clock that stepped back: only a frame stamped after every earlier frame counts', async () => {
  const s = stub();
  s.state.flushed = 10;
  s.state.stream = { generation: 1, sentMs: 9000, echoedMs: 0 }; // frames were stamped up to 9000 before the clock stepped back to 1000
  const run = await started(s);
  s.state.stream = { generation: 1, sentMs: 9000, echoedMs: 9000 }; // the ACK of a frame sent before HANDOVER
  run.progress();
  assert.equal([s.sent.length, s.inFlight], [1, [true]]);
  s.state.stream = { generation: 1, sentMs: 9001, echoedMs: 9001 };
  run.progress();
  assert.equal([s.sent.length, s.inFlight], [2, [true, false, true]]);
});

test('no stream to the target: nothing is sent, nothing claimed in flight', async () => {
  const s = stub();
  s.state.flushed = 10;
  s.state.up = false;
  await started(s);
  assert.equal([s.sent, s.inFlight], [[], []]);
});

test('settling: the target heard as primary resolves; after a step-down nothing more is sent; fail settles once', async () => {
  const s = stub();
  s.state.flushed = 10;
  const run = await started(s);
  run.steppedDown();
  s.state.stream = { generation: 1, sentMs: 2000, echoedMs: 2000 };
  run.progress();
  assert.is(s.sent.length, 1, 'no resend after the step-down');
  run.primaryHeard('n2', 4); // its own epoch: not the new primary yet
  run.primaryHeard('n2', 5);
  assert.equal(await run.done, { primary: 'n2', epoch: 5, lsn: 10 });
  assert.is(s.timers.size, 0, 'the step-down timer was cleared');
  run.fail('timeout', 'too late');

  const other = await started(stub());
  other.primaryHeard('n3', 5);
  const err = await other.done.then(() => undefined, (e: unknown) => e);
  assert.ok(isReplicationError(err, 'HandoverFailed') && err.context?.['reason'] === 'otherPrimary', String(err));
});

test.run();
