/**
 * The demo's final check, over HTTP: every acknowledged id is readable on
 * every node (`POST /spaces/:space/lookup`, thousands of ids a request), and
 * every space has the same digest on every node.
 *
 * @example
 * const report = await verifyCluster(cluster, writer.acked)
 * report.missing // 0
 */
import type { ApiClient } from '../apiClient.js';

/** What the verification found. */
export interface VerifyReport {
  /** Acknowledged ids checked (per node). */
  checked: number;
  /** (node, id) pairs not readable. */
  missing: number;
  /** Up to a few missing ids, for the report. */
  examples: string[];
  /** Spaces whose digest differs between nodes. */
  differingSpaces: string[];
  /** Per node: the digest of every space, joined (equal on every node when all agree). */
  digests: Map<string, string>;
}

/** Ids per lookup request. */
const LOOKUP_IDS = 2000;

async function readAll(api: ApiClient, acked: Map<string, string[]>, onMissing: (id: string) => void): Promise<void> {
  for (const [space, ids] of acked) {
    for (let i = 0; i < ids.length; i += LOOKUP_IDS) {
      const { missing } = await api.lookup(space, ids.slice(i, i + LOOKUP_IDS));
      for (const id of missing) onMissing(`${space}/${id}`);
    }
  }
}

/** Reads every acknowledged id on each node in `apis` and compares space digests. */
export async function verifyCluster(apis: Map<string, ApiClient>, acked: Map<string, string[]>): Promise<VerifyReport> {
  const report: VerifyReport = { checked: [...acked.values()].reduce((n, ids) => n + ids.length, 0), missing: 0, examples: [], differingSpaces: [], digests: new Map() };
  await Promise.all([...apis].map(([id, api]) => readAll(api, acked, (missing) => {
    report.missing++;
    if (report.examples.length < 5) report.examples.push(`${id}:${missing}`);
  })));
  const spaces = [...acked.keys()].sort();
  const perNode = await Promise.all([...apis].map(async ([id, api]) => [id, await Promise.all(spaces.map((s) => api.space(s)))] as const));
  for (const [id, summaries] of perNode) report.digests.set(id, summaries.map((s) => s.digest).join(' '));
  spaces.forEach((space, i) => {
    if (new Set(perNode.map(([, summaries]) => summaries[i]!.digest)).size > 1) report.differingSpaces.push(space);
  });
  return report;
}
