/**
 * How errors leave the HTTP API: every `ErrorCode` mapped deliberately to a
 * status, plus the API's own codes for problems of the HTTP request itself
 * (unknown route, wrong method, body too large, malformed JSON, bad query).
 * The body is always `{"error": {"code", "message", "suggestion"?}}`.
 *
 * @example
 * sendError(res, new ReplicationError('Overloaded', '...')) // 503, Retry-After: 1
 */
import type { ServerResponse } from 'node:http';
import { type ErrorCode, ReplicationError } from '../../errors.js';

/** Codes of the HTTP layer itself (not raised by the library). */
export type HttpErrorCode = 'RouteNotFound' | 'NotFound' | 'MethodNotAllowed' | 'PayloadTooLarge' | 'InvalidJson' | 'InvalidRequest' | 'InternalError';

/** A problem with the HTTP request itself, answered with its own status and code. */
export class HttpProblem extends Error {
  readonly status: number;
  readonly code: HttpErrorCode;
  readonly suggestion: string | undefined;
  readonly headers: Record<string, string>;

  constructor(status: number, code: HttpErrorCode, message: string, options: { suggestion?: string; headers?: Record<string, string> } = {}) {
    super(message);
    this.name = 'HttpProblem';
    this.status = status;
    this.code = code;
    this.suggestion = options.suggestion;
    this.headers = options.headers ?? {};
  }
}

/**
 * The HTTP status of every library error code. Replication-port and storage
 * codes never come from a well-formed request: if one surfaces it is the
 * server's fault (500), or a state the server is in (503).
 */
export const statusOfCode: Readonly<Record<ErrorCode, number>> = {
  BadMagic: 500,
  UnsupportedVersion: 500,
  EmptyBatch: 500,
  InvalidBatchSize: 500,
  FrameTooLarge: 500,
  UnknownFrameType: 500,
  TruncatedFrame: 500,
  TruncatedBatch: 500,
  TruncatedEntry: 500,
  ChecksumMismatch: 500,
  MalformedMessage: 500,
  StaleEpoch: 409,
  LogGap: 500,
  ClusterMismatch: 500,
  ConnectionTimeout: 504,
  ConnectionClosed: 503,
  MaxRetriesExceeded: 503,
  ReplicaNotFound: 404,
  NotPrimary: 421,
  AckTimeout: 504,
  PromotionRefused: 409,
  HandoverFailed: 409,
  Corruption: 500,
  LogTruncated: 500,
  LogClosed: 503,
  LsnOverflow: 507,
  IoError: 500,
  InvalidConfig: 400,
  InvalidEntry: 400,
  Closed: 503,
  Overloaded: 503,
};

/** Seconds a client should wait before retrying an `Overloaded` write. */
const RETRY_AFTER_SECONDS = 1;

/** Where a client should send the writes a replica refused. */
export interface PrimaryHint {
  id: string;
  /** `host:port` of its HTTP API. */
  http: string;
}

/** Writes `body` as JSON with `status`. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/**
 * Answers `err` as the API's error JSON. A `NotPrimary` carries `primary`
 * (the current primary's id and HTTP address, or null while unknown) and a
 * `Location` to it; an `Overloaded` carries `Retry-After`.
 */
export function sendError(res: ServerResponse, err: unknown, primary?: PrimaryHint | null): void {
  if (err instanceof HttpProblem) {
    const body = err.suggestion === undefined ? { code: err.code, message: err.message } : { code: err.code, message: err.message, suggestion: err.suggestion };
    sendJson(res, err.status, { error: body }, err.headers);
    return;
  }
  if (!(err instanceof ReplicationError)) {
    sendJson(res, 500, { error: { code: 'InternalError', message: err instanceof Error ? err.message : String(err) } });
    return;
  }
  const headers: Record<string, string> = {};
  if (err.code === 'Overloaded') headers['retry-after'] = String(RETRY_AFTER_SECONDS);
  if (err.code === 'NotPrimary') {
    if (primary) headers.location = `http://${primary.http}`;
    const suggestion = primary ? `send writes to the primary ${primary.id} at http://${primary.http}` : 'no primary is known right now (an election may be under way): retry shortly';
    sendJson(res, statusOfCode[err.code], { error: { code: err.code, message: err.message, suggestion, primary: primary ?? null } }, headers);
    return;
  }
  sendJson(res, statusOfCode[err.code], { error: err.toJSON() }, headers);
}
