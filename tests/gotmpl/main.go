// Renders templates with Go's own text/template and Sprig (Debian's golang-github-masterminds-sprig-dev),
// plus Helm's toYaml (json.Marshal, then go-yaml v2 as sigs.k8s.io/yaml does; Debian's
// golang-gopkg-yaml.v2-dev), the reference the Rust engine is compared against. Input on stdin: a JSON array of cases
// {"name", "template", "values"}; output: a JSON array of {"name", "output", "error"}.
package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig"
	"gopkg.in/yaml.v2"
)

// toYaml is Helm's: sigs.k8s.io/yaml.Marshal (JSON first, then YAML), without the final newline.
func toYaml(v interface{}) string {
	j, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	var obj interface{}
	if err := yaml.Unmarshal(j, &obj); err != nil {
		return ""
	}
	y, err := yaml.Marshal(obj)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(y), "\n")
}

type testCase struct {
	Name     string      `json:"name"`
	Template string      `json:"template"`
	Values   interface{} `json:"values"`
}

type result struct {
	Name   string `json:"name"`
	Output string `json:"output"`
	Error  string `json:"error"`
}

func main() {
	var cases []testCase
	if err := json.NewDecoder(os.Stdin).Decode(&cases); err != nil {
		panic(err)
	}
	out := []result{}
	for _, c := range cases {
		r := result{Name: c.Name}
		funcs := sprig.TxtFuncMap()
		funcs["toYaml"] = toYaml
		t, err := template.New(c.Name).Funcs(funcs).Parse(c.Template)
		if err != nil {
			r.Error = err.Error()
		} else {
			var b bytes.Buffer
			if err := t.Execute(&b, c.Values); err != nil {
				r.Error = err.Error()
			}
			r.Output = b.String()
		}
		out = append(out, r)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	enc.Encode(out)
}
