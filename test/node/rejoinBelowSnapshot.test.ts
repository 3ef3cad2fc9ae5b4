// A rejoin whose fork point lies below this node's local snapshot (retention
// took it after the records that are now cut, and dropped the log before
// it): the state cannot be rebuilt to the fork from local data, so it is
// rebuilt from nothing and received again from the primary — but the node
// keeps claiming the records it held up to the fork (NodeMeta.claimedLsn),
// so its vote never helps elect a log that lacks them. Before, it voted as
// an empty log and a candidate missing acknowledged writes won (simulation,
// seed 1111 with forced promotions). And a crash between the cut and the
// deletion of that snapshot is finished on open (seed 801065: the node came
// back with its state ahead of its log and never converged).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { type LocalState, openLocalState } from '../../src/actors/localState.js';
import { rejoinPrimary } from '../../src/actors/rejoin.js';
import { nodeFileSystem } from '../../src/adapters/nodeFileSystem.js';
import { MemoryStore } from '../../src/store/memoryStore.js';
import { RecordKind } from '../../src/types.js';
import type { HelloMessage } from '../../src/wire/messages.js';
import { encodePayload } from '../../src/wire/payload.js';
import { withTempDir } from '../helpers/tempDir.js';

const open = (dir: string) =>
  openLocalState({ dir, fs: nodeFileSystem, nodeId: 'n1', clusterId: 'c', projection: new MemoryStore(), segmentBytes: 4096 });

/** Opens the state in `dir` as a node of epoch 1 whose log holds `n` memories of space `notes`, applied as a node applies them. */
async function openFilled(dir: string, n: number): Promise<LocalState> {
  const state = await open(dir);
  await state.saveMeta({ epoch: 1, epochHistory: [{ epoch: 1, startLsn: 1 }] });
  state.log.epoch = 1;
  for (let i = 1; i <= n; i++) state.log.append('notes', `m${i}`, RecordKind.Put, i, encodePayload({ id: `m${i}`, text: 'x'.repeat(60) }), 1_700_000_000_000 + i);
  await state.log.sync();
  const cursor = state.log.cursor(1);
  for (let read = await cursor.next(1 << 20); read !== undefined; read = await cursor.next(1 << 20)) state.applier.applyRecords(read.bytes, read.firstLsn, read.count);
  return state;
}

/** Rejoins a primary whose epoch 2 began after `fork`. */
function rejoinForkingAt(state: LocalState, dir: string, fork: number) {
  return rejoinPrimary(state, helloForkingAt(fork), {
    fs: nodeFileSystem, dataDir: dir, emptyProjection: new MemoryStore().snapshot(), onDiscard: () => undefined,
  });
}

function helloForkingAt(fork: number): HelloMessage {
  return {
    kind: 'hello', protocolVersion: 1, clusterId: 'c', fromId: 'n2', toId: 'n1', epoch: 2, lastLsn: fork + 10,
    epochHistory: [{ epoch: 1, startLsn: 1 }, { epoch: 2, startLsn: fork + 1 }],
  };
}

test('a fork below the local snapshot: state rebuilt from nothing, the records up to the fork still claimed, across a restart', () => withTempDir(async (dir) => {
  const state = await openFilled(dir, 100);
  assert.is(await state.persistSnapshot(), 100);
  await state.log.retainFrom(101); // every segment but the active one
  assert.ok(state.log.firstLsn > 51, `the log now starts at ${state.log.firstLsn}`);

  const cut = await rejoinForkingAt(state, dir, 50);
  assert.ok(cut, 'records after the fork were discarded');
  assert.is(cut.toLsn, 100);
  assert.is(state.log.lastLsn, 0, 'nothing local reaches the fork: the log starts over');
  assert.is(state.applier.appliedLsn, 0);
  assert.is(state.meta.claimedLsn, 50, 'the records up to the fork are still claimed');
  assert.is(state.epochOf(state.meta.claimedLsn), 1);
  await state.log.close();

  const reopened = await open(dir);
  assert.is(reopened.meta.claimedLsn, 50, 'the claim survives a restart');
  await reopened.log.close();
}));

test('a fork the log still reaches: rebuilt to it, nothing claimed', () => withTempDir(async (dir) => {
  const state = await openFilled(dir, 40);
  const cut = await rejoinForkingAt(state, dir, 30);
  assert.is(cut?.count, 10);
  assert.is(state.log.lastLsn, 30);
  assert.is(state.applier.appliedLsn, 30);
  assert.is(state.meta.claimedLsn, 0, 'the log holds everything up to the fork: nothing to claim');
  await state.log.close();
}));

test('a crash after the cut but before the snapshot past it was deleted: opening finishes the rebuild', () => withTempDir(async (dir) => {
  const state = await openFilled(dir, 60);
  assert.is(await state.persistSnapshot(), 60);
  await state.log.truncateAfter(45); // the cut of a rejoin, then the crash
  await state.log.close();
  const reopened = await open(dir);
  assert.is(reopened.log.lastLsn, 45);
  assert.is(reopened.applier.appliedLsn, 45, 'the state is the log\'s, not the stale snapshot\'s');
  assert.is(reopened.snapshotLsn, 0);
  assert.is(reopened.projection.count('notes'), 45);
  await reopened.log.close();
  const again = await open(dir);
  assert.is(again.applier.appliedLsn, 45, 'and stays so: the stale snapshot is gone');
  await again.log.close();
}));

test.run();
