// The config file loader: a valid file loads with defaults filled in; every
// kind of bad field is refused with InvalidConfig naming the field as it is
// spelled in the file; unreadable and non-JSON files are refused too.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig, nodeOptionsFor, parseConfig } from '../../src/cli/config.js';
import { isReplicationError } from '../../src/errors.js';
import { withTempDir } from '../helpers/tempDir.js';

const valid = () => ({
  clusterId: 'demo',
  nodes: [
    { id: 'n1', replication: '127.0.0.1:7101', http: '127.0.0.1:8101' },
    { id: 'n2', replication: '127.0.0.1:7102', http: '127.0.0.1:8102' },
    { id: 'n3', replication: '127.0.0.1:7103', http: '127.0.0.1:8103' },
  ],
  primary: 'n1',
  ack: 'local',
  failover: { auto: true, timeoutMs: 1500 },
});

function fieldOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(isReplicationError(err, 'InvalidConfig'), String(err));
    return String(err.context?.field);
  }
  throw new Error('expected InvalidConfig');
}

test('a valid file loads, defaults filled in, and maps to node options', () => {
  const { failover: _, ack: __, ...minimal } = valid();
  const config = parseConfig(minimal);
  assert.equal(config.failover, { auto: true, timeoutMs: 1500 });
  assert.is(config.ack, 'local');
  assert.equal(config.tuning, {});
  assert.is(config.shipBeforeDurable, true);
  assert.is(nodeOptionsFor(config, 'n1', '/data/n1').shipBeforeDurable, true);
  const full = parseConfig({ ...valid(), ack: 'quorum', failover: { auto: false, timeoutMs: 900 }, shipBeforeDurable: false, tuning: { leaseMs: 500, degradedLagMs: 300 } });
  const options = nodeOptionsFor(full, 'n2', '/data/n2');
  assert.is(options.role, 'replica');
  assert.is(options.ack, 'quorum');
  assert.is(options.autoFailover, false);
  assert.is(options.shipBeforeDurable, false);
  assert.equal(options.tuning, { leaseMs: 500, degradedLagMs: 300, failoverTimeoutMs: 900 });
  assert.is(nodeOptionsFor(full, 'n1', '/data/n1').role, 'primary');
});

const cases: [string, (c: Record<string, unknown>) => unknown, string][] = [
  ['not an object', () => [], '(top level)'],
  ['unknown top-level field', (c) => ({ ...c, replicas: 2 }), 'replicas'],
  ['empty clusterId', (c) => ({ ...c, clusterId: '' }), 'clusterId'],
  ['no nodes', (c) => ({ ...c, nodes: [] }), 'nodes'],
  ['node without id', (c) => ({ ...c, nodes: [{ replication: '127.0.0.1:1', http: '127.0.0.1:2' }] }), 'nodes[0].id'],
  ['duplicate node id', (c) => ({ ...c, nodes: [...(c.nodes as object[]), { id: 'n1', replication: '127.0.0.1:7104', http: '127.0.0.1:8104' }] }), 'nodes[3].id'],
  ['bad replication address', (c) => ({ ...c, nodes: [{ id: 'n1', replication: 'localhost', http: '127.0.0.1:8101' }] }), 'nodes[0].replication'],
  ['missing http address', (c) => ({ ...c, nodes: [{ id: 'n1', replication: '127.0.0.1:7101' }] }), 'nodes[0].http'],
  ['bad http port', (c) => ({ ...c, nodes: [{ id: 'n1', replication: '127.0.0.1:7101', http: '127.0.0.1:99999' }] }), 'nodes[0].http'],
  ['unknown node field', (c) => ({ ...c, nodes: [{ id: 'n1', replication: '127.0.0.1:7101', http: '127.0.0.1:8101', role: 'primary' }] }), 'nodes[0].role'],
  ['missing primary', (c) => ({ ...c, primary: undefined }), 'primary'],
  ['primary not a node', (c) => ({ ...c, primary: 'n9' }), 'primary'],
  ['bad ack mode', (c) => ({ ...c, ack: 'majority' }), 'ack'],
  ['failover not an object', (c) => ({ ...c, failover: true }), 'failover'],
  ['failover.auto not boolean', (c) => ({ ...c, failover: { auto: 'yes' } }), 'failover.auto'],
  ['shipBeforeDurable not boolean', (c) => ({ ...c, shipBeforeDurable: 'no' }), 'shipBeforeDurable'],
  ['failover.timeoutMs negative', (c) => ({ ...c, failover: { timeoutMs: -1 } }), 'failover.timeoutMs'],
  ['unknown failover field', (c) => ({ ...c, failover: { retries: 3 } }), 'failover.retries'],
  ['tuning not an object', (c) => ({ ...c, tuning: 5 }), 'tuning'],
  ['unknown tuning knob', (c) => ({ ...c, tuning: { batchSize: 5 } }), 'tuning.batchSize'],
  ['failover timeout set in tuning', (c) => ({ ...c, tuning: { failoverTimeoutMs: 900 } }), 'tuning.failoverTimeoutMs'],
  ['tuning knob not positive', (c) => ({ ...c, tuning: { degradedLagMs: 0 } }), 'tuning.degradedLagMs'],
  ['receipt ACK delay negative', (c) => ({ ...c, tuning: { receiptAckDelayMs: -1 } }), 'tuning.receiptAckDelayMs'],
  ['lease not shorter than the failover timeout', (c) => ({ ...c, failover: { timeoutMs: 800 }, tuning: { leaseMs: 800 } }), 'tuning.leaseMs'],
];

test('receiptAckDelayMs may be 0 (every receipt acknowledged at once); other knobs may not', () => {
  assert.is(parseConfig({ ...valid(), tuning: { receiptAckDelayMs: 0 } }).tuning.receiptAckDelayMs, 0);
  assert.is(fieldOf(() => parseConfig({ ...valid(), tuning: { windowBatches: 0 } })), 'tuning.windowBatches');
});

for (const [name, mutate, field] of cases) {
  test(`refused: ${name} -> ${field}`, () => {
    assert.is(fieldOf(() => parseConfig(mutate(valid()), 'cluster.json')), field);
  });
}

test('the message names the file and the field', () => {
  try {
    parseConfig({ ...valid(), ack: 'majority' }, 'cluster.json');
    assert.unreachable();
  } catch (err) {
    assert.match((err as Error).message, /^cluster\.json: ack: /);
  }
});

test('a missing file and a file that is not JSON are InvalidConfig', async () => {
  await withTempDir(async (dir) => {
    const missing = await loadConfig(join(dir, 'nope.json')).catch((e: unknown) => e);
    assert.ok(isReplicationError(missing, 'InvalidConfig'));
    assert.match(missing.message, /cannot read config file/);
    writeFileSync(join(dir, 'broken.json'), '{ "clusterId": ');
    const broken = await loadConfig(join(dir, 'broken.json')).catch((e: unknown) => e);
    assert.ok(isReplicationError(broken, 'InvalidConfig'));
    assert.match(broken.message, /is not valid JSON/);
    writeFileSync(join(dir, 'ok.json'), JSON.stringify(valid()));
    assert.is((await loadConfig(join(dir, 'ok.json'))).nodes.length, 3);
  });
});

test.run();
