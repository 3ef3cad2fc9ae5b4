/**
 * Shared by the TCP adapter tests: every listener and connection a test opens
 * is tracked and closed afterwards, even when the test fails; plus byte
 * collection and a position-dependent byte pattern that makes loss,
 * duplication or reordering visible.
 *
 * @example
 * test('echo', () => withTcp(async (tcp) => { const l = await tcp.listen(echo); ... }))
 */
import { tcpTransport } from '../../src/adapters/tcpTransport.js';
import type { Connection, Listener, Transport } from '../../src/ports.js';
import { reportable } from '../helpers/tempDir.js';

/** Opens listeners and connections through a transport and remembers them for cleanup. */
export class TcpScope {
  readonly connections: Connection[] = [];
  readonly #listeners: Listener[] = [];
  constructor(readonly transport: Transport = tcpTransport) {}

  /** Listens on `address` (loopback, port 0 by default); accepted connections are tracked too. */
  async listen(onConnection: (conn: Connection) => void, address = '127.0.0.1:0', transport = this.transport): Promise<Listener> {
    const listener = await transport.listen(address, (conn) => {
      this.connections.push(conn);
      onConnection(conn);
    });
    this.#listeners.push(listener);
    return listener;
  }

  /** Connects to `address` with a generous timeout. */
  async connect(address: string, transport = this.transport, timeoutMs = 5000): Promise<Connection> {
    const conn = await transport.connect(address, { timeoutMs });
    this.connections.push(conn);
    return conn;
  }

  /** Closes every listener and destroys every connection. */
  async close(): Promise<void> {
    for (const listener of this.#listeners) await listener.close();
    for (const conn of this.connections) conn.destroy();
  }
}

/** Runs `fn` with a fresh {@link TcpScope}, closing everything afterwards. */
export async function withTcp(fn: (tcp: TcpScope) => Promise<void>, transport?: Transport): Promise<void> {
  const tcp = new TcpScope(transport);
  try {
    await fn(tcp);
  } catch (err) {
    throw reportable(err);
  } finally {
    await tcp.close();
  }
}

/** A connection handler that writes every received chunk back. */
export function echo(conn: Connection): void {
  conn.onData((chunk) => conn.write([chunk]));
}

/** What {@link collect} gathers. */
export interface Collected {
  readonly length: number;
  bytes(): Uint8Array;
}

/** Collects what `conn` receives; `bytes()` concatenates it. */
export function collect(conn: Connection): Collected {
  const chunks: Uint8Array[] = [];
  let length = 0;
  conn.onData((chunk) => {
    chunks.push(chunk);
    length += chunk.length;
  });
  return { get length() { return length; }, bytes: () => Buffer.concat(chunks) };
}

/** Records every `onClose` call of `conn`. */
export function closes(conn: Connection): (Error | undefined)[] {
  const calls: (Error | undefined)[] = [];
  conn.onClose((err) => calls.push(err));
  return calls;
}

/** Deterministic pseudo-random bytes (xorshift32) for payloads and garbage. */
export function pseudoRandomBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed | 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** The byte at stream position `i` of a pattern stream. */
export function patternByte(i: number): number {
  return (i * 31 + Math.floor(i / 65_521)) & 0xff;
}

/** `length` bytes of the pattern stream starting at position `start`. */
export function patternChunk(start: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = patternByte(start + i);
  return out;
}

/** Index of the first byte of `chunk` (at stream position `start`) off the pattern, or -1. */
export function patternMismatch(chunk: Uint8Array, start: number): number {
  for (let i = 0; i < chunk.length; i++) if (chunk[i] !== patternByte(start + i)) return i;
  return -1;
}

/** Resolves after the event loop has turned once (lets I/O callbacks run); not a timer. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
