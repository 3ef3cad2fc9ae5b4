/**
 * One-way imports (DESIGN §3, STYLE practices 1–3), checked over every .ts
 * file under src/: static `import … from`, `export … from`, side-effect
 * imports, `import()` and `require()`. Type-only imports count too: a layer
 * that may not depend on another may not name its types either.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { posix } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

type Layer = 'errors' | 'types' | 'ports' | 'index' | 'wire' | 'machines' | 'log' | 'store' | 'actors' | 'adapters' | 'testing' | 'cli';

interface Rule {
  /** When set, the only layers this one may import (itself included). */
  onlyLayers?: Layer[];
  /** Layers this one may never import. */
  neverLayers?: Layer[];
  /** When set, the only npm packages this layer may import (subpaths included). */
  onlyPackages?: string[];
  /** May it import `node:*` builtins? */
  node: boolean;
  /** Pure layers must not read the clock, randomness or timers directly. */
  pure?: boolean;
}

/** The layering, top of the stack last. Add a row when adding a folder under src/. */
const RULES: Record<Layer, Rule> = {
  errors:   { onlyLayers: ['errors', 'types'], onlyPackages: [], node: false, pure: true },
  types:    { onlyLayers: ['errors', 'types'], onlyPackages: [], node: false, pure: true },
  ports:    { onlyLayers: ['errors', 'types', 'ports'], onlyPackages: [], node: false },
  wire:     { onlyLayers: ['wire', 'errors', 'types'], onlyPackages: ['msgpackr', '@node-rs/crc32'], node: false, pure: true },
  machines: { onlyLayers: ['machines', 'errors', 'types'], onlyPackages: ['xstate'], node: false, pure: true },
  log:      { neverLayers: ['machines', 'store', 'actors', 'adapters', 'testing', 'cli', 'index'], node: false },
  store:    { neverLayers: ['machines', 'actors', 'adapters', 'testing', 'cli', 'index'], node: false },
  actors:   { neverLayers: ['adapters', 'testing', 'cli', 'index'], node: false }, // adapters are injected
  testing:  { neverLayers: ['cli', 'index'], node: false }, // simulated network, disk and clock: no node:*
  adapters: { neverLayers: ['testing', 'cli', 'index'], node: true }, // the only node:* users, with cli
  index:    { neverLayers: ['testing', 'cli'], node: false }, // the public surface; ./testing is separate
  cli:      { neverLayers: ['testing'], node: true },
};

/** Direct use of the clock, randomness or timers (instead of injected ports). */
const IMPURE: [RegExp, string][] = [
  [/\bDate\.now\s*\(/, 'Date.now('],
  [/\bnew\s+Date\s*\(\s*\)/, 'new Date()'],
  [/\bMath\.random\s*\(/, 'Math.random('],
  [/(?<![\w$.])set(?:Timeout|Interval|Immediate)\s*\(/, 'setTimeout/setInterval/setImmediate('],
  [/\bglobalThis\.set(?:Timeout|Interval|Immediate)\b/, 'globalThis timers'],
];

type Target = { kind: 'node' | 'package' | 'computed'; name: string } | { kind: 'layer'; name: Layer | 'unknown' };
interface Import { specifier: string; line: number }

const ROOT_FILES: Record<string, Layer> = { 'errors.ts': 'errors', 'types.ts': 'types', 'ports.ts': 'ports', 'index.ts': 'index' };

/** The layer of a path relative to src/ (`wire/record.ts`), or 'unknown'. */
function layerOf(rel: string): Layer | 'unknown' {
  const [first, ...rest] = rel.split('/');
  if (rest.length === 0) return ROOT_FILES[first!] ?? 'unknown';
  return first! in RULES ? (first as Layer) : 'unknown';
}

/** Source with comments blanked out (strings and newlines kept). */
export function stripComments(src: string): string {
  let out = '';
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === '/' && src[i + 1] === '/') {
      while (i < src.length && src[i] !== '\n') i++;
    } else if (c === '/' && src[i + 1] === '*') {
      const end = src.indexOf('*/', i + 2);
      const stop = end < 0 ? src.length : end + 2;
      out += src.slice(i, stop).replace(/[^\n]/g, ' ');
      i = stop;
    } else if (c === '"' || c === "'" || c === '`') {
      let j = i + 1;
      while (j < src.length && src[j] !== c) j += src[j] === '\\' ? 2 : 1;
      out += src.slice(i, j + 1);
      i = j + 1;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

const IMPORT_PATTERNS = [
  /\b(?:import|export)\b[^'"`;]*?\bfrom\s*(['"])([^'"\n]+)\1/g, // import x from 'a'; export * from 'a'
  /\bimport\s*(['"])([^'"\n]+)\1/g, // import 'a'
  /\brequire\s*\(\s*(['"])([^'"\n]+)\1\s*\)/g, // require('a'), import x = require('a')
];

/** Every import specifier in `src`; computed dynamic imports as `<computed: …>`. */
export function findImports(src: string): Import[] {
  const code = stripComments(src);
  const lineAt = (index: number) => code.slice(0, index).split('\n').length;
  const found: Import[] = [];
  for (const pattern of IMPORT_PATTERNS) {
    for (const m of code.matchAll(pattern)) found.push({ specifier: m[2]!, line: lineAt(m.index!) });
  }
  for (const m of code.matchAll(/\bimport\s*\(\s*([^)]*?)\s*\)/g)) {
    const literal = /^(['"`])([^'"`$]+)\1$/.exec(m[1]!);
    found.push({ specifier: literal ? literal[2]! : `<computed: ${m[1]}>`, line: lineAt(m.index!) });
  }
  return found;
}

function classify(fromRel: string, specifier: string): Target {
  if (specifier.startsWith('<computed')) return { kind: 'computed', name: specifier };
  if (specifier.startsWith('node:') || builtinModules.includes(specifier.split('/')[0]!)) return { kind: 'node', name: specifier };
  if (specifier.startsWith('.')) {
    const resolved = posix.normalize(posix.join(posix.dirname(fromRel), specifier)).replace(/\.js$/, '.ts');
    return { kind: 'layer', name: resolved.startsWith('..') ? 'unknown' : layerOf(resolved) };
  }
  const parts = specifier.split('/');
  return { kind: 'package', name: specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]! };
}

/** The broken rules of one file (path relative to src/), as readable lines. */
export function checkFile(rel: string, src: string): string[] {
  const layer = layerOf(rel);
  if (layer === 'unknown') return [`src/${rel}: belongs to no layer; add its folder to RULES in test/layering.test.ts`];
  const rule = RULES[layer];
  const problems: string[] = [];
  for (const { specifier, line } of findImports(src)) {
    const t = classify(rel, specifier);
    const where = `src/${rel}:${line} imports '${specifier}'`;
    if (t.kind === 'node' && !rule.node) problems.push(`${where}: src/${layer} may not import node:* (only adapters and cli may)`);
    if (t.kind === 'computed' && (rule.onlyLayers || rule.onlyPackages)) problems.push(`${where}: src/${layer} may not import a computed specifier`);
    if (t.kind === 'package' && rule.onlyPackages && !rule.onlyPackages.includes(t.name)) {
      problems.push(`${where}: src/${layer} may import only ${rule.onlyPackages.join(', ') || 'no packages'}`);
    }
    if (t.kind === 'layer') {
      if (rule.onlyLayers && !rule.onlyLayers.includes(t.name as Layer)) problems.push(`${where}: src/${layer} may import only ${rule.onlyLayers.join(', ')} (target is ${t.name})`);
      if (rule.neverLayers?.includes(t.name as Layer)) problems.push(`${where}: src/${layer} may not import ${t.name}`);
    }
  }
  if (rule.pure) {
    const code = stripComments(src);
    for (const [pattern, what] of IMPURE) {
      const m = pattern.exec(code);
      if (m) problems.push(`src/${rel}:${code.slice(0, m.index).split('\n').length} uses ${what}: src/${layer} gets time, randomness and timers through ports`);
    }
  }
  return problems;
}

const srcDir = new URL('../src/', import.meta.url).pathname;

function listTs(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listTs(`${dir}${e.name}/`, `${prefix}${e.name}/`) : e.name.endsWith('.ts') ? [`${prefix}${e.name}`] : []);
}

test('the checker flags synthetic bad imports and passes clean ones', () => {
  const bad = [
    "import { readFileSync } from 'node:fs';",
    "import type { Segment } from '../log/segment.js';",
    "export * from '../adapters/tcp.js';",
    'const net = await import("net");',
    "import 'prom-client';",
    'const later = setTimeout(() => {}, Date.now() % 7);',
  ].join('\n');
  const problems = checkFile('wire/evil.ts', bad);
  for (const needle of ["'node:fs'", "'../log/segment.js'", "'../adapters/tcp.js'", "'net'", "'prom-client'", 'setTimeout', 'Date.now(']) {
    assert.ok(problems.some((p) => p.includes(needle)), `checker missed ${needle}:\n${problems.join('\n')}`);
  }
  assert.equal(checkFile('machines/m.ts', "import { foo } from '../wire/index.js'").length, 1);
  assert.equal(checkFile('actors/a.ts', "import { tcp } from '../adapters/tcp.js'").length, 1);
  assert.equal(checkFile('testing/sim.ts', "import { Socket } from 'node:net'").length, 1);
  assert.equal(checkFile('frobs/x.ts', '').length, 1, 'a file outside every layer is reported');
  const clean = "// import x from 'node:fs'\n/* export * from '../log/x.js' */\nimport { crc32c } from './checksum.js';\nconst s = 'from \"node:fs\"';\nclock.setTimeout(f, 1);";
  assert.equal(checkFile('wire/ok.ts', clean), []);
  assert.equal(findImports("import {\n  a,\n  type B,\n} from 'x';\nexport { c } from \"y\";\nimport('z');").map((i) => i.specifier), ['x', 'y', 'z']);
});

test('every file under src/ keeps to the layering', () => {
  const files = listTs(srcDir);
  assert.ok(files.length >= 10, `expected the source tree, found ${files.length} files`);
  let imports = 0;
  const problems: string[] = [];
  for (const rel of files) {
    const src = readFileSync(`${srcDir}${rel}`, 'utf8');
    imports += findImports(src).length;
    problems.push(...checkFile(rel, src));
  }
  assert.ok(imports >= files.length, `only ${imports} imports found in ${files.length} files: is the parser matching anything?`);
  if (problems.length > 0) console.error(`layering violations:\n  ${problems.join('\n  ')}`);
  assert.equal(problems, [], `${problems.length} layering violation(s):\n${problems.join('\n')}`);
});

test.run();
