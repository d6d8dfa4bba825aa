{{/*
Names and labels.
*/}}
{{- define "weft.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "weft.fullname" -}}
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

{{- define "weft.selectorLabels" -}}
app.kubernetes.io/name: {{ include "weft.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "weft.labels" -}}
{{ include "weft.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: {{ .Values.mode }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "weft.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "weft.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "weft.image" -}}
{{- $tag := .image.tag | default .appVersion -}}
{{- if .image.digest -}}
{{- printf "%s:%s@%s" .image.repository $tag .image.digest -}}
{{- else -}}
{{- printf "%s:%s" .image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* The Secret holding the auth tokens: an existing one, or the one the chart creates. */}}
{{- define "weft.authSecretName" -}}
{{- .Values.auth.existingSecret | default (printf "%s-auth" (include "weft.fullname" .)) -}}
{{- end -}}

{{/* The environment variable a token's value is read from: WEFT_TOKEN_<NAME>. */}}
{{- define "weft.tokenEnv" -}}
{{- printf "WEFT_TOKEN_%s" (regexReplaceAll "[^A-Z0-9]" (upper .) "_") -}}
{{- end -}}

{{/* The grace period: long enough for weft's drain (hub.drain_timeout_ms) plus 15 s. */}}
{{- define "weft.terminationGracePeriodSeconds" -}}
{{- if .Values.terminationGracePeriodSeconds -}}
{{- .Values.terminationGracePeriodSeconds -}}
{{- else -}}
{{- $drainMs := 30000 -}}
{{- with .Values.config.hub }}{{ with .drain_timeout_ms }}{{ $drainMs = . }}{{ end }}{{ end -}}
{{- add (div (int64 $drainMs) 1000) 15 -}}
{{- end -}}
{{- end -}}

{{/*
The weft configuration (weft.toml): .Values.config rendered as TOML, with the parts the
chart owns: hub.listen (0.0.0.0, the container port), hub.data_dir (the data volume) and
[auth] (tokens as ${WEFT_TOKEN_*} variables filled from a Secret).
*/}}
{{- define "weft.config" -}}
{{- $cfg := deepCopy (.Values.config | default dict) -}}
{{- $hub := merge (dict "listen" (printf "0.0.0.0:%d" (int .Values.containerPort)) "data_dir" .Values.dataDir) ($cfg.hub | default dict) -}}
{{- $_ := set $cfg "hub" $hub -}}
{{- if and (eq .Values.mode "embedded") (not $cfg.plugins) (not $cfg.routes) -}}
{{- $_ := set $cfg "plugins" (include "weft.demoPlugins" . | fromYaml) -}}
{{- $_ := set $cfg "routes" (list (dict "name" "orders" "from" (list "topic:orders") "plugins" (list "dedupe" "json-map") "to" (list "topic:orders.normalized"))) -}}
{{- end -}}
{{- $auth := dict -}}
{{- if .Values.auth.anonymous -}}
{{- $_ := set $auth "anonymous" true -}}
{{- end -}}
{{- $tokens := list -}}
{{- range .Values.auth.tokens -}}
{{- $token := omit . "secretKey" -}}
{{- $_ := set $token "token" (printf "${%s}" (include "weft.tokenEnv" .name)) -}}
{{- $tokens = append $tokens $token -}}
{{- end -}}
{{- if $tokens -}}
{{- $_ := set $auth "tokens" $tokens -}}
{{- end -}}
{{- if not $auth -}}
{{- fail "weft listens on 0.0.0.0 in Kubernetes: set auth.tokens (values from a Secret) or auth.anonymous=true" -}}
{{- end -}}
{{- $_ := set $cfg "auth" $auth -}}
{{- if eq .Values.mode "broker" -}}
{{- include "weft.checkBrokerOnly" $cfg -}}
{{- end -}}
# weft.toml rendered by the weft Helm chart from .Values.config; edit the values, not this file.
{{- include "weft.toml.table" (dict "table" $cfg "path" "") }}
{{ end -}}

{{/* The demo pipeline's plugins: the ones bundled in the image. */}}
{{- define "weft.demoPlugins" -}}
dedupe:
  path: /usr/lib/weft/plugins/dedupe.wasm
json-map:
  path: /usr/lib/weft/plugins/json-map.wasm
  config:
    type: com.example.order.normalized
    mapping: '{"order.id": "/orderId", "order.total": "/total", "order.currency": "/currency", "buyer": "/buyer/name"}'
{{- end -}}

{{/*
Broker mode keeps no durable local state (the data directory is an emptyDir), so no route
may read or write an embedded-log topic and dead letters must go to a broker.
*/}}
{{- define "weft.checkBrokerOnly" -}}
{{- $deadLetter := .hub.dead_letter | default "topic:deadletter" -}}
{{- if hasPrefix "topic:" $deadLetter -}}
{{- fail (printf "mode=broker keeps no durable local state: config.hub.dead_letter is %q, an embedded-log topic; name a Redis or RabbitMQ sink" $deadLetter) -}}
{{- end -}}
{{- range $i, $route := .routes -}}
{{- range concat ($route.from | default list) ($route.to | default list) (compact (list ($route.dead_letter | default ""))) -}}
{{- if hasPrefix "topic:" . -}}
{{- fail (printf "mode=broker keeps no durable local state: config.routes[%d] (%s) uses the embedded-log topic %q; use mode=embedded or a broker source/sink" $i ($route.name | default "") .) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
A TOML renderer for a map (Helm's toToml prints every YAML number as a float, and weft's
integer fields refuse 64.0). Scalars and lists of scalars first, then sub-tables as
[path.key] and lists of maps as [[path.key]]. Null values are left out.
*/}}
{{- define "weft.toml.table" -}}
{{- $path := .path -}}
{{- range $key, $value := .table -}}
{{- if not (or (kindIs "invalid" $value) (kindIs "map" $value) (include "weft.toml.isTableList" $value)) }}
{{ include "weft.toml.key" $key }} = {{ include "weft.toml.value" $value }}
{{- end -}}
{{- end -}}
{{- range $key, $value := .table -}}
{{- $sub := include "weft.toml.key" $key -}}
{{- if $path -}}{{- $sub = printf "%s.%s" $path $sub -}}{{- end -}}
{{- if kindIs "map" $value }}

[{{ $sub }}]
{{- include "weft.toml.table" (dict "table" $value "path" $sub) -}}
{{- else if include "weft.toml.isTableList" $value -}}
{{- range $value }}

[[{{ $sub }}]]
{{- include "weft.toml.table" (dict "table" . "path" $sub) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "weft.toml.isTableList" -}}
{{- if and (kindIs "slice" .) (gt (len .) 0) -}}
{{- if kindIs "map" (first .) -}}true{{- end -}}
{{- end -}}
{{- end -}}

{{- define "weft.toml.key" -}}
{{- if regexMatch "^[A-Za-z0-9_-]+$" . -}}{{ . }}{{- else -}}{{ toJson . }}{{- end -}}
{{- end -}}

{{- define "weft.toml.value" -}}
{{- if kindIs "string" . -}}
{{ toJson . }}
{{- else if kindIs "bool" . -}}
{{ . }}
{{- else if or (kindIs "float64" .) (kindIs "float32" .) (kindIs "int" .) (kindIs "int64" .) -}}
{{- if eq (float64 .) (float64 (int64 .)) -}}{{ int64 . }}{{- else -}}{{ . }}{{- end -}}
{{- else if kindIs "slice" . -}}
[{{ range $i, $e := . }}{{ if $i }}, {{ end }}{{ include "weft.toml.value" $e }}{{ end }}]
{{- else if kindIs "map" . -}}
{ {{- range $i, $k := keys . | sortAlpha }}{{ if $i }}, {{ end }}{{ include "weft.toml.key" $k }} = {{ include "weft.toml.value" (get $ $k) }}{{ end -}} }
{{- else -}}
{{- fail (printf "config: cannot write a %s as TOML" (kindOf .)) -}}
{{- end -}}
{{- end -}}
