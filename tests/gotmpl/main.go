// Renders templates with Go's own text/template and Sprig (Debian's golang-github-masterminds-sprig-dev),
// the reference the Rust engine is compared against. Input on stdin: a JSON array of cases
// {"name", "template", "values"}; output: a JSON array of {"name", "output", "error"}.
package main

import (
	"bytes"
	"encoding/json"
	"os"
	"text/template"

	"github.com/Masterminds/sprig"
)

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
		t, err := template.New(c.Name).Funcs(sprig.TxtFuncMap()).Parse(c.Template)
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
