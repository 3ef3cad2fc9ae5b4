// The Grafana dashboard (docs/grafana/engram-replication.json) and the
// metric table of docs/operations.md against the metrics a real node
// registers: every query names only series the node exposes (histograms as
// _bucket/_count/_sum), every panel uses the Prometheus datasource variable,
// and every registered metric is documented.
import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { withCluster } from '../helpers/cluster.js';

interface Dashboard {
  templating: { list: { name: string; type: string; query: unknown; definition?: string }[] };
  panels: { type: string; title: string; datasource?: { uid: string }; targets?: { expr: string; datasource?: { uid: string } }[] }[];
}

const dashboard = JSON.parse(readFileSync('docs/grafana/engram-replication.json', 'utf8')) as Dashboard;

/** Series names a node exposes, from its registry's exposition text (`# TYPE name kind`). */
async function exposedSeries(): Promise<{ series: Set<string>; metrics: string[] }> {
  let text = '';
  await withCluster({ size: 1 }, async (c) => {
    text = await c.primary.register.metrics();
  });
  const series = new Set<string>();
  const metrics: string[] = [];
  for (const [, name, kind] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    metrics.push(name!);
    if (kind === 'histogram') for (const suffix of ['_bucket', '_count', '_sum']) series.add(name! + suffix);
    else series.add(name!);
  }
  return { series, metrics };
}

function queries(): string[] {
  const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
  const variables = dashboard.templating.list.map((v) => v.definition ?? '').filter((d) => d !== '');
  return [...exprs, ...variables];
}

test('every query of the dashboard names only series a real node exposes', async () => {
  const { series, metrics } = await exposedSeries();
  assert.ok(metrics.length >= 20, `a node registers its metrics (${metrics.length} found)`);
  const all = queries();
  assert.ok(all.length >= 20, `${all.length} queries`);
  const unknown = all.flatMap((q) => [...q.matchAll(/\bengram_[a-z0-9_]+/g)].map((m) => m[0]).filter((name) => !series.has(name)).map((name) => `${name} in ${q}`));
  assert.equal(unknown, [], 'queries naming series no node exposes');
  for (const q of all) assert.match(q, /\bengram_/, `every query reads an engram metric: ${q}`);
});

test('every panel reads from the Prometheus datasource variable', () => {
  const variable = dashboard.templating.list.find((v) => v.type === 'datasource');
  assert.equal({ name: variable?.name, query: variable?.query }, { name: 'datasource', query: 'prometheus' });
  for (const p of dashboard.panels.filter((x) => x.type !== 'row')) {
    assert.is(p.datasource?.uid, '${datasource}', p.title);
    for (const t of p.targets ?? []) assert.is(t.datasource?.uid, '${datasource}', p.title);
  }
});

test('every metric a node registers is in the metric table of docs/operations.md and on the dashboard', async () => {
  const { metrics } = await exposedSeries();
  const doc = readFileSync('docs/operations.md', 'utf8');
  assert.equal(metrics.filter((m) => !doc.includes(`| \`${m}\` |`)), [], 'metrics missing from docs/operations.md');
  const used = queries().join('\n');
  assert.equal(metrics.filter((m) => !used.includes(m)), [], 'metrics with no panel');
});

test.run();
