{{- define "functions.cm" -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .name }}
data:
{{- range $k, $v := .data }}
  {{ $k }}: {{ $v | toString | quote }}
{{- end }}
{{- end -}}
