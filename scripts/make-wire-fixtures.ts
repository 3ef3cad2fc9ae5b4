/**
 * Writes the golden wire fixtures `test/fixtures/wire/*.bin` from the inputs
 * in `test/fixtures/wire/inputs.ts`:
 *
 *   node --import tsx scripts/make-wire-fixtures.ts
 *
 * Run it only when the wire format changes on purpose; commit the new files
 * with the change. `test/wire/golden.test.ts` fails on any other difference.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeFixtures } from '../test/fixtures/wire/inputs.js';

const dir = new URL('../test/fixtures/wire/', import.meta.url).pathname;
mkdirSync(dir, { recursive: true });
for (const old of readdirSync(dir).filter((f) => f.endsWith('.bin'))) rmSync(join(dir, old));
const fixtures = encodeFixtures();
for (const [name, bytes] of fixtures) {
  writeFileSync(join(dir, `${name}.bin`), bytes);
  console.log(`${name}.bin  ${bytes.length} bytes`);
}
writeFileSync(join(dir, 'README.md'), [
  '# Golden wire fixtures',
  '',
  'Made by `node --import tsx scripts/make-wire-fixtures.ts` from the fixed inputs in `inputs.ts`',
  '(a record, a BATCH frame, and one frame of every other message kind; fixed timestamps).',
  '`test/wire/golden.test.ts` decodes each file and re-encodes the same inputs byte for byte,',
  'so an accidental change to the wire format fails the tests. Regenerate only for a deliberate',
  'format change, and commit the new files with it.',
  '',
  ...[...fixtures].map(([name, bytes]) => `- \`${name}.bin\` (${bytes.length} bytes)`),
  '',
].join('\n'));
console.log(`wrote ${fixtures.size} fixtures and README.md to ${dir}`);
