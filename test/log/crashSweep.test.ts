/**
 * Crash-consistency sweep: for every byte length k of the last segment, the
 * log as a crash could leave it (the file cut at k, or everything after k
 * overwritten with junk) must reopen with exactly the records that lie wholly
 * before k, accept new appends at lastLsn + 1, and keep them across a reopen.
 */
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { nodeFileSystem } from '../../src/adapters/nodeFileSystem.js';
import { type Log, openLog, parseSegmentName } from '../../src/log/index.js';
import { RecordKind } from '../../src/types.js';
import { withTempDir } from '../helpers/tempDir.js';
import { fileBytes, readAll, recordRanges, seededRandom, segmentFiles, testSeed } from './logFixtures.js';

const seed = testSeed(0x5eed05);
console.log(`crashSweep seed ${seed} (replay with SEED=${seed})`);
const SEGMENT_BYTES = 1024;
const open = (dir: string): Promise<Log> => openLog({ dir, fs: nodeFileSystem, segmentBytes: SEGMENT_BYTES, preallocate: false });

interface Pristine {
  older: { name: string; bytes: Uint8Array }[];
  last: { name: string; bytes: Uint8Array; firstLsn: number };
  /** Every record's bytes, in LSN order. */
  all: Uint8Array;
}

async function buildPristine(dir: string): Promise<Pristine> {
  const random = seededRandom(seed);
  const log = await open(dir);
  for (let i = 1; i <= 40; i++) {
    log.epoch = 1 + (i >> 4);
    log.append('sp', `key-${i}`, RecordKind.Put, i, new Uint8Array(5 + Math.floor(random() * 30)).fill(i), 1000 + i);
  }
  await log.sync();
  await log.close();
  const files = await Promise.all((await segmentFiles(dir)).map(async (name) => ({ name, bytes: await fileBytes(dir, name) })));
  assert.ok(files.length >= 3, `about three segments (${files.length})`);
  const last = files.pop()!;
  return { older: files, last: { ...last, firstLsn: parseSegmentName(last.name)! }, all: Buffer.concat([...files, last].map((f) => f.bytes)) };
}

/** Every durable record's bytes, concatenated. */
async function rawAll(log: Log): Promise<Buffer> {
  const cursor = log.cursor(log.firstLsn);
  const parts: Uint8Array[] = [];
  for (let r = await cursor.next(1 << 20); r !== undefined; r = await cursor.next(1 << 20)) parts.push(r.bytes.slice());
  return Buffer.concat(parts);
}

async function sweep(variant: 'cut' | 'junk'): Promise<number> {
  return withTempDir(async (root) => {
    const pristine = await buildPristine(join(root, 'pristine'));
    const work = join(root, 'work');
    const ranges = recordRanges(pristine.last.bytes);
    const olderBytes = pristine.all.length - pristine.last.bytes.length;
    const random = seededRandom(seed + 1);
    // The older segments are never written by recovery or by the appends
    // below, so they are copied once; each round removes everything else.
    await mkdir(work);
    for (const f of pristine.older) await writeFile(join(work, f.name), f.bytes);
    const keep = new Set(pristine.older.map((f) => f.name));
    for (let k = 0; k <= pristine.last.bytes.length; k++) {
      for (const name of await readdir(work)) if (!keep.has(name)) await rm(join(work, name));
      let damaged = pristine.last.bytes.slice(0, k);
      if (variant === 'junk') {
        const junk = Uint8Array.from({ length: pristine.last.bytes.length - k + Math.floor(random() * 64) }, () => 1 + Math.floor(random() * 255));
        damaged = Buffer.concat([damaged, junk]);
      }
      await writeFile(join(work, pristine.last.name), damaged);

      const whole = ranges.filter((r) => r.end <= k);
      const end = whole[whole.length - 1]?.end ?? 0;
      const lastLsn = pristine.last.firstLsn - 1 + whole.length;
      const at = `${variant} at k=${k} (seed ${seed})`;
      let log = await open(work);
      try {
        assert.is(log.lastLsn, lastLsn, `lastLsn, ${at}`);
        assert.is(log.flushedLsn, lastLsn);
        assert.is(log.recovery.repaired, undefined);
        if (damaged.length > end) assert.equal(log.recovery.tornTail?.offset, end, `torn tail reported, ${at}`);
        else assert.is(log.recovery.tornTail, undefined, `clean cut, ${at}`);
        const held = await rawAll(log);
        assert.ok(held.equals(pristine.all.subarray(0, olderBytes + end)), `exactly the whole records before k, ${at}`);
        if (variant === 'junk') {
          const tail = (await fileBytes(work, pristine.last.name)).subarray(end);
          assert.ok(tail.every((b) => b === 0), `junk zeroed by recovery, ${at}`);
        }

        assert.is(log.append('new', 'n1', RecordKind.Delete, 1, undefined, 5), lastLsn + 1);
        assert.is(log.append('new', 'n2', RecordKind.Put, 2, new Uint8Array([1, 2, 3]), 6), lastLsn + 2);
        await log.sync();
        await log.close();

        log = await open(work);
        assert.is(log.lastLsn, lastLsn + 2, `appends survive a reopen, ${at}`);
        assert.is(log.recovery.tornTail, undefined, `nothing old resurrected after the new records, ${at}`);
        const after = await readAll(log, lastLsn + 1);
        assert.equal(after.map((r) => [r.lsn, r.key, r.payload.length]), [[lastLsn + 1, 'n1', 0], [lastLsn + 2, 'n2', 3]]);
        assert.ok((await rawAll(log)).subarray(0, olderBytes + end).equals(pristine.all.subarray(0, olderBytes + end)));
        for (const f of pristine.older) {
          assert.ok((await fileBytes(work, f.name)).every((b, i) => b === f.bytes[i]), `older segment ${f.name} untouched`);
        }
      } finally {
        await log.close();
      }
    }
    return pristine.last.bytes.length + 1;
  }, 'engram-sweep-');
}

test('a last segment cut at every byte recovers exactly the whole records before the cut', async () => {
  const cases = await sweep('cut');
  assert.ok(cases > 300, `swept ${cases} lengths`);
});

test('a last segment with junk after every byte recovers the same and zeroes the junk', async () => {
  const cases = await sweep('junk');
  assert.ok(cases > 300, `swept ${cases} lengths`);
});

test.run();
