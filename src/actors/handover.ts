/**
 * The primary's side of a planned switchover (`node.handover()`), once its
 * promotion machine is `HandingOver`: writes are refused; when every record
 * this node appended is durable here and flushed on the target, the target
 * gets HANDOVER and stands with a forced election, which this node grants
 * (it steps down). Settles when the target is heard as primary of a newer
 * epoch, or fails with `HandoverFailed`.
 *
 * A HANDOVER the target provably did not act on is reported as ignored and
 * sent again, up to {@link HANDOVER_SENDS_MAX} times in all. The proof: on
 * the same connection, the target acknowledged (in this epoch) a frame sent
 * after it; a stream keeps its order, so it read HANDOVER and did not stand
 * (a node that stands refuses this epoch's frames from then on). Nothing on
 * another connection proves it: the target may still read the old one.
 *
 * @example
 * const run = new HandoverRun(host, 'n2', 4, 1500)
 * run.start(); onAck(() => run.progress()); await run.done // { primary: 'n2', epoch: 5 }
 */
import { ReplicationError } from '../errors.js';
import type { Clock } from '../ports.js';

/** What a {@link HandoverRun} needs from its node. */
export interface HandoverHost {
  readonly clock: Clock;
  /** Resolves with this node's last LSN once everything appended so far is durable. */
  durableLastLsn(): Promise<number>;
  /** The target's flushed LSN, from its ACKs. */
  flushedOn(nodeId: string): number;
  /** Sends HANDOVER to the target; false when no stream to it is up. */
  sendHandover(nodeId: string, epoch: number, lsn: number): boolean;
  /** The target's current connection, the newest send time (`clock`) stamped on a frame of it, and the newest its ACKs echoed. */
  streamTo(nodeId: string): { generation: number; sentMs: number; echoedMs: number } | undefined;
  /** A HANDOVER went out (`true`), or the target showed it did not act on the last one (`false`). */
  handoverInFlight(inFlight: boolean): void;
}

/** HANDOVER frames one run sends at most (the first, and resends after the target ignored one). */
export const HANDOVER_SENDS_MAX = 3;

/** How a handover ended. */
export interface HandoverResult {
  /** The new primary: the target. */
  readonly primary: string;
  /** The epoch it leads. */
  readonly epoch: number;
  /** The last LSN of the old primary, which the target held before it stood. */
  readonly lsn: number;
}

/** One handover from this primary (of `epoch`) to `to`. */
export class HandoverRun {
  readonly to: string;
  readonly epoch: number;
  /** Settles once the handover completed or failed. */
  readonly done: Promise<HandoverResult>;
  readonly #host: HandoverHost;
  readonly #timeoutMs: number;
  #lsn: number | undefined;
  #sends = 0;
  /** The HANDOVER in flight (not shown ignored): its send time and connection, else undefined. */
  #inFlight: { atMs: number; generation: number } | undefined;
  #steppedDown = false;
  #settled = false;
  #timer: unknown;
  #resolve!: (result: HandoverResult) => void;
  #reject!: (err: ReplicationError) => void;

  constructor(host: HandoverHost, to: string, epoch: number, timeoutMs: number) {
    this.#host = host;
    this.to = to;
    this.epoch = epoch;
    this.#timeoutMs = timeoutMs;
    this.done = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }

  /** Waits for this node's own log to be durable, then sends HANDOVER as soon as the target has flushed it all. */
  start(): void {
    this.#host.durableLastLsn().then(
      (lsn) => {
        this.#lsn = lsn;
        this.progress();
      },
      (err: unknown) => this.fail('logFailed', `the log could not be made durable: ${err instanceof Error ? err.message : String(err)}`),
    );
  }

  /**
   * A replica acknowledged something: once the target holds every record,
   * send HANDOVER; when the target shows it did not act on the one in
   * flight, report that and send again (within the limit).
   */
  progress(): void {
    const host = this.#host;
    if (this.#settled || this.#steppedDown || this.#lsn === undefined) return;
    if (this.#inFlight !== undefined) {
      const stream = host.streamTo(this.to);
      if (stream === undefined || stream.generation !== this.#inFlight.generation || stream.echoedMs <= this.#inFlight.atMs) return;
      this.#inFlight = undefined;
      host.handoverInFlight(false);
    }
    if (this.#sends >= HANDOVER_SENDS_MAX || host.flushedOn(this.to) < this.#lsn) return;
    const stream = host.streamTo(this.to);
    if (stream === undefined || !host.sendHandover(this.to, this.epoch, this.#lsn)) return;
    this.#sends++;
    // Only a frame stamped later than every frame before HANDOVER proves it was read, even if the clock stepped back.
    this.#inFlight = { atMs: Math.max(host.clock.now(), stream.sentMs), generation: stream.generation };
    host.handoverInFlight(true);
  }

  /** This node stepped down (it granted the target's forced vote): wait up to the timeout to hear the new primary. */
  steppedDown(): void {
    this.#steppedDown = true;
    if (this.#settled || this.#timer !== undefined) return;
    this.#timer = this.#host.clock.setTimeout(
      () => this.fail('notElected', `${this.to} was not heard as primary within ${this.#timeoutMs} ms of this node stepping down`),
      this.#timeoutMs,
    );
  }

  /** A primary of `epoch` was heard: the target completes the handover, anyone else fails it. */
  primaryHeard(from: string, epoch: number): void {
    if (this.#settled || epoch <= this.epoch) return;
    if (from !== this.to) {
      this.fail('otherPrimary', `${from} became primary of epoch ${epoch}, not ${this.to}`);
      return;
    }
    this.#settle();
    this.#resolve({ primary: from, epoch, lsn: this.#lsn ?? 0 });
  }

  /** Ends the run with `HandoverFailed` (`reason` in its context). */
  fail(reason: string, message: string): void {
    if (this.#settled) return;
    this.#settle();
    this.#reject(new ReplicationError('HandoverFailed', `handover to ${this.to} failed: ${message}`, {
      context: { reason, to: this.to, epoch: this.epoch, lsn: this.#lsn ?? null, handoverSends: this.#sends, handoverInFlight: this.#inFlight !== undefined },
      suggestion: reason === 'timeout' && this.#sends === 0
        ? 'the target did not catch up in time: retry when it is Healthy, or with a longer timeoutMs'
        : 'check status() on every node: the cluster elects a primary by itself if this one stepped down',
    }));
  }

  #settle(): void {
    this.#settled = true;
    if (this.#timer !== undefined) this.#host.clock.clearTimeout(this.#timer);
  }
}
