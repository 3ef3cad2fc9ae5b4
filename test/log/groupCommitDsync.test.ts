// Group commit through O_DSYNC handles (the default syncMethod): one durable
// write per group, no separate fdatasync, and never a write without a sync
// on a handle that was not opened with O_DSYNC.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type Log, openLog, segmentName } from '../../src/log/index.js';
import { RecordKind } from '../../src/types.js';
import { RecordingFs } from '../helpers/recordingFs.js';
import { withTempDir } from '../helpers/tempDir.js';
import { fileBytes, recordRanges } from './logFixtures.js';

const PAYLOAD = new Uint8Array(60).fill(2);
const SEG1 = segmentName(1);

function add(log: Log, i: number): number {
  return log.append('space', `k${i}`, RecordKind.Put, i, PAYLOAD, i);
}

async function openRecorded(dir: string) {
  const fs = new RecordingFs();
  const log = await openLog({ dir, fs, segmentBytes: 1 << 20, preallocate: false });
  return { fs, log };
}

test('the active segment is opened with O_DSYNC and a group is one write, no fdatasync', () => withTempDir(async (dir) => {
  const { fs, log } = await openRecorded(dir);
  const open = fs.events.find((e) => e.op === 'open' && e.path.endsWith(SEG1));
  assert.is(open?.to, 'dsync', 'segment handle opened with dsync');
  fs.clear();
  const syncs = [];
  for (let i = 1; i <= 300; i++) {
    add(log, i);
    syncs.push(log.sync());
  }
  await Promise.all(syncs);
  assert.equal(fs.ops(SEG1), ['write'], 'one write, nothing else');
  assert.is(fs.only('datasync').length, 0);
  await log.close();
}));

test('no sync() resolves before the O_DSYNC write holding its record has completed', () => withTempDir(async (dir) => {
  const { fs, log } = await openRecorded(dir);
  const path = `${dir}/${SEG1}`;
  const seen: { lsn: number; durable: number }[] = [];
  const pending: Promise<void>[] = [];
  let i = 0;
  for (const burst of [1, 9, 40, 1, 3]) {
    for (let k = 0; k < burst; k++) {
      const lsn = add(log, ++i);
      pending.push(log.sync().then(() => void seen.push({ lsn, durable: fs.durableEnd(path) })));
    }
    await pending[pending.length - 1];
  }
  await log.close();
  const ranges = recordRanges(await fileBytes(dir, SEG1));
  assert.is(seen.length, i);
  for (const { lsn, durable } of seen) {
    assert.ok(durable >= ranges[lsn - 1]!.end, `LSN ${lsn} resolved with only ${durable} bytes durable`);
  }
}));

test('after truncateAfter, a segment whose handle a reader opened still gets an fdatasync', () => withTempDir(async (dir) => {
  const fs = new RecordingFs();
  let log = await openLog({ dir, fs, segmentBytes: 1024, preallocate: false });
  for (let i = 1; i <= 40; i++) add(log, i);
  await log.sync();
  await log.close();
  log = await openLog({ dir, fs, segmentBytes: 1024, preallocate: false });
  // Read record 2 so its (older) segment gets a plain read handle, then cut back into it.
  assert.ok((await log.read(2, 100)) !== undefined);
  await log.truncateAfter(3);
  fs.clear();
  add(log, 4);
  await log.sync();
  const path = `${dir}/${SEG1}`;
  const writes = fs.only('write', SEG1);
  assert.is(writes.length, 1);
  assert.is(writes[0]!.to, '', 'the write went through the reader-opened (non-dsync) handle');
  assert.is(fs.only('datasync', SEG1).length, 1, 'so it was followed by an fdatasync');
  assert.ok(fs.durableEnd(path) > 0);
  await log.close();
}));

test.run();
