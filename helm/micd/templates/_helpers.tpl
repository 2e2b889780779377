{{/* Chart name, fullname and labels in the usual Helm shape. */}}
{{- define "micd.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "micd.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "micd.selectorLabels" -}}
app.kubernetes.io/name: {{ include "micd.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "micd.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "micd.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: micd
{{- end }}

{{- define "micd.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "micd.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "micd.authSecretName" -}}
{{- default (printf "%s-auth" (include "micd.fullname" .)) .Values.auth.existingSecret }}
{{- end }}

{{- define "micd.rulesMounted" -}}
{{- if or .Values.rules.files .Values.rules.existingConfigMap }}true{{ end }}
{{- end }}

{{/* A rules path such as catalog/acme.yaml as a ConfigMap key (keys cannot hold "/"). */}}
{{- define "micd.rulesKey" -}}
{{- . | replace "/" "__" }}
{{- end }}

{{/*
The settings file: the operator's `config` plus what the chart owns. Refuses values that would put a secret in a
ConfigMap or fight the chart over a setting it manages, naming the key and what to do instead.
*/}}
{{- define "micd.settings" -}}
{{- $config := deepCopy .Values.config }}
{{- range $key := list "listen" "database" "rules_dir" }}
{{- if hasKey $config $key }}
{{- fail (printf "config.%s is managed by the chart (service.port, persistence, rules); remove it from config" $key) }}
{{- end }}
{{- end }}
{{- $auth := get $config "auth" | default dict }}
{{- range $key := list "api_tokens" "webhook_tokens" "insecure" }}
{{- if hasKey $auth $key }}
{{- fail (printf "config.auth.%s: set tokens through auth.existingSecret and the switch through auth.insecure, not in config" $key) }}
{{- end }}
{{- end }}
{{- $snow := get $config "servicenow" | default dict }}
{{- if or (hasKey $snow "password") (hasKey $snow "password_file") }}
{{- fail "config.servicenow.password: never inline a secret; reference it with servicenow.passwordSecret.name" }}
{{- end }}
{{- $kafka := get $config "kafka" | default dict }}
{{- if hasKey $kafka "sasl_password" }}
{{- fail "config.kafka.sasl_password: never inline a secret; reference it with kafka.saslPasswordSecret.name" }}
{{- end }}
{{- range $tenant, $settings := (get $config "tenants" | default dict) }}
{{- range $channel := (get $settings "channels" | default list) }}
{{- if hasKey $channel "url" }}
{{- fail (printf "config.tenants.%s.channels: a channel URL is a secret; move the tenants section into the Secret named by tenants.secret.name" $tenant) }}
{{- end }}
{{- end }}
{{- end }}
{{- if and (hasKey $config "tenants") .Values.tenants.secret.name }}
{{- fail "config.tenants and tenants.secret.name are both set: keep the tenants section in one place" }}
{{- end }}
{{- if .Values.servicenow.passwordSecret.name }}
{{- $_ := set $snow "password_file" "/var/run/secrets/micd/servicenow/password" }}
{{- $_ := set $config "servicenow" $snow }}
{{- end }}
{{- toYaml $config }}
{{- end }}

{{- define "micd.validate" -}}
{{- if .Values.scaleOut.enabled }}
{{- fail "scaleOut.enabled: the PostgreSQL scale-out mode is not supported by this micd release; keep scaleOut.enabled=false (one replica, SQLite on a PersistentVolumeClaim)" }}
{{- end }}
{{- if and .Values.rules.files .Values.rules.existingConfigMap }}
{{- fail "rules: set rules.files or rules.existingConfigMap, not both" }}
{{- end }}
{{- range $path, $_ := .Values.rules.files }}
{{- if not (regexMatch "^[A-Za-z0-9_-][A-Za-z0-9_.-]*(/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*[.]ya?ml$" $path) }}
{{- fail (printf "rules.files: %q must be a relative .yaml path under rules/, such as catalog/acme.yaml" $path) }}
{{- end }}
{{- end }}
{{- $snow := get .Values.config "servicenow" | default dict }}
{{- if and (get $snow "instance") (not .Values.servicenow.passwordSecret.name) }}
{{- fail "servicenow.passwordSecret.name is required when config.servicenow.instance is set" }}
{{- end }}
{{- end }}
