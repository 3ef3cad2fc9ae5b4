/**
 * Waiting in tests without sleeping: poll a condition until it holds, or take
 * the first value a listener-registering API delivers, both with a timeout
 * that fails with a clear message instead of hanging the file.
 *
 * @example
 * await waitFor(() => received.length === 3, { timeoutMs: 2000, what: 'three frames' })
 * const error = await once<Error | undefined>((l) => conn.onClose(l))
 */

/** Options of {@link waitFor}. */
export interface WaitForOptions {
  /** Give up after this long. Default 5000. */
  timeoutMs?: number;
  /** Poll interval. Default 5. */
  intervalMs?: number;
  /** What is awaited, for the timeout message. */
  what?: string;
}

/**
 * Resolves once `predicate` returns true (it may be async); rejects with
 * `waitFor timed out after N ms: <what>` otherwise.
 *
 * @example
 * await waitFor(() => conn.pendingBytes === 0, { what: 'send buffer empty' })
 */
export async function waitFor(predicate: () => boolean | Promise<boolean>, options: WaitForOptions = {}): Promise<void> {
  const { timeoutMs = 5000, intervalMs = 5, what = 'condition' } = options;
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await predicate()) return;
    if (performance.now() >= deadline) throw new Error(`waitFor timed out after ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/**
 * The first value passed to a listener registered through `register`, e.g.
 * `once((l) => conn.onClose(l))`; rejects after `timeoutMs` (default 5000).
 *
 * @example
 * await once<void>((l) => conn.onDrain(l), { what: 'drain' })
 */
export function once<T>(register: (listener: (value: T) => void) => void, options: { timeoutMs?: number; what?: string } = {}): Promise<T> {
  const { timeoutMs = 5000, what = 'event' } = options;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`once timed out after ${timeoutMs} ms: ${what}`)), timeoutMs);
    register((value) => {
      clearTimeout(timer);
      resolve(value);
    });
  });
}
