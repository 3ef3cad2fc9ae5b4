/**
 * What `engram-repl node` prints: one line per node event (replica status,
 * lag alert, promoted, demoted, truncated, snapshot, error) and per library
 * log message at warn or above, as readable text or as JSON lines
 * (`--log json`, which the demo parses).
 *
 * @example
 * const log = eventLog('n1', 'text', process.stdout); log('ready', { role: 'primary' })
 * // 08:12:01.123 n1 ready role=primary
 */
import type { Writable } from 'node:stream';
import type { ReplicationNode } from '../actors/replicationNode.js';
import type { Logger } from '../actors/nodeOptions.js';

/** Output format of the node's log lines. */
export type LogFormat = 'text' | 'json';

/** Writes one log line: an event name and its fields. */
export type EventLog = (event: string, fields?: Record<string, unknown>) => void;

/** One parsed JSON log line of a node. */
export interface EventLine {
  at: string;
  node: string;
  event: string;
  [field: string]: unknown;
}

function textValue(value: unknown): string {
  return typeof value === 'string' && !/\s/.test(value) ? value : JSON.stringify(value);
}

/** A line writer for node `id` in `format`. */
export function eventLog(id: string, format: LogFormat, out: Writable): EventLog {
  return (event, fields = {}) => {
    const at = new Date().toISOString();
    if (format === 'json') {
      out.write(`${JSON.stringify({ at, node: id, event, ...fields })}\n`);
      return;
    }
    const rest = Object.entries(fields).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${textValue(v)}`).join(' ');
    out.write(`${at.slice(11, 23)} ${id} ${event}${rest ? ` ${rest}` : ''}\n`);
  };
}

/** A library logger that writes warn and error messages as log lines. */
export function warningsTo(log: EventLog): Logger {
  return {
    debug: () => undefined,
    info: () => undefined,
    warn: (message, fields) => log('warn', { message, ...fields }),
    error: (message, fields) => log('error', { message, ...fields }),
  };
}

/** Writes every host-facing event of `node` to `log`; returns the unsubscribe function. */
export function logNodeEvents(node: ReplicationNode, log: EventLog): () => void {
  const offs = [
    node.on('replicaStatus', (e) => log('replicaStatus', e)),
    node.on('lagAlert', (e) => log('lagAlert', e)),
    node.on('promoted', (e) => log('promoted', e)),
    node.on('demoted', (e) => log('demoted', e)),
    node.on('truncated', (e) => log('truncated', e)),
    node.on('snapshot', (e) => log('snapshot', e)),
    node.on('error', (e) => log('nodeError', e)),
  ];
  return () => offs.forEach((off) => off());
}

/** The JSON log line `line` as an object, or undefined when it is not one. */
export function parseEventLine(line: string): EventLine | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const value = JSON.parse(line) as unknown;
    return typeof value === 'object' && value !== null && 'event' in value && 'node' in value ? (value as EventLine) : undefined;
  } catch {
    return undefined;
  }
}
