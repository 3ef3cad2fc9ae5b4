/**
 * A small client of the node HTTP API (global fetch), used by `status`,
 * `promote`, `top` and the demo. Every request has a timeout, so a paused or
 * dead node is an error, never a hang; an error answer becomes an
 * `ApiError` with the API's status, code, message and suggestion.
 *
 * @example
 * const api = new ApiClient('http://127.0.0.1:8101')
 * const { lsn } = await api.write('notes', [{ id: 'm1', text: 'hi' }], 'quorum')
 */
import type { NodeStatus, SpaceSummary, WriteResult } from '../actors/replicationNode.js';
import type { AckMode } from '../types.js';
import type { PrimaryHint } from './http/apiErrors.js';

/**
 * An error answer of the API, or none: status 0 with code `Unreachable`
 * (connection refused: the request was not sent) or `NoAnswer` (timeout or
 * connection lost: it may have been carried out).
 */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly suggestion: string | undefined;
  /** On a 421: where the primary is, when the node knows. */
  readonly primary: PrimaryHint | null;

  constructor(status: number, code: string, message: string, suggestion?: string, primary: PrimaryHint | null = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.suggestion = suggestion;
    this.primary = primary;
  }
}

/** Default per-request timeout. */
const TIMEOUT_MS = 5000;

interface ErrorBody {
  error?: { code?: string; message?: string; suggestion?: string; primary?: PrimaryHint | null };
}

/** The HTTP API of one node. */
export class ApiClient {
  /** `http://host:port` of the node. */
  readonly url: string;
  readonly #timeoutMs: number;

  constructor(url: string, timeoutMs = TIMEOUT_MS) {
    this.url = url.replace(/\/+$/, '');
    this.#timeoutMs = timeoutMs;
  }

  /** `GET /status`. */
  status(): Promise<NodeStatus> {
    return this.#request('GET', '/status') as Promise<NodeStatus>;
  }

  /** `POST /promote` (`?force=true`). */
  promote(force = false): Promise<{ id: string; role: string; epoch: number }> {
    return this.#request('POST', `/promote${force ? '?force=true' : ''}`) as Promise<{ id: string; role: string; epoch: number }>;
  }

  /** `POST /handover` (`?to=ID`): on the primary, hands its role over to a replica. */
  handover(to?: string): Promise<{ from: string; primary: string; epoch: number; lsn: number }> {
    return this.#request('POST', `/handover${to === undefined ? '' : `?to=${encodeURIComponent(to)}`}`) as Promise<{ from: string; primary: string; epoch: number; lsn: number }>;
  }

  /** `POST /spaces/:space/entries?ack=`. */
  write(space: string, entries: unknown[], ack?: AckMode): Promise<WriteResult> {
    const query = ack === undefined ? '' : `?ack=${ack}`;
    return this.#request('POST', `/spaces/${encodeURIComponent(space)}/entries${query}`, entries) as Promise<WriteResult>;
  }

  /** `GET /spaces/:space/memories/:id`; `undefined` on 404. */
  async read(space: string, id: string): Promise<unknown> {
    try {
      return await this.#request('GET', `/spaces/${encodeURIComponent(space)}/memories/${encodeURIComponent(id)}`);
    } catch (err) {
      if (err instanceof ApiError && err.code === 'NotFound') return undefined;
      throw err;
    }
  }

  /** `POST /spaces/:space/lookup`: the memories of `ids` that exist, and the ids that do not. */
  lookup(space: string, ids: string[]): Promise<{ memories: Record<string, unknown>; missing: string[] }> {
    return this.#request('POST', `/spaces/${encodeURIComponent(space)}/lookup`, ids) as Promise<{ memories: Record<string, unknown>; missing: string[] }>;
  }

  /** `GET /spaces/:space`. */
  space(space: string): Promise<SpaceSummary> {
    return this.#request('GET', `/spaces/${encodeURIComponent(space)}`) as Promise<SpaceSummary>;
  }

  /** `GET /metrics` as Prometheus text. */
  async metrics(): Promise<string> {
    const res = await this.#fetch('GET', '/metrics');
    if (!res.ok) throw await this.#error(res);
    return res.text();
  }

  async #request(method: string, path: string, body?: unknown): Promise<unknown> {
    const res = await this.#fetch(method, path, body);
    if (!res.ok) throw await this.#error(res);
    return res.json();
  }

  async #fetch(method: string, path: string, body?: unknown): Promise<Response> {
    try {
      return await fetch(`${this.url}${path}`, {
        method,
        signal: AbortSignal.timeout(this.#timeoutMs),
        ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      if (cause?.code === 'ECONNREFUSED') {
        throw new ApiError(0, 'Unreachable', `${method} ${this.url}${path}: connection refused`, 'is the node running? (engram-repl node ...)');
      }
      const why = (err as Error).name === 'TimeoutError' ? `no answer within ${this.#timeoutMs} ms` : (cause?.message ?? (err as Error).message);
      throw new ApiError(0, 'NoAnswer', `${method} ${this.url}${path}: ${why}`, 'the request may or may not have been carried out; check the node (engram-repl status)');
    }
  }

  async #error(res: Response): Promise<ApiError> {
    const text = await res.text();
    let body: ErrorBody = {};
    try {
      body = JSON.parse(text) as ErrorBody;
    } catch {
      // not the API's JSON: keep the text as the message
    }
    const e = body.error;
    return new ApiError(res.status, e?.code ?? `HTTP${res.status}`, e?.message ?? text, e?.suggestion, e?.primary ?? null);
  }
}
