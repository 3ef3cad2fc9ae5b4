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

/** A map key `__proto__` as msgpack writes it (fixstr of 9 bytes). */
const PROTO_KEY = Uint8Array.from([0xa9, ...new TextEncoder().encode('__proto__')]);

/**
 * Encodes a payload. The returned view is valid until the next call; copy it if you keep it.
 * @throws ReplicationError `InvalidEntry` for an object with an own key `__proto__`: msgpackr
 * decodes that key as `__proto_` (so that it cannot set a prototype), so it would not read back as written.
 */
export function encodePayload(value: unknown): Uint8Array {
  const bytes = packr.pack(value);
  // The byte search is cheap and almost never hits; only a hit pays for the exact walk.
  if (bytes.indexOf(PROTO_KEY) !== -1 && hasProtoKey(value)) {
    throw new ReplicationError('InvalidEntry', 'an object key named "__proto__" cannot be stored: it would not read back as written', {
      suggestion: 'rename the key (for example to "proto")',
    });
  }
  return bytes;
}

function hasProtoKey(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || ArrayBuffer.isView(value)) return false;
  if (Array.isArray(value)) return value.some(hasProtoKey);
  if (Object.prototype.hasOwnProperty.call(value, '__proto__')) return true;
  return Object.values(value).some(hasProtoKey);
}

/** Decodes a payload; throws `MalformedMessage` on bytes that are not one msgpack value. */
export function decodePayload(bytes: Uint8Array): unknown {
  try {
    return packr.unpack(bytes);
  } catch (cause) {
    throw new ReplicationError('MalformedMessage', `payload is not valid msgpack (${bytes.length} bytes)`, { cause });
  }
}
