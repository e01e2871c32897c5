//! Differential test: the template engine against Go's own `text/template` + Sprig 3.
//!
//! The corpus below is rendered by `tests/gotmpl/main.go` (Go and Debian's Sprig package, set up
//! by `.ci/run`) and by the Rust engine; outputs must be byte-identical, and a template that
//! fails in Go must fail in Rust.

use std::io::Write;
use std::process::{Command, Stdio};

use gotemplate::{render, Value};
use serde_json::{json, Value as Json};

fn corpus() -> Vec<(&'static str, &'static str, Json)> {
    let v = json!({
        "name": "web", "replicas": 3, "big": 1000000, "ratio": 1.5, "tiny": 0.00001, "neg": -2,
        "enabled": true, "off": false, "empty": "", "nothing": null,
        "list": ["a", "b", "c"], "nums": [3, 1, 2], "dup": ["x", "y", "x"],
        "map": {"b": 2, "a": 1, "c": {"d": "deep"}},
        "text": "line1\nline2", "html": "<a href=\"x\">&</a>",
        "image": {"repository": "nginx", "tag": "1.25"}
    });
    vec![
        ("text", "plain text, no actions\n", json!({})),
        ("fields", "{{ .name }}/{{ .image.repository }}:{{ .image.tag }}", v.clone()),
        ("missing", "[{{ .missing }}][{{ .map.zzz }}][{{ print .missing }}]", v.clone()),
        ("numbers", "{{ .replicas }} {{ .big }} {{ .ratio }} {{ .tiny }} {{ .neg }} {{ 3 }} {{ 2.50 }} {{ 1e3 }} {{ 0x10 }} {{ 'a' }}", v.clone()),
        ("bools", "{{ .enabled }} {{ .off }} {{ true }} {{ not .enabled }}", v.clone()),
        ("trim", "a  {{- .name -}}  b\n  {{- \" c\" }}\n{{ \"d\" -}}\n\ne", v.clone()),
        ("comment", "x{{/* a comment */}}y{{- /* trimmed */ -}} z", v.clone()),
        ("if-else", "{{ if .enabled }}on{{ else }}off{{ end }} {{ if .off }}1{{ else if .empty }}2{{ else if .list }}3{{ end }}", v.clone()),
        ("range-list", "{{ range .list }}[{{ . }}]{{ end }} {{ range $i, $x := .list }}{{ $i }}={{ $x }};{{ end }}", v.clone()),
        ("range-map", "{{ range $k, $v := .map }}{{ $k }}:{{ $v }} {{ end }}", v.clone()),
        ("range-else", "{{ range .nothing }}x{{ else }}none{{ end }} {{ range .empty }}{{ else }}empty{{ end }}", v.clone()),
        ("break-continue", "{{ range .nums }}{{ if eq . 1.0 }}{{ continue }}{{ end }}{{ if eq . 2.0 }}{{ break }}{{ end }}{{ . }}{{ end }}", v.clone()),
        ("with", "{{ with .image }}{{ .repository }}{{ end }} {{ with .nothing }}x{{ else }}no{{ end }}", v.clone()),
        ("variables", "{{ $n := .name }}{{ $n }} {{ $n = \"other\" }}{{ $n }} {{ range .list }}{{ $.name }}{{ end }}", v.clone()),
        ("define", "{{ define \"greet\" }}hi {{ . }}{{ end }}{{ template \"greet\" .name }}|{{ template \"greet\" }}", v.clone()),
        ("block", "{{ block \"b\" .replicas }}[{{ . }}]{{ end }}", v.clone()),
        ("and-or", "{{ and .enabled .name }} {{ or .off .empty .name }} {{ and .off .missing.x }} {{ or .name .missing.x }}", v.clone()),
        ("compare", "{{ eq .name \"web\" }} {{ ne 1 2 }} {{ lt 1 2 }} {{ ge .replicas 3.0 }} {{ eq \"a\" \"b\" \"a\" }} {{ gt \"b\" \"a\" }}", v.clone()),
        ("len-index-slice", "{{ len .list }} {{ len .name }} {{ index .list 1 }} {{ index .map \"c\" \"d\" }} {{ slice .list 1 }} {{ slice .list 0 2 }}", v.clone()),
        ("error-slice-string", "{{ slice .name 1 2 }}", v.clone()),
        ("print", "{{ print 1 2 \"a\" 3 }} {{ print .list }} {{ print .map }} {{ println \"x\" 1 }}", v.clone()),
        ("printf", "{{ printf \"%s-%d-%v-%q-%x\" .name 5 .ratio \"q\" \"hi\" }} {{ printf \"%5d|%-5s|%05d|%.2f\" 42 \"ab\" 7 3.14159 }} {{ printf \"%d\" .replicas }}", v.clone()),
        ("escapers", "{{ html .html }} {{ js \"it's <b>\" }} {{ urlquery \"a b&c\" }}", v.clone()),
        ("pipelines", "{{ .name | upper | quote }} {{ \"x\" | printf \"%s-%s\" \"y\" }} {{ (index .list 0) | upper }} {{ (.image).tag }}", v.clone()),
        ("sprig-defaults", "{{ default \"d\" .missing }} {{ default \"d\" .name }} {{ default 5 0 }} {{ empty .empty }} {{ empty .list }} {{ coalesce .nothing .empty \"c\" }} {{ ternary \"y\" \"n\" .enabled }}", v.clone()),
        ("sprig-strings", "{{ upper .name }} {{ lower \"ABC\" }} {{ title \"hello world-x\" }} {{ trim \"  t  \" }} {{ trimPrefix \"ng\" \"nginx\" }} {{ trimSuffix \"x\" \"nginx\" }} {{ trunc 3 \"abcdef\" }} {{ trunc -2 \"abcdef\" }} {{ replace \"a\" \"o\" \"banana\" }} {{ repeat 3 \"ab\" }} {{ substr 1 3 \"abcdef\" }}", v.clone()),
        ("sprig-predicates", "{{ contains \"in\" \"nginx\" }} {{ hasPrefix \"ng\" \"nginx\" }} {{ hasSuffix \"x\" \"nginx\" }}", v.clone()),
        ("sprig-quote", "{{ quote .name }} {{ squote .name }} {{ quote 5 }} {{ quote .replicas }} {{ quote \"a\\\"b\" }}", v.clone()),
        ("sprig-split-join", "{{ join \",\" .list }} {{ splitList \",\" \"a,b,,c\" }} {{ join \"-\" .nums }}", v.clone()),
        ("sprig-indent", "x:{{ .text | indent 2 }}\ny:{{ .text | nindent 4 }}", v.clone()),
        ("sprig-math", "{{ add 1 2 3 }} {{ sub 10 .replicas }} {{ mul 2 .ratio }} {{ div 7 2 }} {{ mod 7 3 }} {{ max 1 5 3 }} {{ min 4 2 }} {{ add1 .replicas }} {{ int .ratio }} {{ float64 3 }} {{ int64 \"42\" }}", v.clone()),
        ("sprig-lists", "{{ list 1 \"a\" .ratio }} {{ first .list }} {{ last .list }} {{ append .list \"d\" }} {{ prepend .list \"z\" }} {{ has \"b\" .list }} {{ without .list \"b\" }} {{ uniq .dup }} {{ until 3 }}", v.clone()),
        ("sprig-dict", "{{ $d := dict \"k\" \"v\" \"n\" 1 }}{{ $d.k }} {{ get $d \"n\" }} [{{ get $d \"x\" }}] {{ hasKey $d \"k\" }} {{ hasKey $d \"z\" }}", v.clone()),
        ("sprig-json", "{{ toJson .map }} {{ toJson .list }} {{ toJson .big }} {{ toJson .ratio }} {{ toJson .html }} {{ toJson .nothing }}", v.clone()),
        ("toJson-float-forms", "{{ toJson .a }} {{ toJson .b }} {{ toJson .c }} {{ toJson .d }}", json!({"a": 0.0000001, "b": 1e21, "c": 0.000001, "d": 123456789.5})),
        ("sprig-encode", "{{ b64enc \"hello werf\" }} {{ sha256sum \"abc\" }} {{ toString 5 }} {{ toString .ratio }}", v.clone()),
        ("toYaml-values", "{{ toYaml . }}", json!({"s": "a: b", "e": "", "t": "true", "n": "1.5", "m": "l1\nl2", "m2": "l1\nl2\n", "big": 1000000, "f": 1.5, "l": [1, "x", {"k": "v", "a": []}, [1, 2]], "o": {}, "sp": " lead", "dash": "-x", "dash2": "- x", "hash": "a #b", "q": "it's", "nil": null, "yes": "yes", "tab": "a\tb", "a10": 1, "a2": 2, "B": 3, "_x": 4, "1": 5, "date": "2024-01-02", "ver": "1.25", "star": "*x", "colon": "a:b", "url": "http://x:80/p"})),
        ("sprig-paths", "{{ base \"a/b.tar.gz\" }} {{ base \"/\" }} {{ base \"\" }} {{ base \"a/b//\" }} {{ dir \"a/b/c\" }} {{ dir \"c\" }} {{ dir \"/c\" }} {{ ext \"a/b.tar.gz\" }} [{{ ext \"a.d/b\" }}] {{ clean \"a/b/../c/./d/\" }} {{ clean \"/../a\" }} {{ clean \"../../a/..\" }} {{ clean \"\" }} {{ isAbs \"/x\" }} {{ isAbs \"x\" }} {{ osBase \"a/b\" }} {{ osDir \"a/b\" }} {{ osExt \"x.y\" }} {{ osClean \"a//b\" }} {{ osIsAbs \"/\" }}", json!({})),
        ("sprig-musts", "{{ mustAppend .list \"d\" }} {{ mustPrepend .list \"z\" }} {{ mustFirst .list }} {{ mustLast .list }} {{ mustRest .list }} {{ mustInitial .list }} {{ mustReverse .list }} {{ mustUniq .dup }} {{ mustWithout .list \"b\" }} {{ mustHas \"b\" .list }} {{ mustCompact (list 1 \"\" 2) }} {{ mustSlice .list 1 2 }} {{ mustToJson .map }} {{ mustRegexMatch \"^w\" .name }} {{ mustRegexFind \"e.\" .name }} {{ mustRegexFindAll \"[abc]\" \"abcd\" 2 }} {{ mustRegexReplaceAll \"e\" .name \"E\" }} {{ mustRegexReplaceAllLiteral \"e\" .name \"$1\" }} {{ mustRegexSplit \"b\" \"abcabc\" -1 }} {{ mustChunk 2 .list }} {{ mustToRawJson .html }}", v.clone()),
        ("sprig-small", "{{ typeIs \"string\" .name }} {{ typeIs \"int\" .name }} {{ typeIsLike \"float64\" .ratio }} {{ typeIs \"[]interface {}\" .list }} {{ any 0 \"\" .name }} {{ any }} {{ all 1 .name }} {{ all 1 \"\" }} {{ all }} {{ initials \"First Try  again\" }} {{ swapcase \"Hello wORLD\" }} {{ trimall \"$\" \"$5.00$\" }} {{ splitn \",\" 2 \"a,b,c\" }} {{ splitn \",\" -1 \"a,b,c\" }} {{ regexQuoteMeta \"1.2+[x]{y}#&-~\" }} {{ chunk 2 (list 1 2 3 4 5) }} {{ chunk 0 .list }} {{ toRawJson .html }} {{ toRawJson .map }}", v.clone()),
        ("sprig-small-2", "{{ untitle \"Hello World  Again\" }} {{ pluck \"a\" (dict \"a\" 1) (dict \"b\" 2) (dict \"a\" \"x\") }} {{ b32enc \"werf rocks\" }} {{ b32dec \"O5SXEZRAOJXWG23T\" }} {{ ceil 1.2 }} {{ floor -1.2 }} {{ ceil \"3\" }} {{ round 3.14159 2 }} {{ round 2.5 0 }} {{ round 2.4 0 }} {{ round 123.555 2 0.4 }} {{ biggest 1 7 3 }} {{ toDecimal \"0777\" }} {{ toDecimal \"9\" }} {{ toDecimal 17 }}", json!({})),
        ("error-pluck", "{{ pluck \"a\" (list 1) }}", json!({})),
        ("toYaml-nested", "spec:\n  {{- toYaml .image | nindent 2 }}\n{{ toYaml .list }}\n{{ toYaml .name }}", v.clone()),
        ("nested-define-include", "{{ define \"a\" }}<{{ template \"b\" . }}>{{ end }}{{ define \"b\" }}{{ .name }}{{ end }}{{ template \"a\" . }}", v.clone()),
        ("sprig-dict-ops", "{{ $d := dict \"a\" 1 \"b\" (dict \"x\" 1) }}{{ $_ := set $d \"c\" 3 }}{{ $_ := set $d.b \"y\" 2 }}{{ $d }} {{ $_ := unset $d \"a\" }}{{ keys $d | sortAlpha }} {{ values (dict \"k\" \"v\") }} {{ pick .map \"a\" \"c\" }} {{ omit .map \"c\" }} {{ dig \"c\" \"d\" \"dflt\" .map }} {{ dig \"c\" \"z\" \"dflt\" .map }}", v.clone()),
        ("sprig-merge", "{{ $dst := dict \"a\" 1 \"e\" \"\" \"n\" (dict \"x\" 1) }}{{ $src := dict \"a\" 2 \"b\" 3 \"e\" \"filled\" \"n\" (dict \"x\" 9 \"y\" 8) }}{{ merge $dst $src }} {{ $dst }} {{ mergeOverwrite (dict \"a\" 1 \"k\" (dict \"p\" 1 \"q\" 2)) (dict \"a\" 5 \"k\" (dict \"q\" 7)) }} {{ deepCopy .map }}", v.clone()),
        ("sprig-lists-more", "{{ untilStep 1 10 3 }} {{ untilStep 5 0 -2 }} {{ rest .list }} {{ initial .list }} {{ reverse .list }} {{ compact (list 1 \"\" 0 \"a\" .nothing) }} {{ concat .list (list 1 2) }} {{ sortAlpha (list \"b\" \"C\" \"a\") }} {{ toStrings .nums }}", v.clone()),
        ("sprig-strings-more", "{{ split \",\" \"a,b\" }} {{ (split \":\" \"k:v\")._1 }} {{ cat \"a\" 1 .nothing \"b\" }} {{ nospace \" a b \" }} {{ plural \"one\" \"many\" 2 }} {{ abbrev 5 \"hello world\" }} {{ snakecase \"FirstName\" }} {{ kebabcase \"HTTPServer\" }} {{ camelcase \"http_server\" }} {{ atoi \"42\" }}", v.clone()),
        ("sprig-types", "{{ kindOf .name }} {{ kindOf .list }} {{ kindOf .map }} {{ kindOf .ratio }} {{ kindIs \"string\" .name }} {{ typeOf .list }} {{ typeOf .map }} {{ deepEqual .list (list \"a\" \"b\" \"c\") }}", v.clone()),
        ("sprig-regex", "{{ regexMatch \"^[a-z]+$\" .name }} {{ regexFind \"[0-9]+\" \"ab12cd34\" }} {{ regexFindAll \"[0-9]\" \"a1b2c3\" 2 }} {{ regexReplaceAll \"a(x*)b\" \"-ab-axxb-\" \"${1}W\" }} {{ regexReplaceAllLiteral \"a(x*)b\" \"-ab-\" \"$1\" }} {{ regexSplit \"z+\" \"pizza\" -1 }}", v.clone()),
        ("sprig-encodings", "{{ b64dec \"aGVsbG8gd2VyZg==\" }} {{ sha1sum \"abc\" }} {{ adler32sum \"werf\" }}", v.clone()),
        ("sprig-semver", "{{ semverCompare \">=1.19-0\" \"v1.20.2\" }} {{ semverCompare \"^1.2.3\" \"1.9.0\" }} {{ semverCompare \"~1.2.3\" \"1.3.0\" }} {{ semverCompare \"1.2.x\" \"1.2.7\" }} {{ semverCompare \">1.2\" \"1.2.5\" }} {{ semverCompare \"<=1.2\" \"1.2.9\" }} {{ semverCompare \">=1.19\" \"1.20.0-rc.1\" }} {{ semverCompare \"1.2 - 1.4.5\" \"1.4.5\" }} {{ semverCompare \"<1 || >=3\" \"3.1.0\" }} {{ semverCompare \"^0.2.3\" \"0.3.0\" }}", v.clone()),
        ("sprig-date", "{{ date \"2006-01-02T15:04:05Z07:00 Mon Jan _2 3PM\" 1700000000 }} {{ dateInZone \"02.01.06 15:04\" 86399 \"UTC\" }}", v.clone()),
        ("regex-bad-pattern", "{{ regexMatch \"(\" \"x\" }}", v.clone()),
        ("error-regex", "{{ regexFind \"(\" \"x\" }}", v.clone()),
        ("whitespace-lines", "items:\n{{- range .list }}\n  - {{ . }}\n{{- end }}\n", v.clone()),
        ("error-nil-field", "{{ .missing.deeper }}", v.clone()),
        ("error-unknown-func", "{{ nosuchfunc 1 }}", v.clone()),
        ("error-unclosed", "{{ if .enabled }}x", v.clone()),
        ("error-fail", "{{ fail \"stop here\" }}", v.clone()),
        ("error-compare", "{{ eq 1 \"a\" }}", v.clone()),
    ]
}

fn go_outputs(cases: &[(&str, &str, Json)]) -> Vec<(String, String)> {
    let input: Vec<Json> = cases
        .iter()
        .map(|(n, t, v)| json!({"name": n, "template": t, "values": v}))
        .collect();
    let harness = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/gotmpl/main.go");
    let gocache = std::env::temp_dir().join("werf-rs-gocache");
    let mut child = Command::new("go")
        .args(["run", harness])
        .env("GOPATH", "/usr/share/gocode")
        .env("GO111MODULE", "off")
        .env("TZ", "UTC")
        .env("GOFLAGS", "")
        .env("GOCACHE", gocache)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect(
            "Go is installed (golang-go; .ci/run installs it with tests/cluster/build-kubernetes)",
        );
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(serde_json::to_string(&input).expect("json").as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("go runs");
    assert!(
        out.status.success(),
        "the Go harness failed (is golang-github-masterminds-sprig-dev installed?): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results: Vec<Json> = serde_json::from_slice(&out.stdout).expect("harness prints JSON");
    results
        .iter()
        .map(|r| {
            (
                r["output"].as_str().unwrap_or_default().to_string(),
                r["error"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// The line and column and the first words of the cause (`error calling div:`, `unexpected
/// EOF`) of an error, without Go's `executing "NAME" at <...>:` context, which our engine does
/// not print.
fn failure_class(message: &str) -> (String, String) {
    let rest = message.strip_prefix("template: ").unwrap_or(message);
    // NAME:LINE[:COL]: cause
    let mut parts = rest.splitn(4, ':');
    let _name = parts.next();
    let line = parts.next().unwrap_or_default().trim().to_string();
    let tail: String = parts.collect::<Vec<_>>().join(":");
    let col: String = tail.chars().take_while(|c| c.is_ascii_digit()).collect();
    let line = if col.is_empty() {
        line
    } else {
        format!("{line}:{col}")
    };
    let tail = tail
        .trim_start_matches(|c: char| c.is_ascii_digit())
        .trim_start_matches(':');
    let cause = match tail.find(" executing \"") {
        Some(_) => tail.split_once(">: ").map(|(_, c)| c).unwrap_or(tail),
        None => tail,
    };
    let words: Vec<&str> = cause.split_whitespace().take(3).collect();
    (line, words.join(" "))
}

fn same_failure(ours: &str, go: &str) -> bool {
    let (ours, go) = (failure_class(ours), failure_class(go));
    ours.0 == go.0
        && !go.1.is_empty()
        && ours.1.starts_with(&go.1[..go.1.len().min(ours.1.len())])
        && ours.1.split(' ').next() == go.1.split(' ').next()
}

#[test]
fn failure_classes_compare_cause_and_line() {
    assert!(same_failure(
        "template: t:1:3: error calling div: runtime error: integer divide by zero",
        "template: t:1:3: executing \"t\" at <div 1 0>: error calling div: runtime error: integer divide by zero",
    ));
    assert!(!same_failure(
        "template: t:1:4: error calling div: runtime error: integer divide by zero",
        "template: t:1:3: executing \"t\" at <div 1 0>: error calling div: runtime error: integer divide by zero",
    ));
    assert!(!same_failure(
        "template: t:1:4: error calling mod: x",
        "template: t:1:3: executing \"t\" at <div 1 0>: error calling div: x",
    ));
    assert!(!same_failure(
        "template: t:2:4: unexpected EOF",
        "template: t:1: unexpected EOF",
    ));
}

#[test]
fn rendering_matches_go_text_template_and_sprig() {
    let cases = corpus();
    let go = go_outputs(&cases);
    let mut mismatches = Vec::new();
    for ((name, text, values), (go_out, go_err)) in cases.iter().zip(go) {
        let ours = render(name, text, &Value::from_json(values));
        match (&ours, go_err.is_empty()) {
            (Ok(out), true) if *out == go_out => {}
            (Err(e), false) if same_failure(&e.to_string(), &go_err) => {}
            (Err(e), false) => mismatches.push(format!(
                "{name}: both fail, differently:\n  go:   {go_err}\n  rust: {e}"
            )),
            (Ok(out), true) => {
                mismatches.push(format!("{name}:\n  go:   {go_out:?}\n  rust: {out:?}"))
            }
            (Ok(out), false) => mismatches.push(format!(
                "{name}: Go fails ({go_err}) but Rust printed {out:?}"
            )),
            (Err(e), true) => mismatches.push(format!(
                "{name}: Rust fails ({e}) but Go printed {go_out:?}"
            )),
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} cases differ from Go:\n{}",
        mismatches.len(),
        cases.len(),
        mismatches.join("\n")
    );
}

#[test]
fn arbitrary_template_text_never_panics() {
    // A deterministic fuzz: every prefix, and mutations, of a template exercising the grammar.
    let seed = "{{- define \"x\" }}{{ range $i, $v := .list }}{{ if and $v (eq $i 1) }}{{ printf \"%q\" $v | upper }}{{ else }}{{ . }}{{ end }}{{ end }}{{ end -}}{{ template \"x\" . }}{{/* c */}}{{ (index .m \"k\").f }}";
    let data = Value::from_json(&json!({"list": ["a", "b"], "m": {"k": {"f": 1}}}));
    let bytes = seed.as_bytes();
    let mut state = 0x2545F4914F6CDD1Du64;
    for len in 0..=bytes.len() {
        if let Ok(prefix) = std::str::from_utf8(&bytes[..len]) {
            let _ = render("p", prefix, &data);
        }
    }
    for _ in 0..2000 {
        let mut m = bytes.to_vec();
        for _ in 0..3 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let at = (state % m.len() as u64) as usize;
            let b = b"{}()|$.\" -=:,abc123"[(state >> 32) as usize % 19];
            m[at] = b;
        }
        if let Ok(s) = std::str::from_utf8(&m) {
            let _ = render("m", s, &data);
        }
    }
}
