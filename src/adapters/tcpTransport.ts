/**
 * The real network behind the `Transport` port: TCP sockets from `node:net`.
 * Addresses are `host:port` strings (`127.0.0.1:7400`, `[::1]:7400`,
 * `db-1.internal:7400`); port 0 asks `listen` for a free port.
 *
 * Every socket gets TCP keepalive and (by default) `TCP_NODELAY`. A frame
 * written as several buffers goes out in one vectored write (cork/uncork).
 * Socket errors never escape as uncaught exceptions: they become the `error`
 * passed to `onClose`.
 *
 * @example
 * const listener = await tcpTransport.listen('127.0.0.1:0', (conn) => conn.onData((c) => conn.write([c])))
 * const conn = await tcpTransport.connect(listener.address, { timeoutMs: 5000 })
 */
import net from 'node:net';
import { ReplicationError } from '../errors.js';
import type { Connection, Listener, Transport } from '../ports.js';

/** Tuning of {@link createTcpTransport}; every field has a default. */
export interface TcpTransportOptions {
  /** Idle time before the first TCP keepalive probe. Default 10_000. */
  keepAliveMs?: number;
  /**
   * `write()` returns false once this many bytes wait in the socket's send
   * buffer. Values below Node's own socket high-water mark (16 KiB) are raised
   * to it, so a false is always followed by `onDrain`. Default 4 MiB.
   */
  highWaterMarkBytes?: number;
  /** Disables Nagle's algorithm (`TCP_NODELAY`). Default true. */
  noDelay?: boolean;
  /** After `end()`, how long to wait for the peer to close before destroying. Default 5_000. */
  endTimeoutMs?: number;
}

/** A parsed `host:port` address. */
export interface TcpAddress {
  host: string;
  port: number;
}

const hostnamePattern = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

function invalidAddress(address: string, why: string): ReplicationError {
  return new ReplicationError('InvalidConfig', `invalid address ${JSON.stringify(address)}: ${why}`,
    { suggestion: 'write addresses as host:port, e.g. 127.0.0.1:7400 or [::1]:7400' });
}

/**
 * Parses `host:port`: an IPv4 address, a host name, or a bracketed IPv6
 * address. Throws `InvalidConfig` for anything else, and for port 0 unless
 * `allowPortZero` (listening on a free port).
 *
 * @example
 * parseTcpAddress('[::1]:7400') // { host: '::1', port: 7400 }
 */
export function parseTcpAddress(address: string, allowPortZero = false): TcpAddress {
  const bracketed = /^\[([^\]]*)\]:(.*)$/.exec(address);
  const colon = address.lastIndexOf(':');
  const host = bracketed ? bracketed[1]! : address.slice(0, Math.max(colon, 0));
  const portText = bracketed ? bracketed[2]! : address.slice(colon + 1);
  if (!bracketed && colon < 0) throw invalidAddress(address, 'no port');
  if (bracketed && !net.isIPv6(host)) throw invalidAddress(address, `${host} is not an IPv6 address`);
  if (!bracketed && host.includes(':')) throw invalidAddress(address, 'IPv6 addresses must be in brackets');
  if (!bracketed && !net.isIPv4(host) && (!hostnamePattern.test(host) || /^[\d.]+$/.test(host))) {
    throw invalidAddress(address, `${JSON.stringify(host)} is not an IPv4 address or host name`);
  }
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) throw invalidAddress(address, 'port must be 0..65535');
  const port = Number(portText);
  if (port === 0 && !allowPortZero) throw invalidAddress(address, 'port 0 can only be listened on');
  return { host, port };
}

/**
 * Formats `host:port`, bracketing IPv6 hosts.
 *
 * @example
 * formatTcpAddress('::1', 7400) // '[::1]:7400'
 */
export function formatTcpAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

interface Settings {
  keepAliveMs: number;
  highWaterMarkBytes: number;
  noDelay: boolean;
  endTimeoutMs: number;
}

/**
 * A `Connection` over one TCP socket. Reading starts when the first `onData`
 * listener is registered (until then a peer's end or reset goes unnoticed).
 * Node hands every read its own fresh buffer, so views of a chunk may be kept.
 *
 * `onClose` gets the socket's error (ECONNRESET, EPIPE, ...) or, when a
 * listener threw, that exception; `undefined` for an orderly end. TCP cannot
 * always tell the two apart: a reset that arrives while received bytes are
 * still unread is reported by libuv as a plain end of stream.
 */
class TcpConnection implements Connection {
  readonly remoteAddress: string;
  readonly #socket: net.Socket;
  readonly #settings: Settings;
  readonly #dataListeners: ((chunk: Uint8Array) => void)[] = [];
  readonly #drainListeners: (() => void)[] = [];
  readonly #closeListeners: ((error: Error | undefined) => void)[] = [];
  #reading = false;
  #paused = false;
  #needDrain = false;
  #closed = false;
  #error: Error | undefined;
  #endTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(socket: net.Socket, settings: Settings, fallbackAddress: string) {
    this.#socket = socket;
    this.#settings = settings;
    const { remoteAddress: host, remotePort: port } = socket;
    this.remoteAddress = host !== undefined && port !== undefined ? formatTcpAddress(host, port) : fallbackAddress;
    socket.setNoDelay(settings.noDelay);
    socket.setKeepAlive(true, settings.keepAliveMs);
    socket.on('error', (err) => { this.#error ??= err; });
    socket.on('drain', () => this.#drained());
    socket.once('close', () => this.#onSocketClose());
  }

  get pendingBytes(): number {
    return this.#socket.writableLength;
  }

  write(chunks: readonly Uint8Array[]): boolean {
    const socket = this.#socket;
    if (socket.destroyed || socket.writableEnded) return false; // closing: onClose follows
    socket.cork();
    for (const chunk of chunks) if (chunk.length > 0) socket.write(chunk);
    socket.uncork();
    const below = socket.writableLength < this.#settings.highWaterMarkBytes;
    if (!below) this.#needDrain = true;
    return below;
  }

  onData(listener: (chunk: Uint8Array) => void): void {
    this.#dataListeners.push(listener);
    if (this.#reading) return;
    this.#reading = true;
    this.#socket.on('data', (chunk: Buffer) => {
      for (const l of this.#dataListeners) {
        try { l(chunk); } catch (err) { return this.#fail(err); }
      }
    });
    if (this.#paused) this.#socket.pause();
    else this.#socket.resume();
  }

  onDrain(listener: () => void): void {
    this.#drainListeners.push(listener);
  }

  onClose(listener: (error: Error | undefined) => void): void {
    if (this.#closed) queueMicrotask(() => this.#callClose(listener));
    else this.#closeListeners.push(listener);
  }

  pause(): void {
    this.#paused = true;
    this.#socket.pause();
  }

  resume(): void {
    this.#paused = false;
    if (this.#reading) this.#socket.resume();
  }

  end(): void {
    const socket = this.#socket;
    if (socket.destroyed || socket.writableEnded) return;
    socket.end();
    if (!this.#reading) this.onData(() => {}); // read on, so the peer's end is seen
    this.#endTimer = setTimeout(() => this.#endTimedOut(), this.#settings.endTimeoutMs);
    this.#endTimer.unref();
  }

  /**
   * Aborts with a TCP reset (queued bytes are dropped), so the peer sees
   * ECONNRESET rather than a clean end (see the class note for the exception).
   */
  destroy(): void {
    const socket = this.#socket;
    if (socket.destroyed) return;
    if (socket.writableEnded && !socket.writableFinished) {
      // A graceful end is in progress: libuv refuses a reset now (EINVAL) after
      // Node already marked the socket closing, so 'close' would never come
      // and the descriptor would leak. A plain destroy finishes it.
      socket.destroy();
      return;
    }
    try {
      socket.resetAndDestroy();
    } catch {
      socket.destroy();
    }
  }

  #fail(err: unknown): void {
    this.#error ??= err instanceof Error ? err : new Error(String(err));
    this.destroy();
  }

  /**
   * The peer did not close in time. If every byte reached the kernel, close
   * normally (the kernel still delivers what it holds); otherwise fail.
   */
  #endTimedOut(): void {
    const unsent = this.#socket.writableLength;
    if (this.#socket.writableFinished) this.#socket.destroy();
    else this.#fail(new ReplicationError('ConnectionTimeout', `${this.remoteAddress} did not take the last ${unsent} bytes within ${this.#settings.endTimeoutMs} ms of end()`));
  }

  #drained(): void {
    if (!this.#needDrain || this.#socket.writableLength >= this.#settings.highWaterMarkBytes) return;
    this.#needDrain = false;
    for (const l of this.#drainListeners) {
      try { l(); } catch (err) { return this.#fail(err); }
    }
  }

  #onSocketClose(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#endTimer !== undefined) clearTimeout(this.#endTimer);
    for (const l of this.#closeListeners.splice(0)) this.#callClose(l);
  }

  /** Close listeners run guarded: one that throws cannot stop the others or crash the host. */
  #callClose(listener: (error: Error | undefined) => void): void {
    try { listener(this.#error); } catch { /* swallowed on purpose: the connection is gone */ }
  }
}

/**
 * Builds a TCP `Transport` with the given tuning.
 *
 * @example
 * const transport = createTcpTransport({ keepAliveMs: 10_000, highWaterMarkBytes: 4 * 1024 * 1024 })
 */
export function createTcpTransport(options: TcpTransportOptions = {}): Transport {
  const settings: Settings = {
    keepAliveMs: options.keepAliveMs ?? 10_000,
    highWaterMarkBytes: Math.max(options.highWaterMarkBytes ?? 4 * 1024 * 1024, 16 * 1024),
    noDelay: options.noDelay ?? true,
    endTimeoutMs: options.endTimeoutMs ?? 5_000,
  };

  async function listen(address: string, onConnection: (connection: Connection) => void): Promise<Listener> {
    const { host, port } = parseTcpAddress(address, true);
    const server = net.createServer((socket) => {
      const connection = new TcpConnection(socket, settings, 'unknown');
      try { onConnection(connection); } catch { connection.destroy(); }
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (cause: NodeJS.ErrnoException) => reject(new ReplicationError('IoError',
        `listen on ${address} failed (${cause.code ?? cause.message})`,
        { cause, suggestion: 'check that the address is local and the port is free, or use port 0' })));
      server.listen({ host, port }, () => resolve());
    });
    server.on('error', () => {}); // accept failures (EMFILE) must not crash the host
    const bound = server.address() as net.AddressInfo;
    let closed = false;
    return {
      address: formatTcpAddress(bound.address, bound.port),
      async close() {
        if (closed) return;
        closed = true;
        server.close(); // stops accepting now; accepted connections stay open
      },
    };
  }

  function connect(address: string, { timeoutMs }: { timeoutMs: number }): Promise<Connection> {
    return new Promise((resolve, reject) => {
      if (!(timeoutMs > 0)) throw new ReplicationError('InvalidConfig', `connect timeout must be > 0 ms, got ${timeoutMs}`);
      const { host, port } = parseTcpAddress(address);
      const socket = net.connect({ host, port });
      socket.on('error', () => {}); // reported through the promise, never uncaught
      const done = (): void => {
        clearTimeout(timer);
        socket.removeListener('connect', onConnect);
        socket.removeListener('error', onError);
      };
      const onConnect = (): void => {
        done();
        resolve(new TcpConnection(socket, settings, address));
      };
      const onError = (cause: NodeJS.ErrnoException): void => {
        done();
        socket.destroy();
        reject(new ReplicationError('ConnectionClosed', `connect to ${address} failed (${cause.code ?? cause.message})`,
          { cause, suggestion: 'check that the peer is running and listening on that address' }));
      };
      const timer = setTimeout(() => {
        done();
        socket.destroy();
        reject(new ReplicationError('ConnectionTimeout', `connect to ${address} timed out after ${timeoutMs} ms`,
          { suggestion: 'check that the peer is reachable (firewall, address, overloaded listener)' }));
      }, Math.min(timeoutMs, 2 ** 31 - 1));
      socket.once('connect', onConnect);
      socket.once('error', onError);
    });
  }

  return { listen, connect };
}

/**
 * The TCP transport with default tuning (keepalive 10 s, 4 MiB write
 * high-water mark, `TCP_NODELAY`).
 *
 * @example
 * const conn = await tcpTransport.connect('127.0.0.1:7400', { timeoutMs: 5000 })
 */
export const tcpTransport: Transport = createTcpTransport();
