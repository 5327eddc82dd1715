{{/*
What values.schema.json cannot say, because JSON Schema does not compare two
values: refused at install, upgrade, lint and template time, before anything
reaches the cluster, instead of an operator that crash-loops on its flags.
*/}}
{{- define "chatcluster.validate" -}}
{{- $op := .Values.operator -}}
{{- $le := $op.leaderElection -}}
{{- if $le.enabled -}}
{{- /* The operator's own rule (operator/src/config.ts): lease > renew deadline > 1.2 x retry period. */ -}}
{{- if le (int $le.leaseDurationSeconds) (int $le.renewDeadlineSeconds) -}}
{{- fail (printf "operator.leaderElection.renewDeadlineSeconds (%v) must be shorter than leaseDurationSeconds (%v): a leader must give up before a standby may take its Lease" $le.renewDeadlineSeconds $le.leaseDurationSeconds) -}}
{{- end -}}
{{- if le (mul 10 (int $le.renewDeadlineSeconds)) (mul 12 (int $le.retryPeriodSeconds)) -}}
{{- fail (printf "operator.leaderElection.retryPeriodSeconds (%v) must be shorter than renewDeadlineSeconds / 1.2 (%v / 1.2): the leader needs more than one renewal attempt per deadline" $le.retryPeriodSeconds $le.renewDeadlineSeconds) -}}
{{- end -}}
{{- end -}}
{{- $pdb := $op.podDisruptionBudget -}}
{{- if and $pdb.enabled (gt (int $op.replicas) 1) (not (kindIs "string" $pdb.minAvailable)) (ge (int $pdb.minAvailable) (int $op.replicas)) -}}
{{- fail (printf "operator.podDisruptionBudget.minAvailable (%v) must be below operator.replicas (%v), or no node could ever be drained" $pdb.minAvailable $op.replicas) -}}
{{- end -}}
{{- end -}}
