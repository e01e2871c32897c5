{{- define "shared.greeting" -}}child loses{{- end -}}
