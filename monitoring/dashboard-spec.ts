// What a dashboard and its panels are made of, rendered by grafana-json.ts.

export interface PanelTarget {
  readonly expr: string;
  readonly legend: string;
}

export interface PanelSpec {
  readonly title: string;
  readonly description: string;
  /** Grafana unit id: short, s, Bps, bytes, reqps, percentunit, ops. */
  readonly unit: string;
  readonly targets: readonly PanelTarget[];
  /** Width in grid columns (24 = full). Default 12. */
  readonly width?: number;
  readonly kind?: "timeseries" | "stat";
}

export interface DashboardSpec {
  readonly uid: string;
  readonly title: string;
  readonly description: string;
  /** Whether the dashboard has the ChatCluster variable (the operator's does not). */
  readonly perCluster: boolean;
  readonly panels: readonly PanelSpec[];
}
