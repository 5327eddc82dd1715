import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { AUTH_ERROR_CODES } from "../auth/auth-error.ts";
import { PRINCIPAL_CHECKS } from "../auth/principal-seal.ts";
import { STORE_ERROR_CODES } from "../store/store-error.ts";

/**
 * Metrics of the logic tier's handlers, store use and server API. Create once
 * per registry and pass the same object to `boundStore`, `createHandlers` and
 * `startServerApi`. Every label value is pre-initialised so dashboards show
 * zeros instead of gaps.
 */
export type EventKind =
  | "auth"
  | "send"
  | "join"
  | "leave"
  | "closed"
  | "signal"
  | "presenceChange"
  | "presenceLease"
  | "presenceQuery"
  | "readMarker"
  | "rpc"
  | "edit"
  | "delete"
  | "unknown";
/**
 * ok; duplicate (a resent send); denied (auth failed, forbidden); invalid (bad
 * input); expired (token expired, connection closed); unavailable (retryable
 * store or overload error); error (a bug: internal error).
 */
export type EventResult = "ok" | "duplicate" | "denied" | "invalid" | "expired" | "unavailable" | "error";
export type StoreOp = "append" | "read" | "read_marker";

export const EVENT_KINDS: readonly EventKind[] = [
  "auth",
  "send",
  "join",
  "leave",
  "closed",
  "signal",
  "presenceChange",
  "presenceLease",
  "presenceQuery",
  "readMarker",
  "rpc",
  "edit",
  "delete",
  "unknown",
];
export const EVENT_RESULTS: readonly EventResult[] = [
  "ok",
  "duplicate",
  "denied",
  "invalid",
  "expired",
  "unavailable",
  "error",
];
/** Auth refusals by a Connect hook: it said no, or it failed and the failure policy refused. */
export const HOOK_AUTH_REASONS = ["hook_refused", "hook_failed"] as const;

export const API_METHODS = [
  "Publish",
  "Broadcast",
  "History",
  "EditMessage",
  "DeleteMessage",
  "Subscribe",
  "Unsubscribe",
  "Disconnect",
  "Presence",
  "PresenceStats",
  "Rooms",
  "Info",
  "Ban",
  "Unban",
  "RevokeToken",
  "Batch",
] as const;
export const API_RESULTS = ["ok", "unauthenticated", "invalid", "unavailable", "error"] as const;
export type ApiMethod = (typeof API_METHODS)[number];
export type ApiResult = (typeof API_RESULTS)[number];

export interface LogicMetrics {
  readonly authResults: Counter<"result" | "reason">;
  readonly principalChecks: Counter<"result">;
  readonly storeDuration: Histogram<"op">;
  readonly storeErrors: Counter<"op" | "code">;
  readonly storeInflight: Gauge;
  readonly storeQueued: Gauge;
  readonly messagesDelivered: Counter;
  readonly duplicates: Counter;
  readonly historyReads: Counter<"source">;
  readonly historyMessages: Histogram;
  readonly events: Counter<"kind" | "result">;
  readonly apiRequests: Counter<"method" | "result">;
  readonly presenceEntries: Gauge;
  readonly presenceAnnounced: Counter<"change" | "cause">;
  readonly sendsShed: Counter<"scope">;
  readonly sendsFromRecent: Counter;
  readonly appendQueueDelay: Gauge;
}

/** Why a presence change was announced: a gateway's report, a gateway's release (drain), a lease expiry (crash). */
export type PresenceCause = "report" | "release" | "expiry";

export function createLogicMetrics(registry: Registry): LogicMetrics {
  const registers = [registry];
  const m: LogicMetrics = {
    authResults: new Counter({
      name: "chatcluster_logic_auth_results_total",
      help: "Token verifications by result (ok, error) and reason (ok, the auth error code, hook_refused, hook_failed).",
      labelNames: ["result", "reason"] as const,
      registers,
    }),
    principalChecks: new Counter({
      name: "chatcluster_logic_principal_checks_total",
      help: "Signature checks of the principals events carry, by result (missing_signature and bad_signature refuse the event).",
      labelNames: ["result"] as const,
      registers,
    }),
    storeDuration: new Histogram({
      name: "chatcluster_logic_store_duration_seconds",
      help: "Store operation latency (append = publish until the seq is known; read = one history page).",
      labelNames: ["op"] as const,
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    storeErrors: new Counter({
      name: "chatcluster_logic_store_errors_total",
      help: "Failed store operations by op and store error code (overloaded = rejected before reaching the store).",
      labelNames: ["op", "code"] as const,
      registers,
    }),
    storeInflight: new Gauge({
      name: "chatcluster_logic_store_inflight_operations",
      help: "Store operations running now in this process.",
      registers,
    }),
    storeQueued: new Gauge({
      name: "chatcluster_logic_store_queued_operations",
      help: "Store operations waiting for a slot in this process.",
      registers,
    }),
    messagesDelivered: new Counter({
      name: "chatcluster_logic_messages_delivered_total",
      help: "Messages handed to the push streams for fan-out (one per stored message, resends included).",
      registers,
    }),
    duplicates: new Counter({
      name: "chatcluster_logic_duplicate_appends_total",
      help: "Appends the store recognised as resends of an already stored message id.",
      registers,
    }),
    historyReads: new Counter({
      name: "chatcluster_logic_history_reads_total",
      help: "History pages served, by source (join from a client, api from the server API).",
      labelNames: ["source"] as const,
      registers,
    }),
    historyMessages: new Histogram({
      name: "chatcluster_logic_history_page_messages",
      help: "Messages per history page served.",
      buckets: [0, 1, 5, 10, 25, 50, 100, 250, 500, 1000],
      registers,
    }),
    events: new Counter({
      name: "chatcluster_logic_events_total",
      help: "Client events handled, by kind and result.",
      labelNames: ["kind", "result"] as const,
      registers,
    }),
    apiRequests: new Counter({
      name: "chatcluster_logic_api_requests_total",
      help: "Server API calls by method and result.",
      labelNames: ["method", "result"] as const,
      registers,
    }),
    presenceEntries: new Gauge({
      name: "chatcluster_logic_presence_entries",
      help: "Presence entries (room, user, gateway epoch) in the presence table, read every presence sweep.",
      registers,
    }),
    presenceAnnounced: new Counter({
      name: "chatcluster_logic_presence_changes_announced_total",
      help: "Presence changes this process announced to rooms, by change (joined, left) and cause (report, release, expiry).",
      labelNames: ["change", "cause"] as const,
      registers,
    }),
    sendsShed: new Counter({
      name: "chatcluster_logic_sends_shed_total",
      help: "Sends refused (retryable, with a jittered hint) before their append, by scope: process (its appends' queue delay stayed above the target) or room (the room's oldest append is too old).",
      labelNames: ["scope"] as const,
      registers,
    }),
    sendsFromRecent: new Counter({
      name: "chatcluster_logic_sends_answered_from_recent_total",
      help: "Resends of a message this process had stored, acknowledged from its recent sends without a store call.",
      registers,
    }),
    appendQueueDelay: new Gauge({
      name: "chatcluster_logic_append_queue_delay_seconds",
      help: "The last append's sojourn (call to answer): the queue delay admission compares with its target.",
      registers,
    }),
  };
  for (const scope of ["process", "room"]) m.sendsShed.inc({ scope }, 0);
  m.authResults.inc({ result: "ok", reason: "ok" }, 0);
  for (const reason of [...AUTH_ERROR_CODES, ...HOOK_AUTH_REASONS])
    m.authResults.inc({ result: "error", reason }, 0);
  for (const result of PRINCIPAL_CHECKS) m.principalChecks.inc({ result }, 0);
  for (const op of ["append", "read", "read_marker"] as const) {
    m.storeDuration.zero({ op });
    for (const code of STORE_ERROR_CODES) m.storeErrors.inc({ op, code }, 0);
  }
  for (const source of ["join", "api"]) m.historyReads.inc({ source }, 0);
  for (const kind of EVENT_KINDS) for (const result of EVENT_RESULTS) m.events.inc({ kind, result }, 0);
  m.presenceAnnounced.inc({ change: "joined", cause: "report" }, 0);
  for (const cause of ["report", "release", "expiry"]) m.presenceAnnounced.inc({ change: "left", cause }, 0);
  for (const method of API_METHODS)
    for (const result of API_RESULTS) m.apiRequests.inc({ method, result }, 0);
  return m;
}
