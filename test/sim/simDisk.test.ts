// The simulated disk: what survives a crash (fsynced data, synced directory
// entries, a prefix of later writes possibly torn), injected I/O errors, a
// crashed mount whose operations never complete, and the broken variant
// whose fsync keeps nothing.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Prng, Scheduler, NodeClock, SimDisk } from '../../src/testing/index.js';
import type { FileSystem } from '../../src/log/fileSystem.js';

/** Runs `body` against a fresh disk, driving simulated time until it settles. */
async function withDisk<T>(seed: number, body: (disk: SimDisk, mount: () => FileSystem) => Promise<T>, options = {}): Promise<T> {
  const scheduler = new Scheduler(0);
  const disk = new SimDisk(new Prng(seed), options);
  let done = false;
  const result = body(disk, () => disk.mount(new NodeClock(scheduler))).finally(() => {
    done = true;
  });
  await scheduler.runUntil(60_000, () => done);
  return result;
}

const bytes = (...values: number[]) => new Uint8Array(values);

test('fsynced data and synced directory entries survive a crash; unsynced entries vanish', () => withDisk(1, async (disk, mount) => {
  const fs = mount();
  await fs.mkdirp('/d');
  const kept = await fs.open('/d/kept', { create: true });
  await kept.write(bytes(1, 2, 3), 0);
  await kept.datasync();
  await fs.syncDir('/d');
  const lost = await fs.open('/d/lost', { create: true });
  await lost.write(bytes(9), 0);
  await lost.datasync(); // data durable, but its directory entry was never synced
  disk.crash();
  const after = mount();
  assert.equal(await after.readFile('/d/kept'), bytes(1, 2, 3));
  assert.is(await after.readFile('/d/lost'), undefined);
  assert.equal(await after.readdir('/d'), ['kept']);
}));

test('a crash keeps the synced prefix and at most a prefix of the later writes, the last possibly torn', async () => {
  const outcomes = new Set<string>();
  for (let seed = 1; seed <= 40; seed++) {
    await withDisk(seed, async (disk, mount) => {
      const fs = mount();
      await fs.mkdirp('/d');
      const f = await fs.open('/d/log', { create: true });
      await f.write(bytes(1, 1), 0);
      await f.datasync();
      await fs.syncDir('/d');
      await f.write(bytes(2, 2), 2);
      await f.write(bytes(3, 3), 4);
      disk.crash();
      const data = [...((await mount().readFile('/d/log')) ?? [])];
      assert.equal(data.slice(0, 2), [1, 1], 'the synced bytes are always there');
      const full = [1, 1, 2, 2, 3, 3];
      assert.equal(data, full.slice(0, data.length), `seed ${seed}: ${data.join(',')} is a prefix of what was written`);
      outcomes.add(String(data.length));
    });
  }
  assert.ok(outcomes.has('2') && outcomes.has('6') && (outcomes.has('3') || outcomes.has('5')), `lost, kept and torn all seen: ${[...outcomes].join(' ')}`);
});

test('an O_DSYNC write is durable when it resolves', () => withDisk(2, async (disk, mount) => {
  const fs = mount();
  await fs.mkdirp('/d');
  const f = await fs.open('/d/wal', { create: true, dsync: true });
  await fs.syncDir('/d');
  await f.write(bytes(7, 7, 7), 0);
  disk.crash();
  assert.equal(await mount().readFile('/d/wal'), bytes(7, 7, 7));
}));

test('an O_DSYNC write still in flight at a crash leaves nothing, all, or a prefix of it', async () => {
  const lengths = new Set<number>();
  for (let seed = 1; seed <= 40; seed++) {
    await withDisk(seed, async (disk, mount) => {
      const fs = mount();
      await fs.mkdirp('/d');
      const f = await fs.open('/d/wal', { create: true, dsync: true });
      await fs.syncDir('/d');
      await f.write(bytes(1, 1), 0);
      void f.write(bytes(2, 2, 2, 2), 2); // not awaited: in flight when the power goes
      disk.crash();
      const data = [...((await mount().readFile('/d/wal')) ?? [])];
      assert.equal(data, [1, 1, 2, 2, 2, 2].slice(0, data.length), `seed ${seed}: ${data.join(',')}`);
      assert.ok(data.length >= 2, 'the completed write is there');
      lengths.add(data.length);
    });
  }
  assert.ok(lengths.has(2) && [3, 4, 5].some((n) => lengths.has(n)), `untouched and torn both seen: ${[...lengths].join(' ')}`);
});

test('injected write and fsync failures reject with IoError, once each', () => withDisk(3, async (disk, mount) => {
  const fs = mount();
  await fs.mkdirp('/d');
  const f = await fs.open('/d/f', { create: true });
  disk.failNext('write');
  disk.failNext('datasync');
  const write = await f.write(bytes(1), 0).then(() => 'ok', (err: { code?: string }) => err.code);
  const sync = await f.datasync().then(() => 'ok', (err: { code?: string }) => err.code);
  assert.is(write, 'IoError');
  assert.is(sync, 'IoError');
  await f.write(bytes(1), 0);
  await f.datasync();
  assert.is(disk.stats.injectedFaults, 2);
}));

test('operations of a crashed mount never complete', () => withDisk(4, async (disk, mount) => {
  const fs = mount();
  await fs.mkdirp('/d');
  let settled = false;
  void fs.readdir('/d').finally(() => {
    settled = true;
  });
  disk.crash();
  await mount().readdir('/d'); // later operations of the new mount complete
  assert.is(settled, false);
}));

test('the broken disk: fsync and syncDir keep nothing', () => withDisk(5, async (disk, mount) => {
  const fs = mount();
  await fs.mkdirp('/d');
  const f = await fs.open('/d/f', { create: true, dsync: true });
  await f.write(bytes(1), 0);
  await f.datasync();
  await fs.syncDir('/d');
  disk.crash();
  assert.is(await mount().readFile('/d/f'), undefined);
}, { fsyncIsNoop: true }));

test('opening a missing file without create is an IoError naming ENOENT', () => withDisk(6, async (_disk, mount) => {
  const err = await mount().open('/nowhere/f').then(() => undefined, (e: Error & { code?: string }) => e);
  assert.is(err?.code, 'IoError');
  assert.match(err!.message, /ENOENT/);
}));

test.run();
