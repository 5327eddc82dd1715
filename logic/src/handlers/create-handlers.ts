import type { ClientEvent, Principal } from "../../../gen/chatcluster/v1/gateway_stream_pb.js";
import { ERROR_CODES, encodeErrorFrame } from "../../../protocol/index.ts";
import type { EventSink, GatewayRef } from "../gateway-fleet.ts";
import { InMemoryPresenceTable } from "../store/in-memory-presence-table.ts";
import { handleAuth } from "./auth-handler.ts";
import { handleDelete, handleEdit } from "./edit-handlers.ts";
import { HandlerContext, type HandlerDeps } from "./handler-context.ts";
import { handleJoin } from "./join-handler.ts";
import { handlePresenceChange, handlePresenceLease, handlePresenceQuery } from "./presence-handlers.ts";
import { handleReadMarker } from "./read-marker-handler.ts";
import { handleRpc } from "./rpc-handler.ts";
import { handleSend } from "./send-handler.ts";
import { handleSignal } from "./signal-handler.ts";

type EventCase = NonNullable<ClientEvent["kind"]["case"]>;
type EventValue<K extends EventCase> = Extract<ClientEvent["kind"], { case: K }>["value"];
type Outcome = void | Promise<void>;

/** How one kind of event is handled: whether it needs a live principal, and the handler. */
type Route<K extends EventCase> =
  | {
      readonly principal: true;
      readonly handle: (
        h: HandlerContext,
        from: GatewayRef,
        ev: ClientEvent,
        value: EventValue<K>,
        p: Principal,
      ) => Outcome;
    }
  | {
      readonly principal: false;
      readonly handle: (
        h: HandlerContext,
        from: GatewayRef,
        ev: ClientEvent,
        value: EventValue<K>,
      ) => Outcome;
    };

/** Logic keeps no membership or connection state: these events are for audit and metrics only. */
function acknowledge(h: HandlerContext, from: GatewayRef, ev: ClientEvent): void {
  h.done(from, ev, ev.kind.case ?? "unknown", "ok");
}

/**
 * Every kind of client event and its handler, one line each. Events from a
 * connection that must be authenticated (and not expired) say `principal:
 * true`; auth and the gateway epoch's own reports (presence, leases, closes)
 * need none.
 */
const ROUTES: { readonly [K in EventCase]: Route<K> } = {
  auth: { principal: false, handle: handleAuth },
  send: { principal: true, handle: handleSend },
  join: { principal: true, handle: handleJoin },
  leave: { principal: false, handle: acknowledge },
  closed: { principal: false, handle: acknowledge },
  signal: { principal: true, handle: handleSignal },
  presenceChange: { principal: false, handle: handlePresenceChange },
  presenceLease: { principal: false, handle: handlePresenceLease },
  presenceQuery: { principal: true, handle: handlePresenceQuery },
  readMarker: { principal: true, handle: handleReadMarker },
  rpc: { principal: true, handle: handleRpc },
  edit: { principal: true, handle: handleEdit },
  delete: { principal: true, handle: handleDelete },
};

/** A route with its event's value type erased (TypeScript cannot correlate ROUTES[k.case] with k.value). */
type AnyRoute = {
  readonly principal: boolean;
  readonly handle: (
    h: HandlerContext,
    from: GatewayRef,
    ev: ClientEvent,
    value: unknown,
    p?: Principal,
  ) => Outcome;
};

/**
 * The logic tier's event handling: every client event gets exactly one Reply
 * (which is also its ack to the gateway), whatever happens. One event's failure
 * never touches the others in its batch, and nothing throws out of onEvents.
 *
 * Handlers keep no per-connection state: the gateway attaches the Principal
 * (user id, room patterns, expiry) logic issued at auth to every later event,
 * and every event's principal is checked against logic's signature first.
 * Sends are idempotent through the store's deduplication on the client message
 * id, so a gateway may resend an unanswered event to another logic process.
 */
export function createHandlers(deps: HandlerDeps): EventSink {
  const h = new HandlerContext(deps, deps.presence ?? new InMemoryPresenceTable());

  function dispatch(from: GatewayRef, ev: ClientEvent): void {
    if (ev.principal !== undefined && !h.sealed(from, ev, ev.principal)) return;
    const k = ev.kind;
    if (k.case === undefined) {
      h.count("unknown", "invalid");
      h.frame(from, ev, encodeErrorFrame({ code: ERROR_CODES.invalidField.code, message: "empty event" }));
      return;
    }
    const kind = k.case;
    const route = ROUTES[kind] as AnyRoute;
    let p: Principal | undefined;
    if (route.principal) {
      p = h.principal(from, ev, kind);
      if (p === undefined) return;
    }
    const outcome = route.handle(h, from, ev, k.value, p);
    if (outcome !== undefined) outcome.catch((err: unknown) => h.internal(from, ev, kind, err));
  }

  return {
    onEvents(from, events) {
      for (const ev of events) {
        try {
          dispatch(from, ev);
        } catch (err) {
          // Only a bug lands here; the event still gets its one reply.
          h.internal(from, ev, ev.kind.case ?? "unknown", err);
        }
      }
    },
  };
}
