/**
 * The Grafana dashboards the chart ships, defined once here and rendered to
 * charts/chatcluster/dashboards/*.json by `make dashboards` (the lint step
 * fails when the JSON is stale). Every query is also run against a real
 * Prometheus scraping the local stack by monitoring/prometheus.test.ts, so a
 * dead panel or a misspelt metric fails the tests.
 *
 * Series carry `namespace`, `chatcluster` (the ChatCluster's name) and
 * `component` (gateway, logic, operator) from the scrape configuration (the
 * ServiceMonitors relabel them from pod labels). The ChatCluster variable is
 * `chatcluster`: `cluster` means the Kubernetes cluster in most Grafana setups.
 */
import type { DashboardSpec, PanelTarget } from "./dashboard-spec.ts";
import { processPanels } from "./process-panels.ts";

const GW = '{namespace=~"$namespace",chatcluster=~"$chatcluster",component="gateway"}';
const LG = '{namespace=~"$namespace",chatcluster=~"$chatcluster",component="logic"}';
/** The operator's per-ChatCluster series carry the ChatCluster's namespace and name (honor_labels). */
const CC = '{namespace=~"$namespace",chatcluster=~"$chatcluster",component="operator"}';
const OP = '{namespace=~"$namespace",component="operator"}';
const R = "[$__rate_interval]";

/** `metric{sel, extra}`: adds matchers to a selector. */
function sel(base: string, extra: string): string {
  return `${base.slice(0, -1)},${extra}}`;
}

function quantiles(metric: string, selector: string, by = ""): PanelTarget[] {
  const group = by === "" ? "le" : `le, ${by}`;
  const legend = by === "" ? "" : ` {{${by}}}`;
  return [0.5, 0.99].map((q) => ({
    expr: `histogram_quantile(${q}, sum by (${group}) (rate(${metric}_bucket${selector}${R})))`,
    legend: `p${q * 100}${legend}`,
  }));
}

export const DASHBOARDS: readonly DashboardSpec[] = [
  {
    uid: "chatcluster-overview",
    title: "ChatCluster / Overview",
    description: "Connections, message rates, delivery latency and errors of one or more ChatClusters.",
    perCluster: true,
    panels: [
      {
        title: "Connections",
        description: "Open client WebSockets across all gateways.",
        unit: "short",
        kind: "stat",
        width: 6,
        targets: [{ expr: `sum(chatcluster_gateway_connections${GW})`, legend: "connections" }],
      },
      {
        title: "Gateways and logic processes up",
        description: "Processes scraped successfully.",
        unit: "short",
        kind: "stat",
        width: 6,
        targets: [
          { expr: `sum(up${GW})`, legend: "gateways" },
          { expr: `sum(up${LG})`, legend: "logic" },
        ],
      },
      {
        title: "Ready",
        description:
          "The Ready condition of each ChatCluster, as the operator reports it: 1 when every gateway and logic pod is ready.",
        unit: "short",
        kind: "stat",
        width: 12,
        targets: [
          {
            expr: `max by (namespace, chatcluster) (chatcluster_operator_cluster_condition${sel(CC, 'condition="Ready"')})`,
            legend: "{{namespace}}/{{chatcluster}}",
          },
        ],
      },
      {
        title: "Messages in",
        description: "Messages accepted per second: client sends and server API publishes.",
        unit: "ops",
        width: 12,
        targets: [
          {
            expr: `sum(rate(chatcluster_logic_events_total${sel(LG, 'kind="send",result="ok"')}${R}))`,
            legend: "client sends",
          },
          {
            expr: `sum(rate(chatcluster_logic_api_requests_total${sel(LG, 'method="Publish",result="ok"')}${R}))`,
            legend: "API publishes",
          },
        ],
      },
      {
        title: "Frames out to clients",
        description: "Frames written to client sockets per second (one per recipient).",
        unit: "ops",
        targets: [{ expr: `sum(rate(chatcluster_gateway_frames_out_total${GW}${R}))`, legend: "frames/s" }],
      },
      {
        title: "Delivery latency",
        description: "From logic accepting a message to the gateway handing it to its sockets.",
        unit: "s",
        targets: quantiles("chatcluster_gateway_delivery_latency_seconds", GW),
      },
      {
        title: "Disconnects by close code",
        description: "Closed client WebSockets per second, by close code name.",
        unit: "ops",
        targets: [
          {
            expr: `sum by (code) (rate(chatcluster_gateway_disconnects_total${GW}${R}))`,
            legend: "{{code}}",
          },
        ],
      },
      {
        title: "Errors",
        description: "Store errors, failed authentications and refused events per second.",
        unit: "ops",
        targets: [
          {
            expr: `sum by (code) (rate(chatcluster_logic_store_errors_total${LG}${R}))`,
            legend: "store {{code}}",
          },
          {
            expr: `sum by (reason) (rate(chatcluster_logic_auth_results_total${sel(LG, 'result="error"')}${R}))`,
            legend: "auth {{reason}}",
          },
          { expr: `sum(rate(chatcluster_gateway_logic_refusals_total${GW}${R}))`, legend: "refused by link" },
        ],
      },
    ],
  },
  {
    uid: "chatcluster-gateway",
    title: "ChatCluster / Gateway",
    description: "The WebSocket edge: connections, traffic, send queues, limits, drain and the push streams.",
    perCluster: true,
    panels: [
      {
        title: "Connections by gateway",
        description: "Open client WebSockets and connections waiting for their auth result.",
        unit: "short",
        targets: [
          { expr: `sum by (pod) (chatcluster_gateway_connections${GW})`, legend: "{{pod}}" },
          {
            expr: `sum by (pod) (chatcluster_gateway_pending_auth_connections${GW})`,
            legend: "{{pod}} pending auth",
          },
        ],
      },
      {
        title: "Connects and refusals",
        description: "Accepted upgrades and upgrades refused by admission control, per second.",
        unit: "ops",
        targets: [
          {
            expr: `sum by (pod) (rate(chatcluster_gateway_connects_total${GW}${R}))`,
            legend: "{{pod}} connects",
          },
          {
            expr: `sum by (reason) (rate(chatcluster_gateway_admission_refusals_total${GW}${R}))`,
            legend: "refused: {{reason}}",
          },
        ],
      },
      {
        title: "Frames in by type",
        description: "Client frames received per second.",
        unit: "ops",
        targets: [
          { expr: `sum by (type) (rate(chatcluster_gateway_frames_in_total${GW}${R}))`, legend: "{{type}}" },
        ],
      },
      {
        title: "Bytes in and out",
        description: "Client traffic per second.",
        unit: "Bps",
        targets: [
          { expr: `sum(rate(chatcluster_gateway_bytes_in_total${GW}${R}))`, legend: "in" },
          { expr: `sum(rate(chatcluster_gateway_bytes_out_total${GW}${R}))`, legend: "out" },
        ],
      },
      {
        title: "Send queues",
        description:
          "Bytes queued for client sockets: total per gateway against its send budget, and the largest single socket.",
        unit: "bytes",
        targets: [
          {
            expr: `sum by (pod) (chatcluster_gateway_send_queue_bytes${sel(GW, 'stat="sum"')})`,
            legend: "{{pod}} total",
          },
          {
            expr: `max by (pod) (chatcluster_gateway_send_budget_bytes${GW})`,
            legend: "{{pod}} budget",
          },
          {
            expr: `max by (pod) (chatcluster_gateway_send_queue_bytes${sel(GW, 'stat="max"')})`,
            legend: "{{pod}} largest",
          },
        ],
      },
      {
        title: "Slow consumers, rate limits and drops",
        description:
          "Sockets closed as slow consumers (over their own bound, or furthest behind when the gateway's send budget ran out), frames refused by rate limits, frames dropped, per second.",
        unit: "ops",
        targets: [
          {
            expr: `sum(rate(chatcluster_gateway_slow_consumer_closes_total${GW}${R}))`,
            legend: "slow-consumer closes",
          },
          {
            expr: `sum(rate(chatcluster_gateway_send_budget_closes_total${GW}${R}))`,
            legend: "send-budget closes",
          },
          {
            expr: `sum(rate(chatcluster_gateway_rate_limited_frames_total${GW}${R}))`,
            legend: "rate-limited frames",
          },
          {
            expr: `sum by (reason) (rate(chatcluster_gateway_dropped_frames_total${GW}${R}))`,
            legend: "dropped: {{reason}}",
          },
        ],
      },
      {
        title: "Drain progress",
        description: "Connections still open on draining gateways.",
        unit: "short",
        targets: [
          { expr: `sum by (pod) (chatcluster_gateway_drain_remaining_connections${GW})`, legend: "{{pod}}" },
        ],
      },
      {
        title: "Push streams from logic",
        description: "Logic streams connected to each gateway, and client events not yet answered by logic.",
        unit: "short",
        targets: [
          {
            expr: `sum by (pod) (chatcluster_gateway_link_connected_streams${GW})`,
            legend: "{{pod}} streams",
          },
          {
            expr: `sum by (pod) (chatcluster_gateway_link_events_pending${GW})`,
            legend: "{{pod}} pending events",
          },
        ],
      },
      {
        title: "Events to logic",
        description:
          "Client events sent to logic, events resent after their stream died, and events refused (pending set full) or given up (no answer by their deadline).",
        unit: "ops",
        targets: [
          { expr: `sum(rate(chatcluster_gateway_link_events_sent_total${GW}${R}))`, legend: "sent" },
          { expr: `sum(rate(chatcluster_gateway_link_events_resent_total${GW}${R}))`, legend: "resent" },
          {
            expr: `sum by (reason) (rate(chatcluster_gateway_link_drops_total${GW}${R}))`,
            legend: "dropped: {{reason}}",
          },
        ],
      },
      {
        title: "Push stream round trip (gateway side)",
        description: "Ping/Pong round trip of the push streams, measured by the gateways.",
        unit: "s",
        targets: quantiles("chatcluster_gateway_link_rtt_seconds", GW),
      },
      {
        title: "Event-loop lag",
        description: "p99 event-loop delay of each gateway process.",
        unit: "s",
        targets: [{ expr: `max by (pod) (nodejs_eventloop_lag_p99_seconds${GW})`, legend: "{{pod}}" }],
      },
      ...processPanels(GW, "gateway"),
    ],
  },
  {
    uid: "chatcluster-logic",
    title: "ChatCluster / Logic",
    description: "The stateless tier: push streams and their queues, the store, auth and events.",
    perCluster: true,
    panels: [
      {
        title: "Push streams and discovered gateways",
        description: "Streams each logic process has open, and the gateways it discovers.",
        unit: "short",
        targets: [
          { expr: `sum by (pod) (chatcluster_logic_push_connected_streams${LG})`, legend: "{{pod}} streams" },
          {
            expr: `sum by (pod) (chatcluster_logic_discovery_endpoints${LG}) or sum by (pod) (chatcluster_logic_push_connected_streams${LG})`,
            legend: "{{pod}} discovered",
          },
        ],
      },
      {
        title: "Presence",
        description:
          "Presence entries (room, user, gateway epoch) in the table each logic process sees, and presence reports, announced changes by cause and signals per second.",
        unit: "short",
        targets: [
          { expr: `max by (pod) (chatcluster_logic_presence_entries${LG})`, legend: "{{pod}} entries" },
          {
            expr: `sum(rate(chatcluster_logic_events_total${sel(LG, 'kind="presenceChange"')}${R}))`,
            legend: "reports/s",
          },
          {
            expr: `sum by (change, cause) (rate(chatcluster_logic_presence_changes_announced_total${LG}${R}))`,
            legend: "{{change}} ({{cause}})/s",
          },
          {
            expr: `sum(rate(chatcluster_logic_events_total${sel(LG, 'kind="signal"')}${R}))`,
            legend: "signals/s",
          },
        ],
      },
      {
        title: "Queue fill by gateway",
        description: "Bytes queued toward each gateway as a share of the per-gateway bound.",
        unit: "percentunit",
        targets: [
          {
            expr: `max by (gateway) (chatcluster_logic_push_queue_bytes${LG} / on (namespace, chatcluster, pod) group_left chatcluster_logic_push_queue_limit_bytes${LG})`,
            legend: "{{gateway}}",
          },
        ],
      },
      {
        title: "Queue depth by gateway",
        description: "Deliveries and replies queued or in flight toward each gateway.",
        unit: "short",
        targets: [
          { expr: `max by (gateway) (chatcluster_logic_push_queue_messages${LG})`, legend: "{{gateway}}" },
        ],
      },
      {
        title: "Pushed to gateways",
        description: "Messages (deliveries, replies) and batches sent on the push streams, per second.",
        unit: "ops",
        targets: [
          {
            expr: `sum by (kind) (rate(chatcluster_logic_push_messages_sent_total${LG}${R}))`,
            legend: "{{kind}}",
          },
          { expr: `sum(rate(chatcluster_logic_push_batches_sent_total${LG}${R}))`, legend: "batches" },
        ],
      },
      {
        title: "Drops and reconnects",
        description:
          "Deliveries dropped before reaching a gateway and streams re-opened, per second, by reason.",
        unit: "ops",
        targets: [
          {
            expr: `sum by (reason) (rate(chatcluster_logic_push_drops_total${LG}${R}))`,
            legend: "drop: {{reason}}",
          },
          {
            expr: `sum by (reason) (rate(chatcluster_logic_push_reconnects_total${LG}${R}))`,
            legend: "reconnect: {{reason}}",
          },
        ],
      },
      {
        title: "Fan-out width",
        description: "Gateways each room message was queued for (those with members in the room).",
        unit: "short",
        targets: quantiles("chatcluster_logic_fanout_gateways", LG),
      },
      {
        title: "Push stream round trip",
        description: "Ping/Pong round trip measured by logic.",
        unit: "s",
        targets: quantiles("chatcluster_logic_push_rtt_seconds", LG),
      },
      {
        title: "Store latency",
        description: "Append (until the seq is known) and history-read latency.",
        unit: "s",
        targets: quantiles("chatcluster_logic_store_duration_seconds", LG, "op"),
      },
      {
        title: "Store load",
        description: "Store operations in flight and waiting for a slot.",
        unit: "short",
        targets: [
          { expr: `sum(chatcluster_logic_store_inflight_operations${LG})`, legend: "in flight" },
          { expr: `sum(chatcluster_logic_store_queued_operations${LG})`, legend: "queued" },
        ],
      },
      {
        title: "Events by kind and result",
        description: "Client events handled per second.",
        unit: "ops",
        targets: [
          {
            expr: `sum by (kind, result) (rate(chatcluster_logic_events_total${LG}${R}))`,
            legend: "{{kind}} {{result}}",
          },
        ],
      },
      {
        title: "Authentications by reason",
        description: "Token verifications per second.",
        unit: "ops",
        targets: [
          {
            expr: `sum by (result, reason) (rate(chatcluster_logic_auth_results_total${LG}${R}))`,
            legend: "{{result}} {{reason}}",
          },
        ],
      },
      {
        title: "History reads and server API",
        description: "History pages read per second, and server API requests by method and result.",
        unit: "ops",
        targets: [
          {
            expr: `sum by (source) (rate(chatcluster_logic_history_reads_total${LG}${R}))`,
            legend: "history {{source}}",
          },
          {
            expr: `sum by (method, result) (rate(chatcluster_logic_api_requests_total${LG}${R}))`,
            legend: "API {{method}} {{result}}",
          },
        ],
      },
      {
        title: "Hook calls",
        description:
          "Calls of the team's hooks per second, by hook and outcome (allow, refuse, fail), and failures by cause (timeout, unavailable, overloaded, error, bad_response).",
        unit: "ops",
        targets: [
          {
            expr: `sum by (hook, outcome) (rate(chatcluster_logic_hook_calls_total${LG}${R}))`,
            legend: "{{hook}} {{outcome}}",
          },
          {
            expr: `sum by (hook, cause) (rate(chatcluster_logic_hook_failures_total${LG}${R}))`,
            legend: "{{hook}} failed: {{cause}}",
          },
        ],
      },
      {
        title: "Hook latency",
        description: "Time an event waits for its hook, a wait for a slot included.",
        unit: "s",
        targets: quantiles("chatcluster_logic_hook_duration_seconds", LG, "hook"),
      },
      ...processPanels(LG, "logic"),
    ],
  },
  {
    uid: "chatcluster-operator",
    title: "ChatCluster / Operator",
    description: "Reconciles, the work queue, applies and leadership of the ChatCluster operator.",
    perCluster: false,
    panels: [
      {
        title: "Leader",
        description: "1 for the operator process holding the leader Lease.",
        unit: "short",
        kind: "stat",
        width: 6,
        targets: [{ expr: `sum by (pod) (chatcluster_operator_leader${OP})`, legend: "{{pod}}" }],
      },
      {
        title: "Work queue depth",
        description: "ChatClusters waiting to be reconciled.",
        unit: "short",
        width: 18,
        targets: [{ expr: `sum(chatcluster_operator_workqueue_depth${OP})`, legend: "depth" }],
      },
      {
        title: "Reconciles by result",
        description: "Reconciles per second: success, error (retried with backoff), requeue.",
        unit: "ops",
        targets: [
          {
            expr: `sum by (result) (rate(chatcluster_operator_reconcile_total${OP}${R}))`,
            legend: "{{result}}",
          },
        ],
      },
      {
        title: "Reconcile duration",
        description: "Time to reconcile one ChatCluster.",
        unit: "s",
        targets: quantiles("chatcluster_operator_reconcile_duration_seconds", OP),
      },
      {
        title: "Queue adds and retries",
        description: "Keys added to the work queue and retries after errors, per second.",
        unit: "ops",
        targets: [
          { expr: `sum(rate(chatcluster_operator_workqueue_adds_total${OP}${R}))`, legend: "adds" },
          { expr: `sum(rate(chatcluster_operator_workqueue_retries_total${OP}${R}))`, legend: "retries" },
        ],
      },
      {
        title: "Server-side applies",
        description: "Child objects applied per second, by kind and result.",
        unit: "ops",
        targets: [
          {
            expr: `sum by (kind, result) (rate(chatcluster_operator_apply_total${OP}${R}))`,
            legend: "{{kind}} {{result}}",
          },
        ],
      },
      {
        title: "Informer restarts and dropped events",
        description:
          "Watches restarted after errors, and Kubernetes Events not recorded because of rate limits.",
        unit: "ops",
        targets: [
          {
            expr: `sum by (kind) (rate(chatcluster_operator_informer_restarts_total${OP}${R}))`,
            legend: "restarts {{kind}}",
          },
          { expr: `sum(rate(chatcluster_operator_events_dropped_total${OP}${R}))`, legend: "events dropped" },
        ],
      },
      ...processPanels(OP, "operator"),
    ],
  },
];
