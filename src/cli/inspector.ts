/**
 * The Stately inspector for node processes, built on the dev dependency
 * `@statelyai/inspect` (loaded on demand: without it both functions throw
 * `InvalidConfig` with a suggestion).
 *
 * - `startInspectorServer()` runs a relay on 127.0.0.1 (a free port): node
 *   processes send their inspection events to its WebSocket; a browser that
 *   opens its HTTP page gets a page embedding the Stately inspector UI
 *   (https://stately.ai/inspect, so the browser needs internet access) to
 *   which the page passes the events. The page replays what came before it
 *   opened: every actor registration and the newest events (bounded).
 *   It plays the part of `createInspectorServer` from
 *   `@statelyai/inspect/server`, which listens on every interface, on a fixed
 *   port, and opens a browser itself.
 * - `connectInspector(url)` connects a node process to such a server and
 *   returns the observer to pass as `createNode({ inspect })`; it converts
 *   xstate events with `createInspector` of `@statelyai/inspect`.
 *
 * @example
 * const server = await startInspectorServer()
 * console.log(server.howToOpen)
 * const inspector = await connectInspector(server.url)
 * const node = await createNode({ ...options, inspect: inspector.observer })
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import type { InspectionEvent, Observer } from 'xstate';
import { ReplicationError } from '../errors.js';

/** The part of the `ws` package (the WebSocket library `@statelyai/inspect` itself uses) used here. */
interface WsSocket {
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: string): void;
  close(): void;
  terminate(): void;
  on(event: 'open' | 'close', listener: () => void): void;
  on(event: 'error', listener: (err: Error) => void): void;
  on(event: 'message', listener: (data: { toString(): string }) => void): void;
  removeAllListeners(event: 'open' | 'error'): void;
}
interface WsModule {
  WebSocket: (new (url: string, options: { handshakeTimeout: number }) => WsSocket) & { readonly OPEN: number };
  WebSocketServer: new (options: { server: http.Server }) => {
    readonly clients: Set<WsSocket>;
    on(event: 'connection', listener: (socket: WsSocket) => void): void;
    close(callback: () => void): void;
  };
}

/** A running inspector relay. */
export interface InspectorServer {
  /** `ws://127.0.0.1:<port>`: what node processes connect to (`--inspect URL`). */
  url: string;
  /** One paragraph telling a person what to open in a browser. */
  howToOpen: string;
  /** Disconnects every client and stops listening. */
  close(): Promise<void>;
}

/** A node process's connection to an inspector relay. */
export interface InspectorConnection {
  /** Pass as `createNode({ inspect })`. */
  observer: Observer<InspectionEvent>;
  /** Closes the WebSocket; later events are dropped. */
  close(): void;
}

const STATELY_UI_URL = 'https://stately.ai/inspect';
/** Newest non-registration events the relay replays to a browser that opens late. */
const REPLAY_EVENTS_MAX = 500;
/** Actor registrations the relay replays (the actor tree); receivers are spawned per connection, so bound them too. */
const REPLAY_ACTORS_MAX = 1000;
const CONNECT_TIMEOUT_MS = 5000;
/** Bytes a node lets queue on a slow inspector socket before it drops events. */
const SEND_QUEUE_BYTES_MAX = 8 * 1024 * 1024;

async function loadInspect(): Promise<{ inspect: typeof import('@statelyai/inspect'); ws: WsModule }> {
  try {
    const inspect = await import('@statelyai/inspect');
    const ws = createRequire(import.meta.resolve('@statelyai/inspect'))('ws') as WsModule;
    return { inspect, ws };
  } catch (cause) {
    throw new ReplicationError('InvalidConfig', 'the Stately inspector needs the package @statelyai/inspect, which is not installed', {
      cause, context: { package: '@statelyai/inspect' },
      suggestion: 'install it (npm install --save-dev @statelyai/inspect) or run without --inspect',
    });
  }
}

/** JSON of an inspection event: functions left out, byte buffers as `{ bytes }`, cycles cut. */
function toJson(value: unknown): string {
  const ancestors: unknown[] = [];
  return JSON.stringify(value, function replace(this: unknown, key: string, item: unknown) {
    const raw = (this as Record<string, unknown>)[key];
    if (ArrayBuffer.isView(raw) || raw instanceof ArrayBuffer) return { bytes: raw.byteLength };
    if (typeof item === 'bigint') return item.toString();
    if (typeof item !== 'object' || item === null) return item;
    while (ancestors.length > 0 && ancestors.at(-1) !== this) ancestors.pop();
    if (ancestors.includes(item)) return '[circular]';
    ancestors.push(item);
    return item;
  });
}

function bridgePage(): string {
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>engram-replication: Stately inspector</title>
<style>html,body,iframe{margin:0;width:100%;height:100%;border:0}</style></head>
<body><iframe id="ui" src="${STATELY_UI_URL}"></iframe>
<script>
  const ui = document.getElementById('ui');
  const waiting = [];
  let ready = false;
  addEventListener('message', (e) => {
    if (e.data && e.data.type === '@statelyai.connected' && !ready) {
      ready = true;
      for (const event of waiting.splice(0)) ui.contentWindow.postMessage(event, '*');
    }
  });
  const socket = new WebSocket('ws://' + location.host);
  socket.onmessage = (m) => {
    const event = JSON.parse(m.data);
    if (ready) ui.contentWindow.postMessage(event, '*'); else waiting.push(event);
  };
</script></body></html>`;
}

/** Starts the inspector relay on 127.0.0.1 (a free port). */
export async function startInspectorServer(): Promise<InspectorServer> {
  const { ws } = await loadInspect();
  const page = bridgePage();
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(page);
  });
  const relay = new ws.WebSocketServer({ server });
  const actors: string[] = [];
  const recent: string[] = [];
  relay.on('connection', (socket) => {
    socket.on('error', () => undefined); // a client that goes away is not the relay's failure
    for (const message of [...actors, ...recent]) socket.send(message);
    socket.on('message', (data) => {
      const message = data.toString();
      let type: unknown;
      try {
        type = (JSON.parse(message) as { type?: unknown }).type;
      } catch {
        return; // not an inspection event: nothing to relay
      }
      const kept = type === '@xstate.actor' ? actors : recent;
      kept.push(message);
      if (kept.length > (kept === actors ? REPLAY_ACTORS_MAX : REPLAY_EVENTS_MAX)) kept.shift();
      for (const client of relay.clients) if (client !== socket && client.readyState === ws.WebSocket.OPEN) client.send(message);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (cause: NodeJS.ErrnoException) => reject(new ReplicationError('IoError',
      `the inspector server could not listen on 127.0.0.1 (${cause.code ?? cause.message})`, { cause })));
    server.listen({ host: '127.0.0.1', port: 0 }, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}`,
    howToOpen: `Open http://127.0.0.1:${port}/ in a browser on this machine. The page embeds the Stately inspector ` +
      `(${STATELY_UI_URL}, loaded from the internet) and passes it the events that nodes send to ws://127.0.0.1:${port}.`,
    async close() {
      for (const client of relay.clients) client.terminate();
      await new Promise<void>((resolve) => relay.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Connects to an inspector relay at `url` (`ws://` or `wss://`); resolves once the WebSocket is open. */
export async function connectInspector(url: string): Promise<InspectorConnection> {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:')) {
    throw new ReplicationError('InvalidConfig', `inspector URL ${JSON.stringify(url)} is not a ws:// or wss:// URL`, {
      context: { url }, suggestion: 'pass the URL the inspector server printed, e.g. ws://127.0.0.1:43117',
    });
  }
  const { inspect, ws } = await loadInspect();
  const socket = new ws.WebSocket(url, { handshakeTimeout: CONNECT_TIMEOUT_MS });
  await new Promise<void>((resolve, reject) => {
    socket.on('open', () => resolve());
    socket.on('error', (cause) => reject(new ReplicationError('ConnectionClosed', `cannot reach the inspector server at ${url} (${cause.message})`, {
      cause, context: { url }, suggestion: 'start the inspector server first and pass the ws:// URL it prints',
    })));
  });
  socket.removeAllListeners('open');
  socket.removeAllListeners('error');
  socket.on('error', () => undefined); // losing the inspector must not stop the node: later events are dropped
  const inspector = inspect.createInspector({
    send(event) {
      if (socket.readyState === ws.WebSocket.OPEN && socket.bufferedAmount < SEND_QUEUE_BYTES_MAX) socket.send(toJson(event));
    },
  });
  return { observer: inspector.inspect, close: () => socket.close() };
}
