{{- define "deps.name" -}}
{{ .Chart.Name }}-{{ .Release.Name }}
{{- end -}}
{{- define "shared.greeting" -}}parent wins{{- end -}}
