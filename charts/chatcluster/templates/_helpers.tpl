{{/* Chart name, truncated to the 63 characters a label value allows. */}}
{{- define "chatcluster.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Full name of the release's objects. */}}
{{- define "chatcluster.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
<fullname>-<suffix>, the full name shortened (never the suffix) so that the
result fits the 63 characters of a DNS label: a 53-character release name
(Helm's limit) gets distinct, valid names for every object.
Call with (list $ "suffix").
*/}}
{{- define "chatcluster.suffixedName" -}}
{{- $ctx := index . 0 -}}
{{- $suffix := index . 1 -}}
{{- $prefix := include "chatcluster.fullname" $ctx | trunc (int (sub 62 (len $suffix))) | trimSuffix "-" -}}
{{- printf "%s-%s" $prefix $suffix -}}
{{- end -}}

{{/* The operator's Deployment, ServiceAccount, RBAC and leader Lease. */}}
{{- define "chatcluster.operatorName" -}}
{{- include "chatcluster.suffixedName" (list . "operator") -}}
{{- end -}}

{{/* The standard labels on every object. */}}
{{- define "chatcluster.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "chatcluster.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: chatcluster
{{- end -}}

{{/*
The operator pods' selector (Deployment, PodDisruptionBudget, Service and the
chart's ServiceMonitor or PodMonitor). It never matches a ChatCluster's own
pods: those carry app.kubernetes.io/component gateway or logic.
*/}}
{{- define "chatcluster.operatorSelectorLabels" -}}
app.kubernetes.io/name: {{ include "chatcluster.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{/*
The operator pods' labels: the selector labels always, then podLabels (which
may replace a standard label such as app.kubernetes.io/part-of, never a
selector label: values.schema.json refuses those), then the standard labels.
One key each, whatever podLabels holds.
*/}}
{{- define "chatcluster.operatorPodLabels" -}}
{{- $selector := include "chatcluster.operatorSelectorLabels" . | fromYaml -}}
{{- $standard := include "chatcluster.labels" . | fromYaml -}}
{{- toYaml (merge $selector (default dict .Values.operator.podLabels) $standard) -}}
{{- end -}}

{{- define "chatcluster.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "chatcluster.operatorName" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The operator's image. */}}
{{- define "chatcluster.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/*
The default image of every ChatCluster's gateway and logic pods (where
spec.image leaves repository or tag unset): workloadImage, each part falling
back to the operator's image. Passed to the operator as --workload-image.
*/}}
{{- define "chatcluster.workloadImage" -}}
{{- $repository := default .Values.image.repository .Values.workloadImage.repository -}}
{{- $tag := default (default .Chart.AppVersion .Values.image.tag) .Values.workloadImage.tag -}}
{{- printf "%s:%s" $repository $tag -}}
{{- end -}}

{{/* True when the Prometheus Operator's API is served by the cluster. */}}
{{- define "chatcluster.hasMonitoringApi" -}}
{{- if .Capabilities.APIVersions.Has "monitoring.coreos.com/v1" -}}true{{- end -}}
{{- end -}}

{{/*
Scrape settings of the operator's endpoint. honorLabels keeps the labels of
the per-ChatCluster series (chatcluster_operator_cluster_condition carries
the ChatCluster's namespace and name); the relabelings add the labels
dashboards and alerts select by (docs/metrics.md).
*/}}
{{- define "chatcluster.operatorScrapeLabels" -}}
honorLabels: true
relabelings:
  - sourceLabels: [__meta_kubernetes_pod_label_app_kubernetes_io_instance]
    targetLabel: chatcluster
  - sourceLabels: [__meta_kubernetes_pod_label_app_kubernetes_io_component]
    targetLabel: component
{{- end -}}
