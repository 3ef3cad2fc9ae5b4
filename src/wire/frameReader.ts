/**
 * Incremental frame reader for a TCP byte stream: accepts chunks of any size
 * and yields whole frames, whether one frame spans many chunks or one chunk
 * holds many frames. A frame inside one chunk is returned as a view of that
 * chunk; a frame spread over several is copied once into its own buffer, or,
 * with `reuseAssembly`, into one buffer the reader reuses: such a frame is
 * valid only until the next call to `next()`, and a caller that keeps its
 * bytes copies them. A replica's 260 KB BATCH frames nearly always span
 * socket chunks; a fresh buffer for each is external memory that drives
 * full garbage collections.
 *
 * Validation happens on the 5-byte header, before the body arrives: an
 * impossible length or an unknown type throws at once, so garbage on the port
 * never makes the reader buffer up to the size limit.
 *
 * @example
 * const reader = new FrameReader()
 * socket.on('data', (chunk) => { reader.push(chunk); for (let f; (f = reader.next()); ) handle(f) })
 */
import { ReplicationError } from '../errors.js';
import { FRAME_HEADER_BYTES, FRAME_MAX_BYTES_DEFAULT, type Frame, isFrameType } from './frame.js';

export class FrameReader {
  readonly #maxFrameBytes: number;
  #chunks: Uint8Array[] = [];
  /** Read position inside `#chunks[0]`. */
  #offset = 0;
  #buffered = 0;
  /** With `reuseAssembly`: the buffer spanning frames are copied into (grown, never shrunk). */
  #assembly: Uint8Array | undefined;

  /**
   * `reuseAssembly`: frames that span chunks share one buffer, valid until
   * the next `next()` (see above). Off by default: every frame stays valid.
   */
  constructor(maxFrameBytes = FRAME_MAX_BYTES_DEFAULT, options: { reuseAssembly?: boolean } = {}) {
    this.#maxFrameBytes = maxFrameBytes;
    if (options.reuseAssembly === true) this.#assembly = new Uint8Array(0);
  }

  /** Bytes received but not yet returned as frames. */
  get bufferedBytes(): number {
    return this.#buffered;
  }

  /** Adds received bytes. The reader keeps a reference: do not reuse `chunk`. */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
  }

  /**
   * The next whole frame, or `undefined` when more bytes are needed. Throws
   * `FrameTooLarge` or `UnknownFrameType` as soon as a bad header is seen;
   * the reader is then unusable and the connection should be closed.
   */
  next(): Frame | undefined {
    if (this.#buffered < FRAME_HEADER_BYTES) return undefined;
    const head = this.#peekHeader();
    const length = head.length;
    if (length < 1 || length > this.#maxFrameBytes) {
      throw new ReplicationError('FrameTooLarge', `frame length ${length} is outside 1..${this.#maxFrameBytes}`,
        { suggestion: 'the peer is not an engram-replication node, or it uses a larger frame limit' });
    }
    if (!isFrameType(head.type)) {
      throw new ReplicationError('UnknownFrameType', `unknown frame type ${head.type}`,
        { suggestion: 'the peer is not an engram-replication node of a compatible version' });
    }
    const bodyBytes = length - 1;
    if (this.#buffered < FRAME_HEADER_BYTES + bodyBytes) return undefined;
    this.#consume(FRAME_HEADER_BYTES);
    return { type: head.type, body: this.#take(bodyBytes) };
  }

  /** Throws `TruncatedFrame` when the stream ended inside a frame. */
  finish(): void {
    if (this.#buffered > 0) {
      throw new ReplicationError('TruncatedFrame', `stream ended with ${this.#buffered} bytes of an incomplete frame`);
    }
  }

  #peekHeader(): { length: number; type: number } {
    const first = this.#chunks[0]!;
    if (first.length - this.#offset >= FRAME_HEADER_BYTES) {
      const o = this.#offset;
      const length = (first[o]! | (first[o + 1]! << 8) | (first[o + 2]! << 16)) + first[o + 3]! * 0x1000000;
      return { length, type: first[o + 4]! };
    }
    const bytes = this.#peek(FRAME_HEADER_BYTES);
    const length = (bytes[0]! | (bytes[1]! << 8) | (bytes[2]! << 16)) + bytes[3]! * 0x1000000;
    return { length, type: bytes[4]! };
  }

  #peek(n: number, into?: Uint8Array): Uint8Array {
    const out = into ?? new Uint8Array(n);
    let filled = 0;
    let offset = this.#offset;
    for (const chunk of this.#chunks) {
      const take = Math.min(n - filled, chunk.length - offset);
      out.set(chunk.subarray(offset, offset + take), filled);
      filled += take;
      offset = 0;
      if (filled === n) break;
    }
    return out;
  }

  #take(n: number): Uint8Array {
    const first = this.#chunks[0];
    if (n === 0) return new Uint8Array(0);
    if (first !== undefined && first.length - this.#offset >= n) {
      const view = first.subarray(this.#offset, this.#offset + n);
      this.#consume(n);
      return view;
    }
    const out = this.#assembly === undefined ? this.#peek(n) : this.#peek(n, this.#assemblyOf(n));
    this.#consume(n);
    return out;
  }

  /** The reused assembly buffer's first `n` bytes, grown to hold them. */
  #assemblyOf(n: number): Uint8Array {
    if (this.#assembly!.length < n) {
      // Uninitialised: every byte of the view is written by #peek before it is returned.
      this.#assembly = new Uint8Array(Buffer.allocUnsafeSlow(Math.max(n, Math.min(this.#assembly!.length * 2, this.#maxFrameBytes))).buffer);
    }
    return this.#assembly!.subarray(0, n);
  }

  #consume(n: number): void {
    this.#buffered -= n;
    while (n > 0) {
      const first = this.#chunks[0]!;
      const left = first.length - this.#offset;
      if (n < left) {
        this.#offset += n;
        return;
      }
      n -= left;
      this.#chunks.shift();
      this.#offset = 0;
    }
  }
}
