{{/* The pod template shared by the StatefulSet (embedded) and the Deployment (broker). */}}
{{- define "weft.podTemplate" -}}
metadata:
  labels:
    {{- include "weft.selectorLabels" . | nindent 4 }}
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    checksum/config: {{ include "weft.config" . | sha256sum }}
    {{- if eq .Values.plugins.source "configMap" }}
    checksum/plugins: {{ toJson .Values.plugins.configMap | sha256sum }}
    {{- end }}
    {{- with .Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "weft.serviceAccountName" . }}
  automountServiceAccountToken: false
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  terminationGracePeriodSeconds: {{ include "weft.terminationGracePeriodSeconds" . }}
  securityContext:
    {{- toYaml .Values.podSecurityContext | nindent 4 }}
  {{- if and (eq .Values.plugins.source "image") (eq .Values.plugins.image.method "initContainer") }}
  initContainers:
    - name: plugins
      image: {{ include "weft.image" (dict "image" .Values.plugins.image "appVersion" "latest") | quote }}
      imagePullPolicy: {{ .Values.plugins.image.pullPolicy }}
      command: ["cp", "-R", "{{ trimSuffix "/" .Values.plugins.image.path }}/.", "/plugins-out/"]
      securityContext:
        {{- toYaml .Values.securityContext | nindent 8 }}
      resources:
        requests: { cpu: 10m, memory: 16Mi }
        limits: { memory: 64Mi }
      volumeMounts:
        - name: plugins
          mountPath: /plugins-out
  {{- end }}
  containers:
    - name: weft
      image: {{ include "weft.image" (dict "image" .Values.image "appVersion" .Chart.AppVersion) | quote }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      args: ["run", "--config", "/etc/weft/weft.toml"]
      ports:
        - name: http
          containerPort: {{ .Values.containerPort }}
          protocol: TCP
      env:
        {{- range .Values.auth.tokens }}
        - name: {{ include "weft.tokenEnv" .name }}
          valueFrom:
            secretKeyRef:
              name: {{ include "weft.authSecretName" $ }}
              key: {{ .secretKey }}
        {{- end }}
        {{- range .Values.secretEnv }}
        - name: {{ .name }}
          valueFrom:
            secretKeyRef:
              name: {{ .secretName }}
              key: {{ .key }}
        {{- end }}
        {{- with .Values.env }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- with .Values.envFrom }}
      envFrom:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- toYaml .Values.securityContext | nindent 8 }}
      startupProbe:
        httpGet: { path: /healthz, port: http }
        periodSeconds: {{ .Values.probes.startup.periodSeconds }}
        failureThreshold: {{ .Values.probes.startup.failureThreshold }}
      livenessProbe:
        httpGet: { path: /healthz, port: http }
        periodSeconds: {{ .Values.probes.liveness.periodSeconds }}
        failureThreshold: {{ .Values.probes.liveness.failureThreshold }}
      readinessProbe:
        httpGet: { path: /readyz, port: http }
        periodSeconds: {{ .Values.probes.readiness.periodSeconds }}
        failureThreshold: {{ .Values.probes.readiness.failureThreshold }}
      resources:
        {{- toYaml .Values.resources | nindent 8 }}
      volumeMounts:
        - name: config
          mountPath: /etc/weft
          readOnly: true
        - name: data
          mountPath: {{ .Values.dataDir }}
        - name: tmp
          mountPath: /tmp
        {{- if .Values.plugins.source }}
        - name: plugins
          mountPath: {{ .Values.plugins.mountPath }}
          readOnly: true
          {{- if and (eq .Values.plugins.source "image") (eq .Values.plugins.image.method "volume") (ne (trimAll "/" .Values.plugins.image.path) "") }}
          subPath: {{ trimAll "/" .Values.plugins.image.path }}
          {{- end }}
        {{- end }}
  volumes:
    - name: config
      configMap:
        name: {{ include "weft.fullname" . }}
    - name: tmp
      emptyDir:
        sizeLimit: 64Mi
    {{- if eq .Values.mode "broker" }}
    # broker mode: no embedded log to keep; plugin state and the compilation cache only
    - name: data
      emptyDir: {}
    {{- end }}
    {{- if eq .Values.plugins.source "configMap" }}
    - name: plugins
      configMap:
        name: {{ .Values.plugins.configMap.existingConfigMap | default (printf "%s-plugins" (include "weft.fullname" .)) }}
    {{- else if and (eq .Values.plugins.source "image") (eq .Values.plugins.image.method "volume") }}
    - name: plugins
      image:
        reference: {{ include "weft.image" (dict "image" .Values.plugins.image "appVersion" "latest") | quote }}
        pullPolicy: {{ .Values.plugins.image.pullPolicy }}
    {{- else if eq .Values.plugins.source "image" }}
    - name: plugins
      emptyDir:
        sizeLimit: 256Mi
    {{- end }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.topologySpreadConstraints }}
  topologySpreadConstraints:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}
