// docs/machines.md is generated from the machines: it must match the
// generator's output, so changing a machine without regenerating fails here.
// Regenerate with `node --import tsx scripts/machine-diagrams.ts`.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMachine } from 'xstate';
import {
  MACHINES_DOC_PATH,
  exportedMachines,
  main,
  mermaidOf,
  renderMachinesDoc,
  stateTableOf,
  titleOf,
} from '../../scripts/machine-diagrams.js';

const section = (doc: string, title: string): string => {
  const start = doc.indexOf(`## ${title}\n`);
  assert.ok(start >= 0, `no section ${title}`);
  const end = doc.indexOf('\n## ', start + 1);
  return doc.slice(start, end < 0 ? undefined : end);
};

test('docs/machines.md is up to date (run scripts/machine-diagrams.ts if not)', () => {
  assert.fixture(readFileSync(MACHINES_DOC_PATH, 'utf8'), renderMachinesDoc());
});

test('the doc opens with how to regenerate it and covers every exported machine', () => {
  const doc = renderMachinesDoc();
  assert.ok(doc.startsWith('# State machines\n'));
  assert.match(doc, 'node --import tsx scripts/machine-diagrams.ts');
  const machines = exportedMachines();
  assert.ok(machines.some(([name]) => name === 'replicaHealthMachine'));
  for (const [, machine] of machines) assert.match(doc, `## ${titleOf(machine.id)}\n`);
});

test('the Replica health diagram and table show all four statuses', () => {
  const part = section(renderMachinesDoc(), 'Replica health');
  const diagram = part.slice(part.indexOf('```mermaid'), part.indexOf('```', part.indexOf('```mermaid') + 3));
  assert.match(diagram, 'stateDiagram-v2');
  for (const status of ['Healthy', 'Lagging', 'Degraded', 'Failed']) {
    assert.match(diagram, `state "${status}" as ${status}`);
    assert.match(part, `| \`${status}\` |`);
  }
  assert.match(diagram, 'Healthy --> Lagging : lag.sample [lagAtLeastForGrace(laggingLagMs)]');
  assert.match(diagram, 'Healthy --> Failed : failure [failureLimitReached]');
  assert.match(diagram, 'Failed_Disconnected --> Failed_Reconnected : connected');
});

test('the generator walks nested and parallel states, guards, after delays and always', () => {
  const machine = createMachine({
    id: 'sampleLink',
    initial: 'idle',
    states: {
      idle: { description: 'Nothing | yet', on: { go: { target: 'busy', guard: { type: 'ready', params: { n: 2 } } } } },
      busy: {
        initial: 'a',
        states: { a: { after: { 250: 'b' } }, b: { always: { target: '#sampleLink.done', guard: 'finished' } } },
        on: { tick: { actions: 'count' } },
      },
      both: { type: 'parallel', states: { x: {}, y: {} } },
      done: { type: 'final' },
    },
  });
  const diagram = mermaidOf(machine);
  assert.match(diagram, '[*] --> idle');
  assert.match(diagram, 'idle --> busy : go [ready(2)]');
  assert.match(diagram, 'state busy {');
  assert.match(diagram, 'busy_a --> busy_b : after 250 ms');
  assert.match(diagram, 'busy_b --> done : always [finished]');
  assert.match(diagram, 'busy --> busy : tick');
  assert.match(diagram, '  --\n');
  assert.match(diagram, 'done --> [*]');
  const table = stateTableOf(machine);
  assert.match(table, '| `idle` | Nothing \\| yet | go [ready(2)] -> busy | — |');
  assert.match(table, '| `busy` | — | — | tick / count |');
  assert.is(titleOf('replicaHealth'), 'Replica health');
});

test('--check exits 1 on a stale file and 0 once rewritten', () => {
  const dir = mkdtempSync(join(tmpdir(), 'machines-doc-'));
  const file = join(dir, 'machines.md');
  const quiet = { log: console.log, error: console.error };
  console.log = console.error = () => {};
  try {
    writeFileSync(file, 'stale\n');
    assert.is(main(['--check'], file), 1);
    assert.is(main([], file), 0);
    assert.is(main(['--check'], file), 0);
    assert.is(readFileSync(file, 'utf8'), renderMachinesDoc());
  } finally {
    Object.assign(console, quiet);
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
