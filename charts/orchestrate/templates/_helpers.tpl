{{/* The release-scoped name of the chart's objects. */}}
{{- define "orchestrate.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "orchestrate.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* Selector labels of one component: (dict "root" $ "component" "worker-x"). */}}
{{- define "orchestrate.selectorLabels" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/*
The pools that are enabled, as a JSON object of name to pool, each pool
being workerDefaults with the pool's own keys laid over it key by key and
its role filled in. A pool's key replaces the default's whole, so that a
pool can set minReplicas: 0 or an empty nodeSelector over a default.
*/}}
{{- define "orchestrate.pools" -}}
{{- $pools := dict -}}
{{- range $name, $own := .Values.workers -}}
{{- $p := deepCopy $.Values.workerDefaults -}}
{{- range $k, $v := ($own | default dict) -}}
{{- $_ := set $p $k $v -}}
{{- end -}}
{{- if $p.enabled -}}
{{- if not $p.role -}}{{- $_ := set $p "role" $name -}}{{- end -}}
{{- if le (int $p.concurrency) 0 -}}{{- fail (printf "workers.%s.concurrency: want at least 1" $name) -}}{{- end -}}
{{- if lt (int $p.maxReplicas) (int $p.minReplicas) -}}{{- fail (printf "workers.%s: maxReplicas %v is below minReplicas %v" $name $p.maxReplicas $p.minReplicas) -}}{{- end -}}
{{- if le (int $p.maxReplicas) 0 -}}{{- fail (printf "workers.%s.maxReplicas: want at least 1" $name) -}}{{- end -}}
{{- if le (int $p.lagThreshold) 0 -}}{{- $_ := set $p "lagThreshold" $p.concurrency -}}{{- end -}}
{{- $_ := set $pools $name $p -}}
{{- end -}}
{{- end -}}
{{- toJson $pools -}}
{{- end -}}

{{/* The roles of the enabled pools, comma-separated, each once. */}}
{{- define "orchestrate.roles" -}}
{{- $roles := list -}}
{{- range $name, $p := (include "orchestrate.pools" . | fromJson) -}}
{{- $roles = append $roles $p.role -}}
{{- end -}}
{{- $roles | uniq | sortAlpha | join "," -}}
{{- end -}}

{{/* The JetStream priorities; broker.Priorities in Go. */}}
{{- define "orchestrate.priorities" -}}
high,normal,low
{{- end -}}

{{/*
The durable consumer of a role and priority: (list role priority). It must
name consumers as broker.ConsumerName does; the chart's test checks it.
*/}}
{{- define "orchestrate.consumerName" -}}
{{- printf "tasks-%s-%s" (index . 0) (index . 1) -}}
{{- end -}}

{{- define "orchestrate.connectionSecret" -}}
{{- printf "%s-connection" (include "orchestrate.fullname" .) -}}
{{- end -}}

{{/* The bundled servers take precedence over the URLs, which have defaults. */}}
{{- define "orchestrate.natsURL" -}}
{{- if .Values.nats.enabled -}}
{{- printf "nats://%s-nats:4222" (include "orchestrate.fullname" .) -}}
{{- else -}}
{{- required "nats.url, nats.existingSecret or nats.enabled: the workers need a NATS server" .Values.nats.url -}}
{{- end -}}
{{- end -}}

{{- define "orchestrate.redisURL" -}}
{{- if .Values.redis.enabled -}}
{{- printf "redis://%s-redis:6379" (include "orchestrate.fullname" .) -}}
{{- else -}}
{{- required "redis.url, redis.existingSecret or redis.enabled: the workers need a Redis server" .Values.redis.url -}}
{{- end -}}
{{- end -}}

{{/*
host:port of the NATS monitoring endpoint. KEDA polls it from its own
namespace, so a short service name from nats.url gets this release's
namespace appended.
*/}}
{{- define "orchestrate.natsMonitoringEndpoint" -}}
{{- if .Values.nats.monitoringEndpoint -}}
{{- .Values.nats.monitoringEndpoint -}}
{{- else if .Values.nats.enabled -}}
{{- printf "%s-nats.%s.svc:8222" (include "orchestrate.fullname" .) .Release.Namespace -}}
{{- else if and .Values.nats.url (not .Values.nats.existingSecret) -}}
{{- $host := (urlParse .Values.nats.url).host | splitList ":" | first -}}
{{- if not (contains "." $host) -}}{{- $host = printf "%s.%s.svc" $host .Release.Namespace -}}{{- end -}}
{{- printf "%s:8222" $host -}}
{{- else -}}
{{- fail "nats.monitoringEndpoint: KEDA reads the consumers' lag from the NATS monitoring endpoint (host:port, e.g. nats.nats.svc:8222); set it or disable autoscaling.keda" -}}
{{- end -}}
{{- end -}}

{{/* The image of a pool: (dict "root" $ "pool" $p). */}}
{{- define "orchestrate.image" -}}
{{- $repo := .root.Values.image.repository -}}
{{- if eq .pool.role "collector" -}}{{- $repo = .root.Values.collectorImage.repository -}}{{- end -}}
{{- printf "%s:%s" $repo (.root.Values.image.tag | default .root.Chart.AppVersion) -}}
{{- end -}}

{{/* The environment every orchestrate container shares. */}}
{{- define "orchestrate.env" -}}
- name: ORCHESTRATE_NATS_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.nats.existingSecret | default (include "orchestrate.connectionSecret" .) }}
      key: {{ ternary .Values.nats.existingSecretKey "nats-url" (ne .Values.nats.existingSecret "") }}
- name: ORCHESTRATE_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.redis.existingSecret | default (include "orchestrate.connectionSecret" .) }}
      key: {{ ternary .Values.redis.existingSecretKey "redis-url" (ne .Values.redis.existingSecret "") }}
- name: ORCHESTRATE_LOG_FORMAT
  value: json
- name: ORCHESTRATE_LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
- name: ORCHESTRATE_MAX_DELIVER
  value: {{ .Values.maxDeliver | quote }}
- name: ORCHESTRATE_ACK_WAIT
  value: {{ .Values.ackWait | quote }}
{{- /* Workers also ensure the topology at start: they must ask for the
       same replication as broker init, or they would scale streams down. */}}
- name: ORCHESTRATE_STREAM_REPLICAS
  value: {{ .Values.nats.streamReplicas | quote }}
{{- if .Values.nats.credentialsSecret }}
- name: ORCHESTRATE_NATS_CREDS
  value: /etc/orchestrate/nats/{{ .Values.nats.credentialsSecretKey }}
{{- end }}
{{- end -}}

{{- define "orchestrate.credsVolumeMount" -}}
{{- if .Values.nats.credentialsSecret }}
- name: nats-creds
  mountPath: /etc/orchestrate/nats
  readOnly: true
{{- end }}
{{- end -}}

{{- define "orchestrate.credsVolume" -}}
{{- if .Values.nats.credentialsSecret }}
- name: nats-creds
  secret:
    secretName: {{ .Values.nats.credentialsSecret }}
    items:
      - key: {{ .Values.nats.credentialsSecretKey }}
        path: {{ .Values.nats.credentialsSecretKey }}
{{- end }}
{{- end -}}
