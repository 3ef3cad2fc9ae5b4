import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { nodeFileSystem } from '../../src/adapters/nodeFileSystem.js';
import { META_FILE, readMetaFile, writeMetaFile } from '../../src/log/index.js';
import { RecordingFs } from '../helpers/recordingFs.js';
import { withTempDir } from '../helpers/tempDir.js';
import { rejectsWith } from './logFixtures.js';

const OLD = { nodeId: 'n1', epoch: 3, votedFor: { 3: 'n2' }, history: [{ epoch: 1, startLsn: 1 }, { epoch: 3, startLsn: 90 }] };
const NEW = { nodeId: 'n1', epoch: 4, votedFor: { 3: 'n2', 4: 'n1' }, note: 'ünïcødé ✓', history: [{ epoch: 4, startLsn: 120 }] };

test('writeMetaFile / readMetaFile round trip, and a rewrite replaces the contents', () => withTempDir(async (dir) => {
  await writeMetaFile(nodeFileSystem, dir, OLD);
  assert.equal(await readMetaFile(nodeFileSystem, dir), OLD);
  await writeMetaFile(nodeFileSystem, dir, NEW);
  assert.equal(await readMetaFile(nodeFileSystem, dir), NEW);
  const text = await readFile(join(dir, META_FILE), 'utf8');
  assert.ok(text.includes('"epoch": 4'), 'stored as readable JSON');
}));

test('a missing metadata file reads as undefined', () => withTempDir(async (dir) => {
  assert.is(await readMetaFile(nodeFileSystem, dir), undefined);
  assert.is(await readMetaFile(nodeFileSystem, join(dir, 'no-such-dir')), undefined);
}));

test('the write sequence is temp write, datasync, rename over the real file, directory fsync', () => withTempDir(async (dir) => {
  const fs = new RecordingFs();
  await writeMetaFile(fs, dir, OLD);
  const ops = fs.events.filter((e) => !e.op.includes(':') && ['write', 'datasync', 'rename', 'syncDir'].includes(e.op));
  assert.equal(ops.map((e) => e.op), ['write', 'datasync', 'rename', 'syncDir']);
  assert.ok(ops[0]!.path.endsWith('meta.json.tmp'), 'written to a temp file');
  assert.ok(ops[1]!.path.endsWith('meta.json.tmp'), 'the temp file is synced');
  assert.ok(ops[2]!.path.endsWith('meta.json.tmp') && ops[2]!.to.endsWith(`/${META_FILE}`), 'then renamed');
  assert.is(ops[3]!.path, dir, 'and the directory synced');
  assert.ok(fs.only('datasync:done')[0]!.seq < ops[2]!.seq, 'rename only after the data is durable');
}));

test('a crash between write and rename leaves the old contents', () => withTempDir(async (dir) => {
  await writeMetaFile(nodeFileSystem, dir, OLD);
  // Make a complete new file in the temp slot, then "crash" before the rename.
  const scratch = join(dir, 'scratch');
  await mkdir(scratch);
  await writeMetaFile(nodeFileSystem, scratch, NEW);
  await writeFile(join(dir, 'meta.json.tmp'), await readFile(join(scratch, META_FILE)));
  assert.equal(await readMetaFile(nodeFileSystem, dir), OLD, 'the left-over temp file is ignored');
  // A later write still works and replaces the left-over temp file.
  await writeMetaFile(nodeFileSystem, dir, { epoch: 5 });
  assert.equal(await readMetaFile(nodeFileSystem, dir), { epoch: 5 });
}));

test('a crash after the rename leaves the new contents', () => withTempDir(async (dir) => {
  await writeMetaFile(nodeFileSystem, dir, OLD);
  const scratch = join(dir, 'scratch');
  await mkdir(scratch);
  await writeMetaFile(nodeFileSystem, scratch, NEW);
  await writeFile(join(dir, 'meta.json.tmp'), await readFile(join(scratch, META_FILE)));
  await rename(join(dir, 'meta.json.tmp'), join(dir, META_FILE)); // crash right after this
  assert.equal(await readMetaFile(nodeFileSystem, dir), NEW);
}));

test('a failed datasync of the temp file leaves the old contents in place', () => withTempDir(async (dir) => {
  await writeMetaFile(nodeFileSystem, dir, OLD);
  const fs = new RecordingFs();
  fs.failOn('datasync');
  let failed = false;
  await writeMetaFile(fs, dir, NEW).catch(() => (failed = true));
  assert.ok(failed, 'writeMetaFile rejects when the temp file cannot be synced');
  assert.is(fs.only('rename').length, 0, 'never renamed');
  assert.equal(await readMetaFile(nodeFileSystem, dir), OLD);
}));

test('metadata without a JSON form is refused before anything is written', () => withTempDir(async (dir) => {
  await writeMetaFile(nodeFileSystem, dir, OLD);
  await rejectsWith(writeMetaFile(nodeFileSystem, dir, undefined), 'InvalidEntry');
  await rejectsWith(writeMetaFile(nodeFileSystem, dir, () => 1), 'InvalidEntry');
  assert.equal(await readMetaFile(nodeFileSystem, dir), OLD);
}));

test('a damaged metadata file is Corruption', () => withTempDir(async (dir) => {
  await writeMetaFile(nodeFileSystem, dir, OLD);
  const path = join(dir, META_FILE);
  const good = await readFile(path, 'utf8');

  await writeFile(path, good.replace('"nodeId": "n1"', '"nodeId": "n9"'));
  const err = await rejectsWith(readMetaFile(nodeFileSystem, dir), 'Corruption');
  assert.ok(err.message.includes(META_FILE), err.message);
  assert.is(err.context?.file, path);

  await writeFile(path, good.slice(0, good.length >> 1));
  await rejectsWith(readMetaFile(nodeFileSystem, dir), 'Corruption');

  await writeFile(path, JSON.stringify({ hello: 'world' }));
  await rejectsWith(readMetaFile(nodeFileSystem, dir), 'Corruption');

  await writeFile(path, '');
  await rejectsWith(readMetaFile(nodeFileSystem, dir), 'Corruption');
}));

test.run();
