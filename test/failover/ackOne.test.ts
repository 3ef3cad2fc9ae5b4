// Randomised SIGKILL runs with ack 'one' (seeded; ENGRAM_SEED reruns one):
// after each failover and rejoin, every write acknowledged to the client is
// on the final primary and every replica, and no record exists that no
// client attempted. See randomRuns.ts. (One file per mode so they run in parallel.)
import { test } from 'uvu';
import { checkRandomisedRuns } from './randomRuns.js';

const RUNS = Number(process.env['ENGRAM_FAILOVER_RUNS'] ?? 10);

test(`ack 'one': ${RUNS} randomised kill runs lose no acknowledged write and invent none`, () => checkRandomisedRuns('one', RUNS));

test.run();
