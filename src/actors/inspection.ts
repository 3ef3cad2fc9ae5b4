/**
 * What a node hands to an xstate inspector: every inspection event with WAL
 * payload bytes replaced by `{ bytes: n }`, so an inspector (the Stately
 * inspector, a logger, a test) never receives, serialises or keeps alive a
 * log buffer. Only plain objects and arrays are walked, to a bounded depth;
 * objects that hold no bytes are passed on as they are (copy on write), and
 * actor refs and other class instances are left alone. A node without an
 * inspector never calls this: the wrapper exists only when `inspect` is set.
 *
 * @example
 * const inspect = strippingInspector((e) => console.log(e.type))
 * createActor(machine, { inspect })
 */
import { type InspectionEvent, type Observer, toObserver } from 'xstate';

/** What a byte buffer becomes in an inspected event. */
export interface StrippedBytes {
  /** The buffer's length in bytes. */
  readonly bytes: number;
}

/** Plain data deeper than this is passed on unwalked (machine contexts and events are shallow). */
const STRIP_DEPTH_MAX = 6;

function isPlainObject(value: object): value is Record<string, unknown> {
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** `value` with every ArrayBuffer or typed array inside it replaced by `{ bytes }`; the same object when there is none. */
export function stripBytes(value: unknown, depth = STRIP_DEPTH_MAX): unknown {
  if (ArrayBuffer.isView(value)) return { bytes: value.byteLength } satisfies StrippedBytes;
  if (value instanceof ArrayBuffer) return { bytes: value.byteLength } satisfies StrippedBytes;
  if (depth === 0 || typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    value.forEach((item: unknown, i) => {
      const stripped = stripBytes(item, depth - 1);
      if (stripped !== item) (copy ??= value.slice())[i] = stripped;
    });
    return copy ?? value;
  }
  if (!isPlainObject(value)) return value;
  let copy: Record<string, unknown> | undefined;
  for (const key of Object.keys(value)) {
    const item = value[key];
    const stripped = stripBytes(item, depth - 1);
    if (stripped !== item) (copy ??= { ...value })[key] = stripped;
  }
  return copy ?? value;
}

/** One inspection event with the payload-carrying fields (event, snapshot, action params) stripped. */
export function stripInspectionEvent(event: InspectionEvent): InspectionEvent {
  switch (event.type) {
    case '@xstate.event':
      return { ...event, event: stripBytes(event.event) as typeof event.event };
    case '@xstate.snapshot':
      return { ...event, event: stripBytes(event.event) as typeof event.event, snapshot: stripBytes(event.snapshot) as typeof event.snapshot };
    case '@xstate.microstep':
      return { ...event, event: stripBytes(event.event) as typeof event.event, snapshot: stripBytes(event.snapshot) as typeof event.snapshot };
    case '@xstate.action':
      return { ...event, action: { ...event.action, params: stripBytes(event.action.params) } };
    default:
      return event;
  }
}

/**
 * Wraps an inspection observer (or function) so it only sees stripped
 * events. An inspector that throws loses that event; it never breaks the
 * actor that was being inspected.
 */
export function strippingInspector(inspect: Observer<InspectionEvent> | ((event: InspectionEvent) => void)): Observer<InspectionEvent> {
  const inner = toObserver(inspect);
  return {
    next(event) {
      try {
        inner.next?.(stripInspectionEvent(event));
      } catch {
        // A viewer's failure must not stop replication: the event is dropped.
      }
    },
  };
}
