// The shipper as a real actor on xstate's SimulatedClock, with recording
// fakes provided for every named action: delayed transitions (handshake
// timeout, backoff) fire exactly at their simulated time, are cancelled when
// the state is left, and the effects arrive with their params in order.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SimulatedClock, createActor } from 'xstate';
import { SHIPPER_EFFECTS, shipperMachine, type ShipperEvent, type ShipperInput } from '../../src/machines/index.js';

/** A started actor on a simulated clock; `log` records `time name params` for every effect. */
function shipper(input: Partial<ShipperInput> = {}) {
  const clock = new SimulatedClock();
  const log: string[] = [];
  const record = (name: string) => (_: unknown, params: unknown) => void log.push(`${clock.now()} ${name}${params === undefined ? '' : ` ${JSON.stringify(params)}`}`);
  const actions = Object.fromEntries([...SHIPPER_EFFECTS].map((name) => [name, record(name)]));
  const actor = createActor(shipperMachine.provide({ actions }), { input: { replicaId: 'r1', ...input }, clock });
  actor.subscribe({ error: (err) => assert.unreachable(String(err)) });
  actor.start();
  const at = (ms: number) => clock.set(ms);
  const state = () => String(actor.getSnapshot().value);
  const send = (event: ShipperEvent) => actor.send(event);
  const names = () => log.map((line) => line.split(' ').slice(0, 2).join(' '));
  return { actor, clock, log, names, at, state, send };
}

const opened = (nowMs: number, jitter = 0.5): ShipperEvent => ({ type: 'connection.opened', nowMs, jitter });
const failed = (nowMs: number, jitter = 0.5): ShipperEvent => ({ type: 'connection.failed', reason: 'connect', message: 'ECONNREFUSED', jitter, nowMs });

test('the handshake timeout fires exactly handshakeTimeoutMs after the connection opened', () => {
  const s = shipper();
  s.send({ type: 'start' });
  s.at(1000);
  s.send(opened(1000));
  assert.is(s.state(), 'Handshaking');
  s.at(5999);
  assert.is(s.state(), 'Handshaking', '1 ms early');
  s.at(6000);
  assert.is(s.state(), 'Backoff');
  assert.equal(s.names(), ['0 openConnection', '1000 sendHello', '6000 reportFailure', '6000 closeConnection']);
  assert.match(s.log[2]!, '"reason":"timeout"');
  assert.match(s.log[2]!, '"nowMs":6000');
  s.actor.stop();
});

test('handshakeTimeoutMs is an input', () => {
  const s = shipper({ handshakeTimeoutMs: 250 });
  s.send({ type: 'start' });
  s.send(opened(0));
  s.at(249);
  assert.is(s.state(), 'Handshaking');
  s.at(250);
  assert.is(s.state(), 'Backoff');
  s.actor.stop();
});

test('the backoff delay fires at its simulated time: 100, then 1000, then 10000 ms after each failure', () => {
  const s = shipper();
  s.send({ type: 'start' });
  const dials = () => s.names().filter((n) => n.endsWith('openConnection')).map((n) => Number(n.split(' ')[0]));
  let t = 0;
  for (const delay of [100, 1000, 10_000, 60_000, 60_000]) {
    s.send(failed(t));
    assert.is(s.state(), 'Backoff');
    s.at(t + delay - 1);
    assert.is(s.state(), 'Backoff', `1 ms before ${delay}`);
    s.at(t + delay);
    assert.is(s.state(), 'Connecting', `at ${delay}`);
    t += delay;
  }
  assert.equal(dials(), [0, 100, 1100, 11_100, 71_100, 131_100]);
  assert.is(s.actor.getSnapshot().context.circuitOpen, true);
  s.actor.stop();
});

test('jittered delays (jitter 0 and 0.999) fire within +/- 20% of the schedule', () => {
  for (const [jitter, expected] of [[0, [80, 800, 8000]], [0.999, [120, 1200, 11_996]]] as const) {
    const s = shipper();
    s.send({ type: 'start' });
    let t = 0;
    for (const delay of expected) {
      s.send(failed(t, jitter));
      s.at(t + delay - 1);
      assert.is(s.state(), 'Backoff');
      s.at(t + delay);
      assert.is(s.state(), 'Connecting', `jitter ${jitter}: ${delay}`);
      t += delay;
    }
    s.actor.stop();
  }
});

test('a HELLO_ACK before the timeout cancels it', () => {
  const s = shipper();
  s.send({ type: 'start' });
  s.send(opened(0));
  s.at(4999);
  s.send({ type: 'hello.accepted', replicaFlushedLsn: 7, logFirstLsn: 1, primaryLsn: 7, windowEntries: 100, nowMs: 4999 });
  s.at(60_000);
  assert.is(s.state(), 'Streaming');
  assert.equal(s.log.slice(2), [
    '4999 reportConnected {"replicaId":"r1","nowMs":4999,"replicaFlushedLsn":7,"primaryLsn":7}',
    '4999 startStreaming {"replicaId":"r1","fromLsn":8,"mode":"tail"}',
  ]);
  s.actor.stop();
});

test('stop in Backoff cancels the reconnect and closes once more', () => {
  const s = shipper();
  s.send({ type: 'start' });
  s.send(failed(0));
  s.send({ type: 'stop' });
  s.at(1_000_000);
  assert.is(s.state(), 'Stopped');
  assert.is(s.actor.getSnapshot().status, 'done');
  assert.equal(s.names(), ['0 openConnection', '0 reportFailure', '0 closeConnection', '0 closeConnection']);
});

test('a full session: effects with their params, in order', () => {
  const s = shipper();
  s.send({ type: 'start' });
  s.send(opened(0));
  s.send({ type: 'hello.accepted', replicaFlushedLsn: 5, logFirstLsn: 100, primaryLsn: 5000, windowEntries: 100, nowMs: 10 });
  s.send({ type: 'progress', ackedLsn: 5, primaryLsn: 5000, windowEntries: 100 });
  s.send({ type: 'snapshot.sent', snapshotLsn: 4000 });
  s.send({ type: 'progress', ackedLsn: 4900, primaryLsn: 5000, windowEntries: 100 });
  s.send({ type: 'progress', ackedLsn: 4950, primaryLsn: 5350, windowEntries: 100 });
  s.send({ type: 'protocol.error', code: 'MalformedMessage', message: 'bad ACK', jitter: 0, nowMs: 20 });
  assert.equal(s.log, [
    '0 openConnection {"replicaId":"r1"}',
    '0 sendHello {"replicaId":"r1"}',
    '0 reportConnected {"replicaId":"r1","nowMs":10,"replicaFlushedLsn":5,"primaryLsn":5000}',
    '0 sendSnapshot {"replicaId":"r1","replicaFlushedLsn":5}',
    '0 startStreaming {"replicaId":"r1","fromLsn":4001,"mode":"catchUp"}',
    '0 changeStreamMode {"replicaId":"r1","mode":"tail","ackedLsn":4900,"primaryLsn":5000}',
    '0 reportProtocolError {"replicaId":"r1","code":"MalformedMessage","message":"bad ACK"}',
    '0 reportFailure {"replicaId":"r1","reason":"protocol","message":"MalformedMessage: bad ACK","nowMs":20,"consecutiveFailures":1,"circuitOpen":false,"backoffDelayMs":80}',
    '0 closeConnection {"replicaId":"r1"}',
  ]);
  assert.is(s.actor.getSnapshot().context.lastAckedLsn, 4950);
  s.actor.stop();
});

test.run();
