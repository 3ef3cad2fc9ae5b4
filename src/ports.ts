/**
 * Ports: the few interfaces through which time and randomness reach the
 * library, so the same code runs on the real clock or a simulated one.
 * Real implementations live in `src/adapters`; simulated ones in `src/testing`.
 */

/**
 * Time and timers. Compatible with xstate's `clock` option, so the actor
 * system's delayed transitions use the same clock as everything else.
 *
 * @example
 * const clock: Clock = systemClock
 * const id = clock.setTimeout(() => tick(), 100); clock.clearTimeout(id)
 */
export interface Clock {
  /** Milliseconds since the Unix epoch (wall clock, as written into records). */
  now(): number;
  /** Calls `fn` once after `ms` milliseconds; returns a handle for `clearTimeout`. */
  setTimeout(fn: () => void, ms: number): unknown;
  /** Cancels a timer from `setTimeout`; unknown handles are ignored. */
  clearTimeout(handle: unknown): void;
}

/**
 * Randomness (election timeouts, backoff jitter), seeded in simulation.
 *
 * @example
 * const jitterMs = random.next() * 100
 */
export interface Random {
  /** A number in [0, 1). */
  next(): number;
}

/**
 * One duplex byte-stream connection (a TCP socket, or a simulated link).
 * Frames are written as lists of buffers so a batch payload goes out without
 * being copied into a frame.
 */
export interface Connection {
  /** `host:port` of the peer, for logs and errors. */
  readonly remoteAddress: string;
  /**
   * Queues `chunks` in order. Returns false when the connection's send buffer
   * is over its high-water mark: stop writing until `onDrain` fires.
   */
  write(chunks: readonly Uint8Array[]): boolean;
  /** Bytes queued but not yet handed to the network. */
  readonly pendingBytes: number;
  /** Received bytes; a chunk is never reused by the connection, so views of it may be kept. */
  onData(listener: (chunk: Uint8Array) => void): void;
  /** The send buffer drained below its high-water mark. */
  onDrain(listener: () => void): void;
  /** The connection closed (once); `error` when it failed rather than ended. */
  onClose(listener: (error: Error | undefined) => void): void;
  /** Stops delivering `onData` (receive-side back-pressure) until `resume`. */
  pause(): void;
  resume(): void;
  /** Closes after queued writes are sent. */
  end(): void;
  /** Closes at once, dropping queued writes. */
  destroy(): void;
}

/** Accepts connections on an address until closed. */
export interface Listener {
  /** The bound `host:port` (the real port when 0 was asked for). */
  readonly address: string;
  close(): Promise<void>;
}

/**
 * Opens connections: the TCP adapter (`src/adapters/tcpTransport.ts`) or a
 * simulated network.
 *
 * @example
 * const listener = await transport.listen('127.0.0.1:0', (conn) => serve(conn))
 * const conn = await transport.connect(listener.address, { timeoutMs: 5000 })
 */
export interface Transport {
  listen(address: string, onConnection: (connection: Connection) => void): Promise<Listener>;
  /** Rejects with `ConnectionTimeout` after `timeoutMs`, or `ConnectionClosed` when refused. */
  connect(address: string, options: { timeoutMs: number }): Promise<Connection>;
}
