/**
 * The HTTP API of `engram-repl node` (node:http, no framework): writes,
 * reads (one memory, or many ids in one lookup), space summaries, status, Prometheus metrics, health and promotion
 * of one node. See docs/cli.md for the table of routes and errors.
 *
 * @example
 * const api = await startHttpApi(node, config, '127.0.0.1:8101')
 * // curl -XPOST 'http://127.0.0.1:8101/spaces/notes/entries?ack=quorum' -d '{"id":"m1","text":"hi"}'
 * await api.close()
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { ReplicationNode } from '../../actors/replicationNode.js';
import { checkSpaceName } from '../../actors/entries.js';
import { formatTcpAddress, parseTcpAddress } from '../../adapters/tcpTransport.js';
import { ReplicationError, isReplicationError } from '../../errors.js';
import type { AckMode } from '../../types.js';
import type { ClusterFile } from '../config.js';
import { HttpProblem, type PrimaryHint, sendError, sendJson } from './apiErrors.js';
import { readJsonBody } from './jsonBody.js';

/** Largest request body accepted (413 past it). */
export const MAX_BODY_BYTES = 4 * 1024 * 1024;
const ACK_MODES: readonly AckMode[] = ['local', 'one', 'quorum', 'all'];
/** How long `close()` lets in-flight requests finish before cutting their connections. */
const CLOSE_GRACE_MS = 5000;

interface Request {
  node: ReplicationNode;
  req: IncomingMessage;
  res: ServerResponse;
  query: URLSearchParams;
  params: string[];
}

type Handler = (r: Request) => Promise<void> | void;

interface Route {
  pattern: RegExp;
  methods: Partial<Record<'GET' | 'POST', Handler>>;
  /** Query parameters the route understands; any other is refused. */
  query: readonly string[];
}

function spaceParam(r: Request): string {
  return checkSpaceName(r.params[0]);
}

function onlyValue<T extends string>(query: URLSearchParams, name: string, allowed: readonly T[]): T | undefined {
  const value = query.get(name);
  if (value === null) return undefined;
  if (!(allowed as readonly string[]).includes(value)) {
    throw new HttpProblem(400, 'InvalidRequest', `${name}=${value} is not allowed`, { suggestion: `use ${name}=${allowed.join('|')}` });
  }
  return value as T;
}

async function postEntries(r: Request): Promise<void> {
  const space = spaceParam(r);
  const ack = onlyValue(r.query, 'ack', ACK_MODES);
  const body = await readJsonBody(r.req, MAX_BODY_BYTES);
  const entries = Array.isArray(body) ? body : [body];
  const result = await r.node.writeMany(space, entries, ack === undefined ? {} : { ack });
  sendJson(r.res, 200, result);
}

function getMemory(r: Request): void {
  const space = spaceParam(r);
  const id = r.params[1]!;
  const memory = r.node.read(space, id);
  if (memory === undefined) throw new HttpProblem(404, 'NotFound', `no memory '${id}' in space '${space}' on node ${r.node.id}`);
  sendJson(r.res, 200, memory);
}

/** Most ids one lookup takes. */
const LOOKUP_MAX_IDS = 10_000;

async function postLookup(r: Request): Promise<void> {
  const space = spaceParam(r);
  const ids = await readJsonBody(r.req, MAX_BODY_BYTES);
  if (!Array.isArray(ids) || ids.length > LOOKUP_MAX_IDS || !ids.every((id) => typeof id === 'string')) {
    throw new HttpProblem(400, 'InvalidRequest', `a lookup takes a JSON array of at most ${LOOKUP_MAX_IDS} memory ids (strings)`, { suggestion: 'POST ["m1", "m2"]' });
  }
  const memories: Record<string, unknown> = {};
  const missing: string[] = [];
  for (const id of ids as string[]) {
    const memory = r.node.read(space, id);
    if (memory === undefined) missing.push(id);
    else memories[id] = memory;
  }
  sendJson(r.res, 200, { memories, missing });
}

async function getMetrics(r: Request): Promise<void> {
  const text = await r.node.register.metrics();
  r.res.writeHead(200, { 'content-type': r.node.register.contentType, 'content-length': Buffer.byteLength(text) });
  r.res.end(text);
}

async function postPromote(r: Request): Promise<void> {
  const force = onlyValue(r.query, 'force', ['true', 'false']) === 'true';
  const { epoch } = await r.node.promote({ force });
  sendJson(r.res, 200, { id: r.node.id, role: r.node.role, epoch });
}

async function postHandover(r: Request): Promise<void> {
  const to = r.query.get('to') ?? undefined;
  const result = await r.node.handover(to === undefined ? {} : { to });
  sendJson(r.res, 200, { from: r.node.id, ...result });
}

const ROUTES: readonly Route[] = [
  { pattern: /^\/spaces\/([^/]+)\/entries$/, methods: { POST: postEntries }, query: ['ack'] },
  { pattern: /^\/spaces\/([^/]+)\/memories\/([^/]+)$/, methods: { GET: getMemory }, query: [] },
  { pattern: /^\/spaces\/([^/]+)\/lookup$/, methods: { POST: postLookup }, query: [] },
  { pattern: /^\/spaces\/([^/]+)$/, methods: { GET: (r) => sendJson(r.res, 200, r.node.space(spaceParam(r))) }, query: [] },
  { pattern: /^\/status$/, methods: { GET: (r) => sendJson(r.res, 200, r.node.status()) }, query: [] },
  { pattern: /^\/metrics$/, methods: { GET: getMetrics }, query: [] },
  { pattern: /^\/healthz$/, methods: { GET: (r) => sendJson(r.res, 200, { ok: true, id: r.node.id, role: r.node.role }) }, query: [] },
  { pattern: /^\/promote$/, methods: { POST: postPromote }, query: ['force'] },
  { pattern: /^\/handover$/, methods: { POST: postHandover }, query: ['to'] },
];

function decodeParam(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new HttpProblem(400, 'InvalidRequest', `path segment '${segment}' is not valid percent-encoding`);
  }
}

function route(node: ReplicationNode, req: IncomingMessage, res: ServerResponse): Promise<void> | void {
  const url = new URL(req.url ?? '/', 'http://localhost');
  for (const candidate of ROUTES) {
    const match = candidate.pattern.exec(url.pathname);
    if (match === null) continue;
    const handler = candidate.methods[req.method as 'GET' | 'POST'];
    if (handler === undefined) {
      const allow = Object.keys(candidate.methods).join(', ');
      throw new HttpProblem(405, 'MethodNotAllowed', `${req.method} is not allowed on ${url.pathname}`, { suggestion: `use ${allow}`, headers: { allow } });
    }
    for (const name of url.searchParams.keys()) {
      if (!candidate.query.includes(name)) {
        throw new HttpProblem(400, 'InvalidRequest', `unknown query parameter '${name}'`, {
          suggestion: candidate.query.length === 0 ? `${url.pathname} takes no query parameters` : `known: ${candidate.query.join(', ')}`,
        });
      }
    }
    return handler({ node, req, res, query: url.searchParams, params: match.slice(1).map(decodeParam) });
  }
  throw new HttpProblem(404, 'RouteNotFound', `no route ${req.method} ${url.pathname}`, {
    suggestion: 'routes: POST /spaces/:space/entries, GET /spaces/:space/memories/:id, POST /spaces/:space/lookup, GET /spaces/:space, GET /status, GET /metrics, GET /healthz, POST /promote, POST /handover',
  });
}

/** The primary's id and HTTP address from the config, for a 421 answer. */
function primaryHint(node: ReplicationNode, config: ClusterFile, err: unknown): PrimaryHint | null {
  if (!isReplicationError(err, 'NotPrimary')) return null;
  const id = node.status().primary;
  const entry = config.nodes.find((n) => n.id === id && n.id !== node.id);
  return entry === undefined ? null : { id: entry.id, http: entry.http };
}

/** The request handler of the API for `node`. */
function httpApiHandler(node: ReplicationNode, config: ClusterFile): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    const answer = async () => {
      try {
        await route(node, req, res);
      } catch (err) {
        if (res.headersSent) res.destroy();
        else sendError(res, err, primaryHint(node, config, err));
      }
    };
    void answer();
  };
}

/** A running HTTP API. */
export interface HttpApi {
  /** `host:port` it listens on. */
  address: string;
  /** Stops accepting connections, lets in-flight requests finish (then cuts them), resolves when closed. */
  close(): Promise<void>;
}

/** Starts the API of `node` on `address` (`host:port`, port 0 for a free one). */
export async function startHttpApi(node: ReplicationNode, config: ClusterFile, address: string): Promise<HttpApi> {
  const { host, port } = parseTcpAddress(address, true);
  const server: Server = createServer(httpApiHandler(node, config));
  await new Promise<void>((resolve, reject) => {
    const refused = (cause: NodeJS.ErrnoException) => reject(new ReplicationError('IoError', `the HTTP API cannot listen on ${address} (${cause.code ?? cause.message})`, {
      cause, context: { address }, suggestion: 'is another process using that port? check the node\'s "http" address in the config file',
    }));
    server.once('error', refused);
    server.listen(port, host, () => {
      server.off('error', refused);
      resolve();
    });
  });
  const bound = server.address();
  const boundPort = typeof bound === 'object' && bound !== null ? bound.port : port;
  return {
    address: formatTcpAddress(host, boundPort),
    close: () => new Promise<void>((resolve) => {
      const cut = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
      server.close(() => {
        clearTimeout(cut);
        resolve();
      });
      server.closeIdleConnections();
    }),
  };
}
