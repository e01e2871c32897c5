{{- define "output.unused" }}not rendered{{ end -}}
