/**
 * One xstate actor system per node. Its root actor (`node`) owns every
 * machine of the node as a child — a shipper and a replica-health actor per
 * replica on the primary, a receiver per inbound connection on a replica —
 * so the Stately inspector shows them together, and all share the node's
 * clock. Children are spawned and stopped with events; the root never throws
 * into the host (it is created with an error observer).
 *
 * @example
 * const system = createNodeSystem({ clock, inspect, logics: { shipper, health, receiver }, onError })
 * const ref = system.spawn('shipper', 'shipper:n2', { replicaId: 'n2' })
 */
import { type AnyActorLogic, type AnyActorRef, type InspectionEvent, type Observer, type UnknownActorLogic, assign, createActor, setup, stopChild } from 'xstate';
import type { Clock } from '../ports.js';
import { strippingInspector } from './inspection.js';

/** The machine logics a node runs, provided with the node's effects. */
export interface NodeLogics {
  shipper: AnyActorLogic;
  health: AnyActorLogic;
  receiver: AnyActorLogic;
  promotion: AnyActorLogic;
}

type SpawnEvent = { type: 'child.spawn'; src: keyof NodeLogics; id: string; input: unknown };
type StopEvent = { type: 'child.stop'; id: string };

function rootMachine(logics: NodeLogics) {
  return setup({
    types: { context: {} as { children: Record<string, AnyActorRef> }, events: {} as SpawnEvent | StopEvent },
    actors: logics as unknown as Record<keyof NodeLogics, UnknownActorLogic>,
  }).createMachine({
    id: 'node',
    description: 'The root of a node: spawns and stops its shipper, replica-health and receiver actors.',
    context: { children: {} },
    on: {
      'child.spawn': {
        actions: assign({
          children: ({ context, event, spawn }) => ({
            ...context.children,
            [event.id]: (spawn as (src: string, options: { id: string; systemId: string; input: unknown }) => AnyActorRef)(
              event.src, { id: event.id, systemId: event.id, input: event.input }),
          }),
        }),
      },
      'child.stop': {
        actions: [
          stopChild(({ event }) => event.id),
          assign({
            children: ({ context, event }) => {
              const { [event.id]: _gone, ...rest } = context.children;
              return rest;
            },
          }),
        ],
      },
    },
  });
}

/** The node's actor system: spawn and stop machine actors inside it. */
export interface NodeSystem {
  /** Spawns a child of `src` logic with a unique `id`; returns its ref. */
  spawn(src: keyof NodeLogics, id: string, input: unknown): AnyActorRef;
  /** Stops and forgets a child. */
  stop(id: string): void;
  /** Stops the whole system. */
  shutdown(): void;
}

/** Creates and starts a node's actor system. */
export function createNodeSystem(options: {
  clock: Clock;
  logics: NodeLogics;
  inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void);
  onError: (err: unknown) => void;
}): NodeSystem {
  const root = createActor(rootMachine(options.logics), {
    clock: options.clock,
    // Only with an inspector is anything copied: WAL payload bytes are stripped from what it sees.
    ...(options.inspect === undefined ? {} : { inspect: strippingInspector(options.inspect) }),
  });
  root.subscribe({ error: options.onError });
  root.start();
  return {
    spawn(src, id, input) {
      root.send({ type: 'child.spawn', src, id, input });
      const ref = root.getSnapshot().context.children[id];
      if (ref === undefined) throw new Error(`actor ${id} was not spawned`);
      ref.subscribe({ error: options.onError });
      return ref;
    },
    stop(id) {
      root.send({ type: 'child.stop', id });
    },
    shutdown() {
      root.stop();
    },
  };
}
