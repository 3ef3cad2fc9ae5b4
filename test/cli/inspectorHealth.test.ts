// What an inspector sees of a primary and its replica: the replica-health
// actor going Healthy -> Failed -> Healthy while the replica is closed and
// restarted, the shipper and the replica's receiver at work, and no byte
// buffer anywhere in an inspected event or snapshot (WAL payloads are
// stripped to `{ bytes: n }`; stripInspectionEvent is checked on an event that
// does carry bytes).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { InspectionEvent } from 'xstate';
import { stripInspectionEvent } from '../../src/actors/inspection.js';
import { withCluster, writeMemories } from '../helpers/cluster.js';
import { waitFor } from '../helpers/waitFor.js';

const tuning = { failuresToFail: 3, heartbeatIntervalMs: 50, backoffScheduleMs: [20, 50, 100], connectTimeoutMs: 1000 };

/** Paths (through plain objects and arrays) at which `value` holds a byte buffer. */
function bufferPaths(value: unknown, path = '', depth = 12): string[] {
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return [path];
  if (depth === 0 || typeof value !== 'object' || value === null) return [];
  const proto: unknown = Object.getPrototypeOf(value);
  if (!Array.isArray(value) && proto !== Object.prototype && proto !== null) return [];
  return Object.entries(value).flatMap(([k, v]) => bufferPaths(v, `${path}.${k}`, depth - 1));
}

function inspectedBuffers(e: InspectionEvent): string[] {
  switch (e.type) {
    case '@xstate.event': return bufferPaths(e.event, 'event');
    case '@xstate.snapshot':
    case '@xstate.microstep': return [...bufferPaths(e.event, 'event'), ...bufferPaths(e.snapshot, 'snapshot')];
    case '@xstate.action': return bufferPaths(e.action.params, 'params');
    default: return [];
  }
}

/** The id of the inspected actor (`health:n2`, `shipper:n2`, `node` ...). */
function actorId(e: InspectionEvent): string {
  return (e.actorRef as { id?: string }).id ?? '';
}

/** The top-level state of an inspected snapshot (`{ Degraded: 'Moderate' }` -> `Degraded`). */
function topState(snapshot: unknown): string {
  const value = (snapshot as { value?: unknown }).value;
  return typeof value === 'string' ? value : Object.keys(value as object)[0] ?? '?';
}

test('stripInspectionEvent replaces buffers in events and contexts and leaves the original alone', () => {
  const payload = new Uint8Array(300);
  const original = { type: 'batch', records: [{ lsn: 1, bytes: payload }], count: 1 };
  const stripped = stripInspectionEvent({ type: '@xstate.event', event: original } as unknown as InspectionEvent);
  assert.equal(stripped.type === '@xstate.event' ? stripped.event : undefined, { type: 'batch', records: [{ lsn: 1, bytes: { bytes: 300 } }], count: 1 });
  assert.is(original.records[0]?.bytes, payload, 'the event the machine got is not changed');
  const plain = { type: 'ack', lsn: 4 };
  const same = stripInspectionEvent({ type: '@xstate.event', event: plain } as unknown as InspectionEvent);
  assert.is(same.type === '@xstate.event' ? same.event : undefined, plain, 'an event without bytes is not copied');
});

test('health transitions of a closed and restarted replica appear in the inspection stream, without bytes', async () => {
  const primarySeen: InspectionEvent[] = [];
  const replicaSeen: InspectionEvent[] = [];
  await withCluster({
    size: 2, tuning,
    nodeOptions: { n1: { inspect: (e) => primarySeen.push(e) }, n2: { inspect: { next: (e) => replicaSeen.push(e) } } },
  }, async (c) => {
    await writeMemories(c.primary, 'notes', 'before', 200, 100);
    await c.waitCaughtUp('n2', 30_000);
    await c.stop('n2');
    await waitFor(() => c.primary.status().replicas[0]?.status === 'Failed', { timeoutMs: 20_000, what: 'n2 Failed' });
    await writeMemories(c.primary, 'notes', 'while-down', 200, 100);
    await c.start('n2', { inspect: { next: (e) => replicaSeen.push(e) } });
    await c.waitCaughtUp('n2', 30_000);
    await waitFor(() => c.primary.status().replicas[0]?.status === 'Healthy', { timeoutMs: 20_000, what: 'n2 Healthy again' });
  });

  const health = primarySeen.filter((e) => e.type === '@xstate.snapshot' && actorId(e) === 'health:n2')
    .map((e) => topState((e as InspectionEvent & { type: '@xstate.snapshot' }).snapshot));
  const path = health.filter((s, i) => s !== health[i - 1]);
  const failedAt = path.indexOf('Failed');
  assert.ok(failedAt > 0 && path.slice(0, failedAt).includes('Healthy'), `Healthy before Failed: ${path.join(' -> ')}`);
  assert.ok(path.slice(failedAt).includes('Healthy'), `Healthy after Failed: ${path.join(' -> ')}`);

  const actors = new Set(primarySeen.filter((e) => e.type === '@xstate.actor').map(actorId));
  for (const id of ['promotion', 'health:n2', 'shipper:n2']) assert.ok(actors.has(id), `${id} in ${[...actors].join(', ')}`);
  assert.ok(replicaSeen.some((e) => e.type === '@xstate.event' && e.event.type === 'batch'), 'the receiver gets one event per batch');

  const withBuffers = [...primarySeen, ...replicaSeen].flatMap(inspectedBuffers);
  assert.equal(withBuffers.slice(0, 5), [], 'no inspected event or snapshot holds a byte buffer');
});

test.run();
