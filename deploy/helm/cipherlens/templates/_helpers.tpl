{{/* Names and labels. */}}
{{- define "cipherlens.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "cipherlens.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else if contains (include "cipherlens.name" .) .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name (include "cipherlens.name" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "cipherlens.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cipherlens.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "cipherlens.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{ include "cipherlens.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "cipherlens.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "cipherlens.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "cipherlens.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ default .Chart.AppVersion .Values.image.tag }}
{{- end -}}
{{- end }}

{{- define "cipherlens.priorityClassName" -}}
{{- if .Values.priorityClass.create }}
{{- .Values.priorityClass.name }}
{{- else }}
{{- .Values.priorityClass.existingName }}
{{- end }}
{{- end }}

{{/* The key of the NATS credential in its Secret. */}}
{{- define "cipherlens.natsAuthKey" -}}
{{- $defaults := dict "password" "password" "token" "token" "nkey" "nkey.seed" "creds" "user.creds" }}
{{- default (get $defaults .Values.nats.auth.method) .Values.nats.auth.key }}
{{- end }}

{{/* The capabilities granted, in the order deploy/README.md lists them. */}}
{{- define "cipherlens.capabilities" -}}
- BPF
- PERFMON
- NET_ADMIN
{{- if .Values.attributionCapabilities }}
- SYS_PTRACE
- DAC_READ_SEARCH
{{- end }}
{{- end }}

{{/*
One TOML table per section of a map of maps: strings, numbers, booleans and
lists of them (JSON's forms of those are TOML's). Null values are left out.
*/}}
{{- define "cipherlens.toml" -}}
{{- $lines := list }}
{{- range $section, $table := . }}
{{- $lines = append $lines (printf "[%s]" $section) }}
{{- range $key, $value := $table }}
{{- if not (kindIs "invalid" $value) }}
{{- $lines = append $lines (printf "%s = %s" $key (toJson $value)) }}
{{- end }}
{{- end }}
{{- end }}
{{- join "\n" $lines }}
{{- end }}
