/**
 * The msgpackr profile for durable and wire data. Self-contained messages
 * (no shared record structures), no `toJSON` magic, buffers copied out of the
 * source so a decoded value never pins a socket chunk, and 64-bit integers
 * decoded losslessly as `bigint` (our own LSNs never travel as msgpack ints
 * beyond 2^53 - 1; they are fixed-width fields in record and batch headers).
 *
 * @example
 * const bytes = encodePayload({ id: 'm1', text: 'hello' })
 * decodePayload(bytes) // { id: 'm1', text: 'hello' }
 */
import { Packr } from 'msgpackr';
import { ReplicationError } from '../errors.js';

const packr = new Packr({
  useRecords: false,
  moreTypes: false,
  structuredClone: false,
  useToJSON: false,
  copyBuffers: true,
  mapsAsObjects: true,
  encodeUndefinedAsNil: true,
  int64AsType: 'bigint',
});

/** Encodes a payload. The returned view is valid until the next call; copy it if you keep it. */
export function encodePayload(value: unknown): Uint8Array {
  return packr.pack(value);
}

/** Decodes a payload; throws `MalformedMessage` on bytes that are not one msgpack value. */
export function decodePayload(bytes: Uint8Array): unknown {
  try {
    return packr.unpack(bytes);
  } catch (cause) {
    throw new ReplicationError('MalformedMessage', `payload is not valid msgpack (${bytes.length} bytes)`, { cause });
  }
}
