/**
 * `npm run demo`: a 3-node cluster on free loopback ports with temp data
 * dirs, in this process. Writes a load, shows replica status and lag, closes
 * the primary to show an automatic election and how long it took, keeps
 * writing on the new primary, restarts the old one and shows it rejoin, then
 * verifies every acknowledged write on every node and that the digests match.
 * Cleans up its temp dirs, also on Ctrl-C. (The issue-5 demo will run the
 * nodes as child processes and SIGKILL the primary; this one closes it.)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNode } from '../index.js';
import type { ReplicationNode } from '../actors/replicationNode.js';

const SPACES = 10;
const root = mkdtempSync(join(tmpdir(), 'engram-demo-'));
const cleanup = () => rmSync(root, { recursive: true, force: true });
process.on('exit', cleanup);
process.on('SIGINT', () => process.exit(130));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const say = (line: string) => console.log(line);
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

function table(primary: ReplicationNode): string {
  const st = primary.status();
  const rows = st.replicas.map((r) => `    ${r.id.padEnd(4)} ${r.status.padEnd(9)} applied ${String(r.appliedLsn).padStart(7)}  lag ${String(r.lagEntries).padStart(6)} entries ${String(r.lagMs).padStart(5)} ms`);
  return [`  primary ${st.id}  epoch ${st.epoch}  lsn ${st.lsn}`, ...rows].join('\n');
}

const acked = new Map<string, Set<string>>();
async function load(node: ReplicationNode, prefix: string, batches: number, perBatch: number): Promise<void> {
  for (let b = 0; b < batches; b++) {
    const space = `space-${b % SPACES}`;
    const entries = Array.from({ length: perBatch }, (_, i) => ({ id: `${prefix}-${b}-${i}`, text: `memory ${prefix} ${b}/${i}`, at: b }));
    await node.writeMany(space, entries, { ack: 'quorum' });
    const set = acked.get(space) ?? new Set<string>();
    for (const e of entries) set.add(e.id);
    acked.set(space, set);
    if (b % 20 === 19) process.stdout.write(`\r  wrote ${(b + 1) * perBatch} entries (ack quorum)`);
  }
  process.stdout.write('\n');
}

const ports = [await freePort(), await freePort(), await freePort()];
const cluster = { clusterId: 'demo', nodes: ports.map((p, i) => ({ id: `n${i + 1}`, replication: `127.0.0.1:${p}` })) };
const start = (i: number) => createNode({ id: `n${i}`, dataDir: join(root, `n${i}`), cluster, role: i === 1 ? 'primary' : 'replica' });
const nodes = new Map<string, ReplicationNode>();
for (const i of [2, 3, 1]) nodes.set(`n${i}`, await start(i));
say(`3 nodes on ${ports.map((p) => `127.0.0.1:${p}`).join(', ')} (data in ${root})`);
const n1 = nodes.get('n1')!;
n1.on('replicaStatus', (e) => say(`  [n1] replica ${e.replica}: ${e.from} -> ${e.to} (${e.why})`));

say('\n1. writing 20,000 entries over 10 spaces on n1');
await load(n1, 'a', 200, 100);
say(table(n1));

say('\n2. closing the primary n1 (as if it crashed)');
const closedAt = Date.now();
await n1.close();
nodes.delete('n1');
let elected: ReplicationNode | undefined;
while (elected === undefined) {
  elected = [...nodes.values()].find((n) => n.role === 'primary');
  if (elected === undefined) await pause(10);
}
say(`  ${elected.id} was elected primary of epoch ${elected.status().epoch} ${Date.now() - closedAt} ms after n1 went away`);

say(`\n3. writing 5,000 more entries on ${elected.id}`);
await load(elected, 'b', 50, 100);

say('\n4. restarting n1: it rejoins as a replica');
const back = await start(1);
back.on('truncated', (e) => say(`  [n1] discarded ${e.count} unreplicated entries (${e.fromLsn}..${e.toLsn}), kept in ${e.quarantineFile}`));
nodes.set('n1', back);
while (elected.status().replicas.some((r) => r.appliedLsn < elected!.status().lsn)) await pause(50);
say(`  n1 is ${back.role}, following ${back.status().primary}; caught up`);
const healthyBy = Date.now() + 5000; // status recovers one level per grace window once the lag is gone
while (Date.now() < healthyBy && elected.status().replicas.some((r) => r.status !== 'Healthy')) await pause(50);
say(table(elected));

say('\n5. verifying');
let missing = 0;
for (const [space, ids] of acked) for (const id of ids) for (const node of nodes.values()) if (node.read(space, id) === undefined) missing++;
const digests = [...nodes.values()].map((n) => [...acked.keys()].map((s) => n.space(s).digest).join(''));
const same = digests.every((d) => d === digests[0]);
say(`  ${[...acked.values()].reduce((n, s) => n + s.size, 0)} acknowledged writes checked on 3 nodes: ${missing} missing`);
say(`  space digests ${same ? 'identical' : 'DIFFERENT'} on all nodes`);
await Promise.all([...nodes.values()].map((n) => n.close()));
say(missing === 0 && same ? '\ndemo ok' : '\ndemo FAILED');
process.exit(missing === 0 && same ? 0 : 1);
