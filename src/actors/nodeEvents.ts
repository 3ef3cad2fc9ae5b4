/**
 * Host-facing events of a node (nanoevents). A listener that throws never
 * breaks the node: its error is logged and the other listeners still run.
 *
 * @example
 * node.on('replicaStatus', ({ replica, from, to, why }) => console.log(replica, from, '->', to, why))
 */
import { createNanoEvents } from 'nanoevents';
import type { Logger } from './nodeOptions.js';

/** Replica health status. */
export type ReplicaStatus = 'Healthy' | 'Lagging' | 'Degraded' | 'Failed';

/** Events a node emits, with their payloads. */
export interface NodeEventMap {
  /** A replica's health changed (on the primary). */
  replicaStatus: (event: { replica: string; from: ReplicaStatus; to: ReplicaStatus; why: string }) => void;
  /** A replica's lag crossed the degraded or severe threshold. */
  lagAlert: (event: { replica: string; level: 'degraded' | 'severe'; lagMs: number; lagEntries: number }) => void;
  /** Something went wrong that the node handled (a refused frame, a failed connection, ...). */
  error: (event: { code: string; message: string; replica?: string }) => void;
  /** This node became the primary of `epoch` (by election, forced promotion, handover, or bootstrap). */
  promoted: (event: { epoch: number; via: 'election' | 'force' | 'handover' | 'bootstrap'; forced: boolean; failoverMs: number | null }) => void;
  /** This node stopped being primary (or candidate): it saw a higher epoch or another primary won. */
  demoted: (event: { epoch: number; reason: string; primary: string | null }) => void;
  /** Rejoining a primary cut this node's divergent tail; the records are kept in `quarantineFile`. */
  truncated: (event: { fromLsn: number; toLsn: number; count: number; quarantineFile: string }) => void;
  /** A replica caught up from a snapshot (on the primary: sent; on a replica: installed). */
  snapshot: (event: { replica?: string; lsn: number; bytes: number; direction: 'sent' | 'installed' }) => void;
}

/** A typed emitter whose `emit` never throws. */
export class NodeEvents {
  readonly #emitter = createNanoEvents<NodeEventMap>();
  readonly #logger: Logger;

  constructor(logger: Logger) {
    this.#logger = logger;
  }

  /** Adds a listener; returns the function that removes it. */
  on<E extends keyof NodeEventMap>(event: E, listener: NodeEventMap[E]): () => void {
    const logger = this.#logger;
    const guarded = ((...args: unknown[]) => {
      try {
        (listener as (...a: unknown[]) => void)(...args);
      } catch (err) {
        logger.warn(`a '${String(event)}' listener threw; ignored`, { error: String(err) });
      }
    }) as NodeEventMap[E];
    return this.#emitter.on(event, guarded);
  }

  /** Emits to every listener. */
  emit<E extends keyof NodeEventMap>(event: E, ...args: Parameters<NodeEventMap[E]>): void {
    this.#emitter.emit(event, ...args);
  }
}
