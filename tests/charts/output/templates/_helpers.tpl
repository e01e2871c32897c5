{{- define "output.labels" -}}
app: {{ .Chart.Name }}
release: {{ .Release.Name }}
{{- end -}}
{{- define "output.service" -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ .Values.name }}-glued
{{- end -}}
