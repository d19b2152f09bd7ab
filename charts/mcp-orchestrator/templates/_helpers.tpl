{{/* The label kustomize adds to every base object (manifests/base/kustomization.yaml). */}}
{{- define "mcp-orchestrator.labels" -}}
app.kubernetes.io/part-of: mcp-orchestrator
{{- end }}

{{/* The orchestrator image: webhook, gateway and, unless sidecar.image is set, the sidecar. */}}
{{- define "mcp-orchestrator.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/* The platform config: values.platformConfig plus the images and hibernation.minWindow, which have values of their own. */}}
{{- define "mcp-orchestrator.platformConfig" -}}
{{- $c := deepCopy .Values.platformConfig -}}
{{- $_ := set $c "baseImage" (printf "%s:%s" .Values.baseImage.repository (.Values.baseImage.tag | default .Chart.AppVersion)) -}}
{{- $sidecar := $c.sidecar | default dict -}}
{{- $_ = set $sidecar "image" (.Values.sidecar.image | default (include "mcp-orchestrator.image" .)) -}}
{{- $_ = set $c "sidecar" $sidecar -}}
{{- with .Values.hibernation.minWindow -}}
{{- $_ = set $c "hibernation" (dict "minWindow" .) -}}
{{- end -}}
{{- toYaml $c -}}
{{- end }}

{{/* Pod scheduling fields, each only when set. */}}
{{- define "mcp-orchestrator.scheduling" -}}
{{- with .tolerations }}
tolerations:
{{- toYaml . | nindent 2 }}
{{- end }}
{{- with .nodeSelector }}
nodeSelector:
{{- toYaml . | nindent 2 }}
{{- end }}
{{- with .affinity }}
affinity:
{{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* The gateway's AuthenticationConfiguration of gateway.auth.oidc.config: a string as it is, YAML rendered. */}}
{{- define "mcp-orchestrator.oidcConfig" -}}
{{- $c := .Values.gateway.auth.oidc.config -}}
{{- if kindIs "string" $c -}}
{{ $c }}
{{- else -}}
{{ toYaml $c }}
{{- end -}}
{{- end }}

{{/* Whether the chart renders the gateway's OIDC ConfigMap: mode oidc, no ConfigMap of the user's. */}}
{{- define "mcp-orchestrator.oidcInline" -}}
{{- $a := .Values.gateway.auth -}}
{{- if and (has "oidc" $a.modes) (not $a.oidc.configMap) }}true{{ end -}}
{{- end }}
