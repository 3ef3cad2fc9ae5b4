// End to end with real processes: three `engram-repl node` children started
// from a config file on free loopback ports; writes over HTTP, reads from a
// replica, `status` / `promote` / `top` as CLI runs, a metrics scrape that
// parses as Prometheus text, every error path of the API with its status and
// code, and a graceful SIGTERM. Children are SIGKILLed by PID in `after`.
import { connect } from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseTcpAddress } from '../../src/adapters/tcpTransport.js';
import { ApiError } from '../../src/cli/apiClient.js';
import { MAX_BODY_BYTES } from '../../src/cli/http/httpApi.js';
import { ProcessCluster } from '../../src/cli/processCluster.js';
import { freePorts } from '../helpers/cluster.js';
import { waitFor } from '../helpers/waitFor.js';
import { runCli } from './runCli.js';

let cluster: ProcessCluster;

test.before(async () => {
  cluster = await ProcessCluster.create({
    prefix: 'engram-cli-test-',
    // A short ack timeout for the 504 path; a small write queue for the 503 path.
    tuning: { ackTimeoutMs: 400, writeQueueMaxEntries: 1000 },
    failover: { auto: true, timeoutMs: 3000 },
  });
  await cluster.startAll();
  // Until n1 has heard from a majority within its lease it answers writes with 421 (no primary known).
  await waitFor(async () => {
    const s = await cluster.api('n1').status();
    if (s.replicas.length !== 2 || s.replicas.some((r) => r.lastContactAgoMs === null)) return false;
    return cluster.api('n1').write('warmup', [{ id: 'w' }]).then(() => true, () => false);
  }, { timeoutMs: 30_000, intervalMs: 50, what: 'n1 heard from both replicas and accepts writes' });
});

test.after(async () => {
  await cluster.cleanup();
});

test('a write to the primary is acknowledged with numeric positions and read back from a replica', async () => {
  const result = await cluster.api('n1').write('notes', [{ id: 'm1', text: 'hello' }, { id: 'm2', text: 'world' }], 'quorum');
  assert.equal(Object.keys(result).sort(), ['count', 'lsn', 'seq']);
  assert.is(typeof result.lsn, 'number');
  assert.is(result.count, 2);
  const single = await fetch(`${cluster.url('n1')}/spaces/notes/entries`, { method: 'POST', body: JSON.stringify({ id: 'm3', text: 'one entry' }) });
  assert.is(single.status, 200);
  assert.is(((await single.json()) as { count: number }).count, 1);
  await waitFor(async () => (await cluster.api('n2').read('notes', 'm3')) !== undefined, { timeoutMs: 10_000, what: 'm3 on n2' });
  assert.equal(await cluster.api('n2').read('notes', 'm1'), { id: 'm1', text: 'hello' });
  const lookup = await cluster.api('n2').lookup('notes', ['m1', 'm2', 'nope']);
  assert.equal(lookup, { memories: { m1: { id: 'm1', text: 'hello' }, m2: { id: 'm2', text: 'world' } }, missing: ['nope'] });
  const [p, r] = [await cluster.api('n1').space('notes'), await cluster.api('n2').space('notes')];
  assert.equal(r, p);
  assert.equal(Object.keys(p).sort(), ['count', 'digest', 'lastSeq', 'space']);
});

test('GET /status and /healthz describe the node; engram-repl status prints a table and --json', async () => {
  const status = await cluster.api('n1').status();
  assert.is(status.role, 'primary');
  assert.is(status.primary, 'n1');
  assert.equal(status.replicas.map((r) => r.id).sort(), ['n2', 'n3']);
  const health = await (await fetch(`${cluster.url('n2')}/healthz`)).json();
  assert.equal(health, { ok: true, id: 'n2', role: 'replica' });
  const table = await runCli(['status', '--url', cluster.url('n1')]);
  assert.is(table.code, 0, table.stderr);
  assert.match(table.stdout, /node n1 {2}role primary {2}epoch 1/);
  assert.match(table.stdout, /replica +status +sent_lsn/);
  assert.match(table.stdout, /\nn2 +(Healthy|Lagging)/);
  const json = await runCli(['status', '--url', cluster.config.nodes[2]!.http, '--json']);
  assert.is(json.code, 0, json.stderr);
  assert.is((JSON.parse(json.stdout) as { role: string }).role, 'replica');
});

test('GET /metrics is Prometheus text with the expected metric names', async () => {
  const res = await fetch(`${cluster.url('n1')}/metrics`);
  assert.is(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
  const text = await res.text();
  const sample = /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*"(,[a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*")*\})? (-?[0-9.]+(e[+-]?[0-9]+)?|NaN|\+Inf|-Inf)$/;
  const names = new Set<string>();
  for (const line of text.split('\n').filter((l) => l.length > 0)) {
    if (line.startsWith('# HELP ')) continue;
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) {
      names.add(type[1]!);
      continue;
    }
    assert.ok(sample.test(line), `not a Prometheus sample line: ${line}`);
  }
  for (const name of ['engram_replication_lag_milliseconds', 'engram_replication_replica_status', 'engram_replication_epoch', 'engram_wal_fsync_seconds', 'engram_write_latency_seconds', 'engram_replication_acks_total']) {
    assert.ok(names.has(name), `missing ${name}`);
  }
  assert.match(text, /engram_replication_replica_status\{replica="n2",status="Healthy"\} 1/);
});

interface Case {
  name: string;
  node: string;
  method: string;
  path: string;
  body?: string;
  status: number;
  code: string;
  check?: (res: Response, body: { error: Record<string, unknown> }) => void;
}

const cases: Case[] = [
  {
    name: 'write to a replica', node: 'n2', method: 'POST', path: '/spaces/notes/entries', body: '{"id":"x"}', status: 421, code: 'NotPrimary',
    check: (res, body) => {
      assert.equal(body.error.primary, { id: 'n1', http: cluster.config.nodes[0]!.http });
      assert.is(res.headers.get('location'), cluster.url('n1'));
    },
  },
  { name: 'malformed JSON', node: 'n1', method: 'POST', path: '/spaces/notes/entries', body: '{"id":', status: 400, code: 'InvalidJson' },
  { name: 'empty body', node: 'n1', method: 'POST', path: '/spaces/notes/entries', body: '', status: 400, code: 'InvalidJson' },
  {
    name: 'space name with bad characters', node: 'n1', method: 'POST', path: '/spaces/bad%20name/entries', body: '{"id":"x"}', status: 400, code: 'InvalidEntry',
    check: (_, body) => assert.match(String(body.error.suggestion), /A-Z a-z 0-9 \. _ : -/),
  },
  { name: 'space name with bad characters (read)', node: 'n1', method: 'GET', path: '/spaces/a%2Fb', status: 400, code: 'InvalidEntry' },
  { name: 'entry without an id', node: 'n1', method: 'POST', path: '/spaces/notes/entries', body: '{"text":"no id"}', status: 400, code: 'InvalidEntry' },
  { name: 'empty array', node: 'n1', method: 'POST', path: '/spaces/notes/entries', body: '[]', status: 400, code: 'InvalidEntry' },
  { name: 'unknown ack mode', node: 'n1', method: 'POST', path: '/spaces/notes/entries?ack=most', body: '{"id":"x"}', status: 400, code: 'InvalidRequest' },
  { name: 'unknown query parameter', node: 'n1', method: 'GET', path: '/status?verbose=1', status: 400, code: 'InvalidRequest' },
  { name: 'bad percent-encoding', node: 'n1', method: 'GET', path: '/spaces/%E0%A4%A', status: 400, code: 'InvalidRequest' },
  { name: 'lookup without an array of ids', node: 'n1', method: 'POST', path: '/spaces/notes/lookup', body: '{"ids":["m1"]}', status: 400, code: 'InvalidRequest' },
  { name: 'missing memory', node: 'n1', method: 'GET', path: '/spaces/notes/memories/nope', status: 404, code: 'NotFound' },
  { name: 'unknown route', node: 'n1', method: 'GET', path: '/nope', status: 404, code: 'RouteNotFound' },
  {
    name: 'wrong method', node: 'n1', method: 'DELETE', path: '/status', status: 405, code: 'MethodNotAllowed',
    check: (res) => assert.is(res.headers.get('allow'), 'GET'),
  },
  { name: 'promotion while the primary is live', node: 'n3', method: 'POST', path: '/promote', status: 409, code: 'PromotionRefused' },
  { name: 'handover on a replica', node: 'n3', method: 'POST', path: '/handover?to=n2', status: 409, code: 'HandoverFailed' },
  { name: 'handover to an unknown node', node: 'n1', method: 'POST', path: '/handover?to=n9', status: 409, code: 'HandoverFailed' },
  {
    name: 'more entries than the write queue holds', node: 'n1', method: 'POST', path: '/spaces/notes/entries',
    body: JSON.stringify(Array.from({ length: 1001 }, (_, i) => ({ id: `q${i}` }))), status: 503, code: 'Overloaded',
    check: (res) => assert.is(res.headers.get('retry-after'), '1'),
  },
];

for (const c of cases) {
  test(`${c.method} ${c.path.slice(0, 60)} (${c.name}) -> ${c.status} ${c.code}`, async () => {
    const res = await fetch(`${cluster.url(c.node)}${c.path}`, { method: c.method, ...(c.body === undefined ? {} : { body: c.body }) });
    const body = (await res.json()) as { error: Record<string, unknown> };
    assert.is(res.status, c.status, JSON.stringify(body));
    assert.is(body.error.code, c.code);
    assert.is(typeof body.error.message, 'string');
    c.check?.(res, body);
  });
}

test('a body declared over the limit -> 413 PayloadTooLarge before the body is read, and the connection closed', async () => {
  // A raw request: fetch would stream the 4 MiB body and race the server's early answer.
  const { host, port } = parseTcpAddress(cluster.config.nodes[0]!.http);
  const socket = connect(port, host);
  let answer = '';
  socket.setEncoding('utf8').on('data', (d: string) => (answer += d));
  const closed = new Promise((resolve) => socket.on('close', resolve));
  socket.write(`POST /spaces/notes/entries HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\nContent-Length: ${MAX_BODY_BYTES + 1}\r\n\r\n`);
  await closed;
  assert.match(answer, /^HTTP\/1\.1 413 /);
  assert.match(answer, /connection: close/i);
  const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { error: { code: string } };
  assert.is(body.error.code, 'PayloadTooLarge');
});

test('ack=all while a replica is paused -> 504 AckTimeout (the write is durable on the primary)', async () => {
  cluster.signal('n3', 'SIGSTOP');
  try {
    const res = await fetch(`${cluster.url('n1')}/spaces/notes/entries?ack=all`, { method: 'POST', body: '{"id":"all-1"}' });
    const body = (await res.json()) as { error: { code: string } };
    assert.is(res.status, 504);
    assert.is(body.error.code, 'AckTimeout');
  } finally {
    cluster.signal('n3', 'SIGCONT');
  }
  assert.ok(await cluster.api('n1').read('notes', 'all-1'));
});

test('engram-repl top in a pipe prints one block per refresh with a lag sparkline', async () => {
  const run = await runCli(['top', '--url', cluster.url('n1'), '--count', '2']);
  assert.is(run.code, 0, run.stderr);
  assert.is(run.stdout.match(/engram-repl top/g)?.length, 2);
  assert.match(run.stdout, /write rate \d+ entries\/s/);
  assert.match(run.stdout, /n2 +\w+ +\d+ +\d+ +\d+ +[▁▂▃▄▅▆▇█]+/);
  assert.not.match(run.stdout, /\x1b\[/);
});

test('CLI usage: --help exits 0, an unknown flag exits 2 naming it, a missing flag is named, an unreachable node exits 1', async () => {
  for (const command of ['node', 'status', 'promote', 'handover', 'top', 'demo']) {
    const help = await runCli([command, '--help']);
    assert.is(help.code, 0, `${command} --help: ${help.stderr}`);
    assert.match(help.stdout, new RegExp(`usage: engram-repl ${command}`));
  }
  const unknown = await runCli(['status', '--url', cluster.url('n1'), '--verbose']);
  assert.is(unknown.code, 2);
  assert.match(unknown.stderr, /unknown flag --verbose/);
  const missing = await runCli(['promote']);
  assert.is(missing.code, 2);
  assert.match(missing.stderr, /missing required flag --url/);
  const count = await runCli(['top', '--url', cluster.url('n1'), '--count', 'zero']);
  assert.is(count.code, 2);
  assert.match(count.stderr, /--count zero: must be a whole number/);
  const command = await runCli(['launch']);
  assert.is(command.code, 2);
  assert.match(command.stderr, /unknown command launch/);
  const [closedPort] = await freePorts(1);
  const unreachable = await runCli(['status', '--url', `http://127.0.0.1:${closedPort}`]);
  assert.is(unreachable.code, 1);
  assert.match(unreachable.stderr, /Unreachable/);
});

test('engram-repl node refuses a bad config naming the field, and an id not in it', async () => {
  const bad = await runCli(['node', '--config', cluster.configPath, '--id', 'n9', '--data', `${cluster.dir}/n9`]);
  assert.is(bad.code, 2);
  assert.match(bad.stderr, /--id n9 is not a node of/);
  const missing = await runCli(['node', '--config', `${cluster.dir}/none.json`, '--id', 'n1', '--data', `${cluster.dir}/x`]);
  assert.is(missing.code, 1);
  assert.match(missing.stderr, /InvalidConfig: cannot read config file/);
});

test('promote: refused while the primary is live (exit 1), --force moves the primary; the old one answers 421 naming the new', async () => {
  const refused = await runCli(['promote', '--url', cluster.url('n2')]);
  assert.is(refused.code, 1);
  assert.match(refused.stderr, /PromotionRefused/);
  assert.match(refused.stderr, /--force/);
  const forced = await runCli(['promote', '--url', cluster.url('n2'), '--force']);
  assert.is(forced.code, 0, forced.stderr);
  assert.match(forced.stdout, /n2 is primary of epoch \d+/);
  let redirect: ApiError | undefined;
  await waitFor(async () => {
    redirect = await cluster.api('n1').write('notes', [{ id: 'after-promote' }]).then(() => undefined, (e: unknown) => e as ApiError);
    return redirect?.status === 421 && redirect.primary?.id === 'n2';
  }, { timeoutMs: 15_000, what: 'n1 redirects writes to n2' });
  assert.equal(redirect?.primary, { id: 'n2', http: cluster.config.nodes[1]!.http });
  const written = await cluster.api('n2').write('notes', [{ id: 'on-n2' }], 'quorum');
  assert.ok(written.lsn > 0);
});

test('handover: the primary (n2) hands over to n1; n1 then takes writes and holds what n2 acknowledged', async () => {
  const before = await cluster.api('n2').status();
  await waitFor(async () => (await cluster.api('n2').status()).replicas.find((r) => r.id === 'n1')?.appliedLsn === before.lsn,
    { timeoutMs: 15_000, what: 'n1 streaming from n2 and caught up' });
  const run = await runCli(['handover', '--url', cluster.url('n2'), '--to', 'n1']);
  assert.is(run.code, 0, run.stderr);
  assert.match(run.stdout, new RegExp(`n2 handed over: n1 is primary of epoch ${before.epoch + 1}`));
  assert.is((await cluster.api('n1').status()).role, 'primary');
  assert.equal(await cluster.api('n1').read('notes', 'on-n2'), { id: 'on-n2' });
  const written = await cluster.api('n1').write('notes', [{ id: 'after-handover' }], 'quorum');
  assert.ok(written.lsn > before.lsn);
});

test('SIGTERM shuts a node down gracefully: stopping, stopped, exit 0', async () => {
  cluster.signal('n3', 'SIGTERM');
  assert.is(await cluster.nodes.get('n3')!.exited, 0);
  const lines = cluster.events.filter((e) => e.node === 'n3').map((e) => e.event);
  assert.ok(lines.includes('stopping') && lines.includes('stopped'), lines.join(','));
});

test.run();
