// The node's metadata file (epoch, vote, epoch history) on a real temp dir:
// concurrent saveMeta calls run one after another, none losing the other's
// fields (they once raced on the temp file: ENOENT on rename, a vote lost),
// and the epoch and the voted epoch never go down. Found by the simulation
// (seed 3202).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { openLocalState } from '../../src/actors/localState.js';
import { nodeFileSystem } from '../../src/adapters/nodeFileSystem.js';
import type { FileSystem } from '../../src/log/fileSystem.js';
import { MemoryStore } from '../../src/store/memoryStore.js';
import { withTempDir } from '../helpers/tempDir.js';

const open = (dir: string) => openLocalState({ dir, fs: nodeFileSystem, nodeId: 'n1', clusterId: 'c', projection: new MemoryStore(), segmentBytes: 1 << 20 });

test('concurrent metadata writes all land, in call order, and survive a reopen', () => withTempDir(async (dir) => {
  const state = await open(dir);
  await Promise.all([
    state.saveMeta({ epoch: 6, votedEpoch: 6, votedFor: 'n4' }),
    state.saveMeta({ epochHistory: [{ epoch: 1, startLsn: 1 }, { epoch: 6, startLsn: 60 }] }),
    state.saveMeta({ epoch: 5 }), // a late write of an older epoch
    state.saveMeta({ votedEpoch: 4, votedFor: 'n2' }), // and of an older vote
  ]);
  const expected = { epoch: 6, votedEpoch: 6, votedFor: 'n4', epochHistory: [{ epoch: 1, startLsn: 1 }, { epoch: 6, startLsn: 60 }] };
  const pick = (m: typeof state.meta) => ({ epoch: m.epoch, votedEpoch: m.votedEpoch, votedFor: m.votedFor, epochHistory: m.epochHistory });
  assert.equal(pick(state.meta), expected);
  await state.log.close();
  const reopened = await open(dir);
  assert.equal(pick(reopened.meta), expected);
  await reopened.log.close();
}));

test('a failed metadata write rejects its caller, changes nothing, and does not block the next one', () => withTempDir(async (dir) => {
  let renames = 0;
  const fs: FileSystem = { ...nodeFileSystem, rename: (from, to) => (++renames === 2 ? Promise.reject(new Error('EIO (injected)')) : nodeFileSystem.rename(from, to)) };
  const state = await openLocalState({ dir, fs, nodeId: 'n1', clusterId: 'c', projection: new MemoryStore(), segmentBytes: 1 << 20 });
  await state.saveMeta({ epoch: 1 }); // rename 1
  const failing = state.saveMeta({ epoch: 2 }); // rename 2 fails
  const next = state.saveMeta({ votedEpoch: 3, votedFor: 'n2' }); // rename 3
  await failing.then(() => assert.unreachable('the failed write resolved'), (err: unknown) => assert.match(String(err), 'EIO'));
  await next;
  assert.equal([state.meta.epoch, state.meta.votedEpoch, state.meta.votedFor], [1, 3, 'n2']);
  await state.log.close();
}));

test.run();
