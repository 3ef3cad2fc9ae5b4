/**
 * The one error type of engram-replication. Callers branch on `err.code`,
 * never on the message.
 *
 * @example
 * try { await node.write('notes', entry) }
 * catch (err) { if (isReplicationError(err, 'NotPrimary')) redirect(err) }
 */

/** Every error code the library raises, as a const object (not an enum). */
export const ErrorCode = {
  // wire
  BadMagic: 'BadMagic',
  UnsupportedVersion: 'UnsupportedVersion',
  EmptyBatch: 'EmptyBatch',
  InvalidBatchSize: 'InvalidBatchSize',
  FrameTooLarge: 'FrameTooLarge',
  UnknownFrameType: 'UnknownFrameType',
  TruncatedFrame: 'TruncatedFrame',
  TruncatedBatch: 'TruncatedBatch',
  TruncatedEntry: 'TruncatedEntry',
  ChecksumMismatch: 'ChecksumMismatch',
  MalformedMessage: 'MalformedMessage',
  // replication protocol
  StaleEpoch: 'StaleEpoch',
  LogGap: 'LogGap',
  ClusterMismatch: 'ClusterMismatch',
  ConnectionTimeout: 'ConnectionTimeout',
  ConnectionClosed: 'ConnectionClosed',
  MaxRetriesExceeded: 'MaxRetriesExceeded',
  ReplicaNotFound: 'ReplicaNotFound',
  NotPrimary: 'NotPrimary',
  AckTimeout: 'AckTimeout',
  PromotionRefused: 'PromotionRefused',
  HandoverFailed: 'HandoverFailed',
  // log and storage
  Corruption: 'Corruption',
  LogTruncated: 'LogTruncated',
  LogClosed: 'LogClosed',
  LsnOverflow: 'LsnOverflow',
  IoError: 'IoError',
  // host-facing
  InvalidConfig: 'InvalidConfig',
  InvalidEntry: 'InvalidEntry',
  Closed: 'Closed',
  Overloaded: 'Overloaded',
} as const;

/** A stable error code string, e.g. `'ChecksumMismatch'`. */
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Optional parts of a {@link ReplicationError}. */
export interface ReplicationErrorOptions {
  /** What the caller can do about it. */
  suggestion?: string;
  /** The underlying error, if any. */
  cause?: unknown;
  /** Structured context (file, offset, LSNs, ...) for logs and tests. */
  context?: Record<string, unknown>;
}

/**
 * The error class of the library: a stable `code`, a message that says what
 * happened, an optional `suggestion`, `cause` and `context`. (The field is
 * `context`, not `details`: test runners such as uvu read an error's
 * `details` as an assertion diff and hide the failure.)
 *
 * @example
 * throw new ReplicationError('StaleEpoch', 'batch from epoch 3, local epoch is 4',
 *   { suggestion: 'the sender must step down and follow the new primary' })
 */
export class ReplicationError extends Error {
  /** Stable code to branch on. */
  readonly code: ErrorCode;
  /** What the caller can do about it, when there is something. */
  readonly suggestion: string | undefined;
  /** Structured context (file, offset, LSNs, ...). */
  readonly context: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: ReplicationErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ReplicationError';
    this.code = code;
    this.suggestion = options.suggestion;
    this.context = options.context;
  }

  /** Plain JSON shape used by the HTTP API and ERROR frames. */
  toJSON(): { code: ErrorCode; message: string; suggestion?: string } {
    return this.suggestion === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, suggestion: this.suggestion };
  }
}

/**
 * True when `err` is a {@link ReplicationError}, optionally with the given code.
 *
 * @example
 * if (isReplicationError(err, 'Corruption')) console.error(err.context)
 */
export function isReplicationError(err: unknown, code?: ErrorCode): err is ReplicationError {
  return err instanceof ReplicationError && (code === undefined || err.code === code);
}
