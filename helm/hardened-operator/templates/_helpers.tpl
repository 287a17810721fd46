{{/* Names: `hardened-operator` for a release of that name, else `<release>-hardened-operator`. */}}
{{- define "hardened-operator.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "hardened-operator.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "hardened-operator.webhookServiceName" -}}
{{- printf "%s-webhook" (include "hardened-operator.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "hardened-operator.metricsServiceName" -}}
{{- printf "%s-metrics" (include "hardened-operator.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The Secret holding the webhook's serving certificate (self: written by the operator;
cert-manager: written by cert-manager). */}}
{{- define "hardened-operator.webhookSecretName" -}}
{{- if eq .Values.certificates.mode "cert-manager" -}}
{{- printf "%s-webhook-cert" (include "hardened-operator.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-webhook-tls" (include "hardened-operator.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "hardened-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "hardened-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: hardened-operator
{{- end -}}

{{- define "hardened-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "hardened-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The project's security labels (hardened_operator.conventions.SECURITY_LABELS). */}}
{{- define "hardened-operator.securityLabels" -}}
ai-system.io/security-profile: hardened
ai-system.io/non-root: "true"
ai-system.io/run-as-user: "1000"
{{- end -}}

{{- define "hardened-operator.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* Namespaces the webhook never matches: the configured ones plus the release namespace,
so a broken webhook can never block the operator's own recovery. */}}
{{- define "hardened-operator.exemptNamespaces" -}}
{{- $namespaces := append (.Values.webhook.exemptNamespaces | default list) .Release.Namespace -}}
{{- toJson (uniq $namespaces) -}}
{{- end -}}

{{/* Fail early on combinations the schema cannot express. */}}
{{- define "hardened-operator.validate" -}}
{{- if eq .Values.image.tag "latest" -}}
{{- fail "image.tag \"latest\" is refused: pin the version you run (or set image.digest)" -}}
{{- end -}}
{{- if eq (int .Values.webhook.port) (int .Values.healthPort) -}}
{{- fail (printf "webhook.port and healthPort must differ (both are %v)" .Values.healthPort) -}}
{{- end -}}
{{- if and .Values.metrics.serviceMonitor.enabled (not .Values.metrics.enabled) -}}
{{- fail "metrics.serviceMonitor.enabled needs metrics.enabled (the ServiceMonitor scrapes its Service)" -}}
{{- end -}}
{{- if and .Values.podDisruptionBudget.enabled (ge (int .Values.podDisruptionBudget.minAvailable) (int .Values.replicas)) -}}
{{- fail (printf "podDisruptionBudget.minAvailable (%v) must be below replicas (%v), or no node could ever be drained (with 1 replica set podDisruptionBudget.enabled=false)" .Values.podDisruptionBudget.minAvailable .Values.replicas) -}}
{{- end -}}
{{- end -}}
