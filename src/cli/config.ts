/**
 * The cluster config file of `engram-repl node`: JSON describing the cluster,
 * which node bootstraps it, the default ack mode, failover and tuning.
 * Validated on load; an error (`InvalidConfig`) names the bad field as it is
 * spelled in the file. The cluster, ack and tuning checks are the library's
 * own (`resolveNodeOptions`); this file adds what only the CLI needs.
 *
 * @example
 * const config = await loadConfig('cluster.json')
 * const node = await createNode(nodeOptionsFor(config, 'n1', './data/n1'))
 */
import { readFile } from 'node:fs/promises';
import { type ClusterNode, type NodeOptions, type Tuning, defaultTuning, resolveNodeOptions } from '../actors/nodeOptions.js';
import { parseTcpAddress } from '../adapters/tcpTransport.js';
import { ReplicationError, isReplicationError } from '../errors.js';
import type { AckMode } from '../types.js';

/** A node of the config file: its replication and HTTP addresses. */
export interface ConfigNode extends ClusterNode {
  /** `host:port` of its HTTP API. */
  http: string;
}

/** A loaded, validated config file with every default filled in. */
export interface ClusterFile {
  clusterId: string;
  nodes: ConfigNode[];
  /** The node that bootstraps a new cluster as primary of epoch 1. */
  primary: string;
  /** Default write acknowledgement mode. */
  ack: AckMode;
  failover: { auto: boolean; timeoutMs: number };
  /** A primary ships records while its own fsync runs (`createNode({ shipBeforeDurable })`). */
  shipBeforeDurable: boolean;
  /** Tuning knobs set in the file (the rest keep the library defaults). */
  tuning: Partial<Tuning>;
}

const TOP_LEVEL = ['clusterId', 'nodes', 'primary', 'ack', 'failover', 'shipBeforeDurable', 'tuning'];
const NODE_FIELDS = ['id', 'replication', 'http'];
const FAILOVER_FIELDS = ['auto', 'timeoutMs'];
/** `failover.timeoutMs` is the one place to set the failover timeout. */
const TUNING_FIELDS = Object.keys(defaultTuning).filter((k) => k !== 'failoverTimeoutMs');

function bad(field: string, message: string, source: string): ReplicationError {
  return new ReplicationError('InvalidConfig', `${source}: ${field}: ${message}`, {
    context: { field, source },
    suggestion: 'see docs/cli.md for the config file reference',
  });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkKnown(object: Record<string, unknown>, known: readonly string[], prefix: string, source: string): void {
  for (const key of Object.keys(object)) {
    if (!known.includes(key)) throw bad(`${prefix}${key}`, `unknown field (known: ${known.join(', ')})`, source);
  }
}

/** Config-file spelling of a field named by `resolveNodeOptions`. */
function fileField(field: string): string {
  if (field === 'id') return 'primary';
  if (field === 'tuning.failoverTimeoutMs') return 'failover.timeoutMs';
  return field.startsWith('cluster.') ? field.slice('cluster.'.length) : field;
}

/**
 * Validates a parsed config file; throws `InvalidConfig` naming the first bad
 * field (`nodes[1].http`, `tuning.leaseMs`, ...). `source` (the file name)
 * prefixes the message.
 */
export function parseConfig(raw: unknown, source = 'config'): ClusterFile {
  if (!isObject(raw)) throw bad('(top level)', 'must be a JSON object', source);
  checkKnown(raw, TOP_LEVEL, '', source);
  const failover = raw.failover ?? {};
  if (!isObject(failover)) throw bad('failover', 'must be an object like { "auto": true, "timeoutMs": 1500 }', source);
  checkKnown(failover, FAILOVER_FIELDS, 'failover.', source);
  if (failover.auto !== undefined && typeof failover.auto !== 'boolean') throw bad('failover.auto', 'must be true or false', source);
  if (raw.shipBeforeDurable !== undefined && typeof raw.shipBeforeDurable !== 'boolean') throw bad('shipBeforeDurable', 'must be true or false', source);
  const tuning = raw.tuning ?? {};
  if (!isObject(tuning)) throw bad('tuning', 'must be an object of tuning knobs', source);
  checkKnown(tuning, TUNING_FIELDS, 'tuning.', source);
  if (typeof raw.primary !== 'string') throw bad('primary', 'must be the id of one of nodes (the node that bootstraps the cluster)', source);
  const resolvedTuning = { ...(tuning as Partial<Tuning>), ...(failover.timeoutMs === undefined ? {} : { failoverTimeoutMs: failover.timeoutMs as number }) };
  const cluster = { clusterId: raw.clusterId, nodes: raw.nodes } as NodeOptions['cluster'];
  try {
    resolveNodeOptions({
      id: raw.primary, dataDir: '.', role: 'primary', cluster, tuning: resolvedTuning,
      ...(raw.ack === undefined ? {} : { ack: raw.ack as AckMode }),
    });
  } catch (err) {
    if (!isReplicationError(err, 'InvalidConfig')) throw err;
    const field = String(err.context?.field ?? '');
    const what = err.message.slice(err.message.indexOf(': ') + 2);
    throw bad(fileField(field), field === 'id' ? `'${raw.primary}' is not the id of one of nodes` : what, source);
  }
  const nodes = (raw.nodes as unknown[]).map((n, i) => {
    checkKnown(n as Record<string, unknown>, NODE_FIELDS, `nodes[${i}].`, source);
    const { id, replication, http } = n as Record<string, unknown>;
    if (typeof http !== 'string') throw bad(`nodes[${i}].http`, 'must be the host:port of the node\'s HTTP API', source);
    try {
      parseTcpAddress(http);
    } catch (err) {
      throw bad(`nodes[${i}].http`, err instanceof Error ? err.message : String(err), source);
    }
    return { id: id as string, replication: replication as string, http };
  });
  return {
    clusterId: raw.clusterId as string,
    nodes,
    primary: raw.primary,
    ack: (raw.ack as AckMode | undefined) ?? 'local',
    failover: { auto: (failover.auto as boolean | undefined) ?? true, timeoutMs: (failover.timeoutMs as number | undefined) ?? defaultTuning.failoverTimeoutMs },
    shipBeforeDurable: (raw.shipBeforeDurable as boolean | undefined) ?? true,
    tuning: tuning as Partial<Tuning>,
  };
}

/** Reads and validates a config file; `InvalidConfig` when it is missing, not JSON, or has a bad field. */
export async function loadConfig(path: string): Promise<ClusterFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ReplicationError('InvalidConfig', `cannot read config file ${path}: ${(err as Error).message}`, { cause: err, context: { source: path } });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ReplicationError('InvalidConfig', `${path} is not valid JSON: ${(err as Error).message}`, { cause: err, context: { source: path } });
  }
  return parseConfig(raw, path);
}

/** The `createNode` options of node `id` of the config, with its data in `dataDir`. */
export function nodeOptionsFor(config: ClusterFile, id: string, dataDir: string): NodeOptions {
  return {
    id, dataDir,
    cluster: { clusterId: config.clusterId, nodes: config.nodes },
    role: id === config.primary ? 'primary' : 'replica',
    ack: config.ack,
    autoFailover: config.failover.auto,
    shipBeforeDurable: config.shipBeforeDurable,
    tuning: { ...config.tuning, failoverTimeoutMs: config.failover.timeoutMs },
  };
}
