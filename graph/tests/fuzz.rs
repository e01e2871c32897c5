//! Property tests (proptest, stable Rust) of every parser that reads user input: werf.yaml,
//! Dockerfiles, templates and `--set`. Each runs a bounded number of cases (`PROPTEST_CASES`
//! overrides it) built from the grammar's own tokens, so most cases get deep into the parser;
//! the property is that each input ends in a value or an error, never a panic, on a thread
//! with the default 2 MiB stack.

use std::collections::BTreeMap;

use gotemplate::{render, Value};
use proptest::prelude::*;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(2000),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Text made of a grammar's tokens and some arbitrary characters.
fn tokens(pieces: &'static [&'static str], max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => prop::sample::select(pieces).prop_map(str::to_string),
            1 => any::<char>().prop_map(|c| c.to_string()),
        ],
        0..max,
    )
    .prop_map(|v| v.concat())
}

const TEMPLATE: &[&str] = &[
    "{{", "}}", "{{-", "-}}", " ", "\n", "(", ")", "|", "$x", ":=", "=", ".", ".a", ".b.c",
    "\"s\"", "`r`", "'c'", "1", "-2", "1.5e3", "0x1f", "if", "else", "end", "range", "with",
    "define", "template", "block", "\"t\"", "include", "tpl", "and", "or", "not", "len", "index",
    "print", "printf", "list", "dict", "toYaml", "toJson", "fromYaml", "default", "until",
    "repeat", "indent", "div", "mod", "add", "break", "continue", "/*", "*/", "nil", "true", "é",
];

const WERF_YAML: &[&str] = &[
    "project: p\n",
    "configVersion: 1\n",
    "---\n",
    "image: a\n",
    "image: [a, b]\n",
    "dockerfile: Dockerfile\n",
    "context: c\n",
    "contextAddFiles: [x]\n",
    "dependencies:\n",
    "- image: b\n",
    "  imports:\n",
    "  - type: ImageName\n",
    "    targetBuildArg: A\n",
    "args:\n",
    "  K: v\n",
    "target: t\n",
    "platform: [linux/amd64]\n",
    "deploy:\n",
    "  helmChartDir: h\n",
    "{{ .Env }}",
    "{{ env \"X\" }}",
    "{{- if true }}",
    "{{ end }}",
    "[",
    "]",
    "{",
    "}",
    ":",
    "- ",
    "  ",
    "\n",
    "&a ",
    "*a",
    "!!binary ",
    "~",
    "'",
    "\"",
];

const DOCKERFILE: &[&str] = &[
    "FROM scratch\n",
    "FROM alpine AS b\n",
    "FROM ${X}\n",
    "ARG X=1\n",
    "ARG Y\n",
    "ENV A=b C=d\n",
    "COPY . /app/\n",
    "COPY --from=b /x /y\n",
    "COPY --chmod=755 a b\n",
    "ADD a.tar /d/\n",
    "RUN echo\n",
    "WORKDIR /w\n",
    "USER 1\n",
    "CMD [\"a\"]\n",
    "ENTRYPOINT x\n",
    "LABEL a=b\n",
    "EXPOSE 80\n",
    "VOLUME /v\n",
    "HEALTHCHECK --interval=5s CMD x\n",
    "SHELL [\"sh\"]\n",
    "# escape=`\n",
    "\\\n",
    "$",
    "${",
    "}",
    ":-",
    "\"",
    "'",
    " ",
    "\t",
    "\n",
    "[",
    "]",
];

const SET: &[&str] = &[
    "a",
    "b",
    ".",
    ",",
    "=",
    "[",
    "]",
    "0",
    "65536",
    "99999999999999999999",
    "\\",
    "{",
    "}",
    ";",
    "true",
    "null",
    "-1",
    "é",
];

/// Runs `f` on a thread with the default stack (as rayon's and salsa's are).
fn small_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("no panic and no stack overflow");
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn templates_parse_and_run_or_fail_cleanly(text in tokens(TEMPLATE, 60)) {
        small_stack(move || {
            let data = Value::from_json(&serde_json::json!({"a": [1, 2], "b": {"c": "d"}}));
            let _ = render("t", &text, &data);
        });
    }

    #[test]
    fn werf_yaml_loads_or_fails_cleanly(text in tokens(WERF_YAML, 40)) {
        small_stack(move || {
            let _ = werf_graph::config::parse("werf.yaml", &text);
        });
    }

    #[test]
    fn dockerfiles_parse_and_resolve_or_fail_cleanly(text in tokens(DOCKERFILE, 30)) {
        small_stack(move || {
            if let Ok(df) = werf_graph::dockerfile::parse("Dockerfile", &text) {
                let _ = werf_graph::dockerfile::resolve(&df, &BTreeMap::new(), None);
                let _ = werf_graph::dockerfile::resolve(&df, &BTreeMap::new(), Some("b"));
            }
        });
    }

    #[test]
    fn set_expressions_apply_or_fail_cleanly(expr in tokens(SET, 40), kind in 0..4u8) {
        use werf_graph::chart::SetKind;
        let kind = [SetKind::Typed, SetKind::String, SetKind::Json, SetKind::Literal][kind as usize];
        small_stack(move || {
            let mut values = serde_json::json!({"a": {"b": [1]}});
            let _ = werf_graph::chart::apply_set(&mut values, &expr, kind);
        });
    }
}
