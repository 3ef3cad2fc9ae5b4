/**
 * Transports that tamper with real TCP connections for tests (a slow link,
 * a held link, a damaged frame): everything is forwarded to the real
 * connection except the hooks given.
 *
 * @example
 * const slow = wrapTransport(tcpTransport, 'accepted', (c) => wrapConnection(c, { data: (chunk, deliver) => setTimeout(() => deliver(chunk), 50) }))
 */
import type { Connection, Transport } from '../../src/ports.js';

/** What a wrapped connection does differently. */
export interface ConnectionHooks {
  /** Replaces `write`; call `conn.write` yourself to send. */
  write?: (chunks: readonly Uint8Array[], conn: Connection) => boolean;
  /** Sees each received chunk; call `deliver` to pass it on (now, later, or never). */
  data?: (chunk: Uint8Array, deliver: (chunk: Uint8Array) => void) => void;
}

/** A Connection that forwards to `conn`, except for `hooks`. */
export function wrapConnection(conn: Connection, hooks: ConnectionHooks): Connection {
  return {
    get remoteAddress() { return conn.remoteAddress; },
    get pendingBytes() { return conn.pendingBytes; },
    write: (chunks) => (hooks.write === undefined ? conn.write(chunks) : hooks.write(chunks, conn)),
    onData: (listener) => conn.onData(hooks.data === undefined ? listener : (chunk) => hooks.data!(chunk, listener)),
    onDrain: (listener) => conn.onDrain(listener),
    onClose: (listener) => conn.onClose(listener),
    pause: () => conn.pause(),
    resume: () => conn.resume(),
    end: () => conn.end(),
    destroy: () => conn.destroy(),
  };
}

/** A transport whose accepted or dialled connections go through `wrap`. */
export function wrapTransport(base: Transport, side: 'accepted' | 'dialled', wrap: (conn: Connection) => Connection): Transport {
  return side === 'accepted'
    ? { listen: (address, onConnection) => base.listen(address, (conn) => onConnection(wrap(conn))), connect: (address, options) => base.connect(address, options) }
    : { listen: (address, onConnection) => base.listen(address, onConnection), connect: async (address, options) => wrap(await base.connect(address, options)) };
}
