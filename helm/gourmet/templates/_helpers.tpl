{{/* Chart name, truncated to the 63 characters DNS names allow. */}}
{{- define "gourmet.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Base name of every object: the release name, with the chart name unless it
     is already in it. */}}
{{- define "gourmet.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 40 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "gourmet.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object, but the instance. */}}
{{- define "gourmet.baseLabels" -}}
helm.sh/chart: {{ include "gourmet.chart" . }}
app.kubernetes.io/part-of: gourmet
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Labels of an object that belongs to no one component. */}}
{{- define "gourmet.labels" -}}
{{ include "gourmet.baseLabels" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Labels of a component's objects: (dict "ctx" $ "component" "log-sink"). */}}
{{- define "gourmet.componentLabels" -}}
{{ include "gourmet.baseLabels" .ctx }}
{{ include "gourmet.selectorLabels" . }}
{{- end }}

{{/* Selector labels of one component: (dict "ctx" $ "component" "log-sink"). */}}
{{- define "gourmet.selectorLabels" -}}
app.kubernetes.io/name: {{ .component }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
{{- end }}

{{/* Object names. */}}
{{- define "gourmet.agentName" -}}{{ include "gourmet.fullname" . }}-capture-agent{{- end }}
{{- define "gourmet.analyzerName" -}}{{ include "gourmet.fullname" . }}-analyzer-host{{- end }}
{{- define "gourmet.analyzerService" -}}{{ include "gourmet.fullname" . }}-analyzer{{- end }}
{{- define "gourmet.sinkName" -}}{{ include "gourmet.fullname" . }}-log-sink{{- end }}
{{- define "gourmet.tlsSecret" -}}{{ .Values.tls.existingSecret | default (printf "%s-tls" (include "gourmet.fullname" .)) }}{{- end }}

{{/* Image reference: (dict "ctx" $ "image" .Values.logSink.image). */}}
{{- define "gourmet.image" -}}
{{- $tag := .image.tag | default .ctx.Values.image.tag | default .ctx.Chart.AppVersion -}}
{{- printf "%s%s:%s" .ctx.Values.image.registry .image.repository $tag -}}
{{- end }}

{{/* gRPC targets the clients dial: the headless Services' DNS names. */}}
{{- define "gourmet.analyzerTarget" -}}
{{- printf "dns:///%s.%s.svc.%s:%d" (include "gourmet.analyzerService" .) .Release.Namespace .Values.clusterDomain (int .Values.analyzer.grpcPort) -}}
{{- end }}
{{- define "gourmet.sinkTarget" -}}
{{- printf "dns:///%s.%s.svc.%s:%d" (include "gourmet.sinkName" .) .Release.Namespace .Values.clusterDomain (int .Values.logSink.grpcPort) -}}
{{- end }}

{{/* The services' YAML configs: computed keys, then the user's config on top. */}}
{{- define "gourmet.agentConfig" -}}
{{- $c := dict "interface" .Values.captureAgent.interface "bpf" .Values.captureAgent.bpf "analyzer" (include "gourmet.analyzerTarget" .) "metrics_listen" (printf "0.0.0.0:%d" (int .Values.captureAgent.metricsPort)) -}}
{{- toYaml (mergeOverwrite $c (deepCopy .Values.captureAgent.config)) -}}
{{- end }}
{{- define "gourmet.analyzerConfig" -}}
{{- $c := dict "listen" (printf "0.0.0.0:%d" (int .Values.analyzer.grpcPort)) "sink" (include "gourmet.sinkTarget" .) "metrics_listen" (printf "0.0.0.0:%d" (int .Values.analyzer.metricsPort)) "workers" .Values.analyzer.workers "plugin_dir" "/usr/lib/gourmet/plugins" "plugins" .Values.analyzer.plugins -}}
{{- toYaml (mergeOverwrite $c (deepCopy .Values.analyzer.config)) -}}
{{- end }}
{{- define "gourmet.sinkConfig" -}}
{{- $c := dict "listen" (printf "0.0.0.0:%d" (int .Values.logSink.grpcPort)) "metrics_listen" (printf "0.0.0.0:%d" (int .Values.logSink.metricsPort)) "log_path" "/var/lib/gourmet/gourmet.log" "fsync" .Values.logSink.fsync -}}
{{- toYaml (mergeOverwrite $c (deepCopy .Values.logSink.config)) -}}
{{- end }}

{{/* prometheus.io scrape annotations for a pod template. */}}
{{- define "gourmet.scrapeAnnotations" -}}
{{- if .ctx.Values.metrics.podAnnotations -}}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .port | quote }}
prometheus.io/path: /metrics
{{- end }}
{{- end }}
