import type { DashboardSpec, PanelSpec } from "./dashboard-spec.ts";

/**
 * Renders a dashboard definition as Grafana dashboard JSON (schema 39), with a
 * Prometheus datasource variable, namespace and ChatCluster variables, and a
 * unit on every panel.
 */
/** Grafana's own variable syntax, not a JavaScript template. */
const DATASOURCE = { type: "prometheus", uid: "$" + "{datasource}" } as const;

export function renderDashboard(d: DashboardSpec): Record<string, unknown> {
  const variables: Record<string, unknown>[] = [
    {
      name: "datasource",
      label: "Data source",
      type: "datasource",
      query: "prometheus",
      current: {},
      hide: 0,
    },
    queryVariable("namespace", "Namespace", "label_values(chatcluster_build_info, namespace)"),
  ];
  if (d.perCluster) {
    variables.push(
      // Not "cluster": in most Grafana setups that names the Kubernetes cluster.
      queryVariable(
        "chatcluster",
        "ChatCluster",
        'label_values(chatcluster_build_info{namespace=~"$namespace",component=~"gateway|logic"}, chatcluster)',
      ),
    );
  }
  return {
    uid: d.uid,
    title: d.title,
    description: d.description,
    tags: ["chatcluster"],
    timezone: "browser",
    editable: true,
    graphTooltip: 1,
    schemaVersion: 39,
    version: 1,
    refresh: "30s",
    time: { from: "now-1h", to: "now" },
    templating: { list: variables },
    annotations: { list: [] },
    panels: layout(d.panels),
  };
}

function queryVariable(name: string, label: string, query: string): Record<string, unknown> {
  return {
    name,
    label,
    type: "query",
    datasource: DATASOURCE,
    query: { query, refId: `${name}-variable` },
    definition: query,
    refresh: 2,
    includeAll: true,
    multi: true,
    allValue: ".*",
    current: { selected: true, text: ["All"], value: ["$__all"] },
    sort: 1,
    hide: 0,
  };
}

function layout(panels: readonly PanelSpec[]): Record<string, unknown>[] {
  let x = 0;
  let y = 0;
  return panels.map((p, i) => {
    const w = p.width ?? 12;
    const h = p.kind === "stat" ? 5 : 8;
    if (x + w > 24) {
      x = 0;
      y += 8;
    }
    const gridPos = { x, y, w, h };
    x += w;
    return {
      id: i + 1,
      type: p.kind ?? "timeseries",
      title: p.title,
      description: p.description,
      gridPos,
      datasource: DATASOURCE,
      fieldConfig: {
        defaults: {
          unit: p.unit,
          ...(p.kind === "stat" ? {} : { custom: { drawStyle: "line", lineWidth: 1, fillOpacity: 10 } }),
        },
        overrides: [],
      },
      options:
        p.kind === "stat"
          ? { reduceOptions: { calcs: ["lastNotNull"], fields: "", values: false }, colorMode: "value" }
          : { legend: { displayMode: "list", placement: "bottom" }, tooltip: { mode: "multi" } },
      targets: p.targets.map((t, j) => ({
        refId: String.fromCharCode(65 + j),
        datasource: DATASOURCE,
        expr: t.expr,
        legendFormat: t.legend,
      })),
    };
  });
}
