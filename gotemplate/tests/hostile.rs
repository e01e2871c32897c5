//! Hostile inputs to the pure engine: deep nesting, Go's integer edge cases, huge requests and
//! large templates end in clear errors or correct results, never in a panic or a stack overflow.
//!
//! Each test runs on a thread with the default 2 MiB stack (what rayon and `std::thread` give),
//! so a recursion that only fits the main thread's 8 MiB still fails here.

use gotemplate::{render, Value};
use serde_json::json;

/// Runs `f` on a fresh thread with the default stack size.
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("no panic, no overflow")
}

fn render_json(text: &str, data: serde_json::Value) -> Result<String, String> {
    render("t", text, &Value::from_json(&data)).map_err(|e| e.to_string())
}

#[test]
fn go_integer_edge_cases_wrap_as_go_does() {
    let out = render_json(
        "{{ div .min -1 }} {{ mod .min -1 }} {{ add .max 1 }} {{ mul .max 2 }} {{ sub .min 1 }}",
        json!({}),
    );
    // Values come in as float64; pass the extremes as template literals instead.
    assert!(out.is_ok(), "{out:?}");
    let out = render_json(
        "{{ div -9223372036854775808 -1 }} {{ mod -9223372036854775808 -1 }} {{ add 9223372036854775807 1 }} {{ mul 9223372036854775807 2 }} {{ sub -9223372036854775808 1 }} {{ add1 9223372036854775807 }}",
        json!({}),
    )
    .expect("renders");
    assert_eq!(
        out,
        "-9223372036854775808 0 -9223372036854775808 -2 9223372036854775807 -9223372036854775808"
    );
    assert_eq!(
        render_json("{{ div 1 0 }}", json!({})).expect_err("divide by zero"),
        "template: t:1:3: error calling div: runtime error: integer divide by zero"
    );
}

#[test]
fn deep_parentheses_and_blocks_end_in_a_depth_error() {
    on_small_stack(|| {
        for depth in [100_000usize, 250] {
            let parens = format!("{{{{ {}1{} }}}}", "(".repeat(depth), ")".repeat(depth));
            let e = render_json(&parens, json!({})).expect_err("too deep");
            assert!(e.contains("max expression depth exceeded"), "{e}");
            let ifs = format!(
                "{}x{}",
                "{{ if true }}".repeat(depth),
                "{{ end }}".repeat(depth)
            );
            let e = render_json(&ifs, json!({})).expect_err("too deep");
            assert!(e.contains("max expression depth exceeded"), "{e}");
            let elses = format!(
                "{{{{ if false }}}}{}{{{{ end }}}}",
                "{{ else if false }}".repeat(depth)
            );
            let e = render_json(&elses, json!({})).expect_err("too deep");
            assert!(e.contains("max expression depth exceeded"), "{e}");
        }
        // Just inside the limit renders.
        let ok = format!(
            "{}x{}",
            "{{ if true }}".repeat(150),
            "{{ end }}".repeat(150)
        );
        assert_eq!(render_json(&ok, json!({})).expect("renders"), "x");
    });
}

#[test]
fn endless_include_recursion_is_an_error() {
    on_small_stack(|| {
        let e = render_json(
            "{{ define \"r\" }}{{ include \"r\" . }}{{ end }}{{ include \"r\" . }}",
            json!({}),
        )
        .expect_err("recursion");
        assert!(e.contains("exceeded maximum template depth"), "{e}");
        let e = render_json(
            "{{ define \"r\" }}{{ template \"r\" . }}{{ end }}{{ template \"r\" . }}",
            json!({}),
        )
        .expect_err("recursion");
        assert!(e.contains("exceeded maximum template depth"), "{e}");
    });
}

#[test]
fn values_built_deeper_than_the_limit_at_run_time_are_an_error() {
    on_small_stack(|| {
        let e = render_json(
            "{{ $x := list }}{{ range until 1000000 }}{{ $x = list $x }}{{ end }}{{ len $x }}",
            json!({}),
        )
        .expect_err("too deep");
        assert!(
            e.contains("error calling list: the result would be nested more than 1000 levels deep"),
            "{e}"
        );
        let e = render_json(
            "{{ $x := dict }}{{ range until 5000 }}{{ $x = dict \"k\" $x }}{{ end }}{{ toJson $x }}",
            json!({}),
        )
        .expect_err("too deep");
        assert!(e.contains("error calling dict"), "{e}");
        // Just inside the limit, every printer and comparison works on the small stack.
        let out = render_json(
            "{{ $x := list }}{{ range until 990 }}{{ $x = list $x }}{{ end }}{{ $y := toJson $x }}{{ $z := toYaml $x }}{{ $w := print $x }}{{ len $y }} {{ deepEqual $x $x }}",
            json!({}),
        )
        .expect("renders");
        assert_eq!(out, "1982 true");
    });
}

#[test]
fn a_value_a_million_levels_deep_drops_without_recursion() {
    on_small_stack(|| {
        let mut v = Value::list(Vec::new());
        for i in 0..1_000_000 {
            v = if i % 2 == 0 {
                Value::list(vec![v])
            } else {
                Value::map([("k".to_string(), v)].into_iter().collect())
            };
        }
        assert!(v.depth() > 1000);
        drop(v);
    });
}

#[test]
fn huge_requests_are_errors_not_exhausted_memory() {
    for (text, needle) in [
        (
            "{{ repeat 9223372036854775807 \"ab\" }}",
            "`repeat` would make",
        ),
        ("{{ until 9223372036854775807 }}", "`until` would make"),
        (
            "{{ untilStep 0 9223372036854775807 1 }}",
            "`untilStep` would make",
        ),
        (
            "{{ indent 9223372036854775807 \"x\" }}",
            "`indent` would make",
        ),
        ("{{ trunc -9223372036854775808 \"abc\" }}", ""),
    ] {
        match render_json(text, json!({})) {
            Err(e) => assert!(!needle.is_empty() && e.contains(needle), "{text}: {e}"),
            Ok(out) => assert!(needle.is_empty() && out == "abc", "{text}: {out}"),
        }
    }
}

#[test]
fn identifiers_with_multibyte_letters_do_not_split_characters() {
    let e = render_json("{{ aé }}", json!({})).expect_err("unknown function");
    assert!(e.contains("\"aé\""), "{e}");
    let e = render_json("{{ .x | é }}", json!({"x": 1})).expect_err("unknown function");
    assert!(e.contains("\"é\""), "{e}");
}

#[test]
fn positions_in_a_large_template_stay_exact() {
    // 200,000 lines; the error is on the last one. (The timing side is a bench row.)
    let mut text = "line {{ .a }}\n".repeat(200_000);
    text.push_str("  {{ nope }}");
    let e = render_json(&text, json!({"a": 1})).expect_err("unknown function");
    // A parse error names the line, as Go's do.
    assert!(
        e.starts_with("template: t:200001: function \"nope\""),
        "{e}"
    );
    let mut text = "line {{ .a }}\n".repeat(200_000);
    text.push_str("  {{ fail \"here\" }}");
    let e = render_json(&text, json!({"a": 1})).expect_err("fail");
    // An execution error names Go's column too (the byte offset of `fail`, from 0).
    assert!(e.starts_with("template: t:200001:5:"), "{e}");
}
