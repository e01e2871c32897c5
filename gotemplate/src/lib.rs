//! Go's `text/template` with Sprig 3's functions and Helm 4's, as a pure library: it knows
//! nothing of werf, charts or Kubernetes. Callers add their own functions (werf's `werf_image`,
//! Helm's `include`/`tpl`) as context functions ([`funcs::Func::Context`]).
//!
//! - [`parse`]: lexing and parsing into trees (`define`, `block`, trim markers, comments).
//! - [`exec`]: execution with Go's semantics (dot, variables, `range` over sorted maps,
//!   short-circuit `and`/`or`, `template`, `include`, `tpl`).
//! - [`value`]: values as Go sees them, truth, `fmt`-style printing (`%v`, `printf`).
//! - [`funcs`]: Go's builtins and Sprig's core (strings, numbers, lists, defaults, JSON/YAML).
//! - [`sprig`]: the rest of Sprig that charts use (dicts, regexes, encodings, case, types).
//! - [`paths`]: `base`, `dir`, `ext`, `clean`, `isAbs` (Go's `path`) and their `os*` forms.
//! - [`musts`]: the `must*` forms, `typeIs`, `any`/`all`, `splitn`, `chunk`, `toRawJson`, ....
//! - [`semver`]: `semverCompare`'s versions and constraints; the `semver` object.
//! - [`numbers`]: Sprig's decimal float math (`addf`, `divf`, ...) and `seq`.
//! - [`text`]: `wrap`, `wrapWith`, `abbrevboth`.
//! - [`random`]: `randAlphaNum` and friends, `randInt`, `shuffle`, `uuidv4`.
//! - [`urls`]: `urlParse`, `urlJoin` (Go's `net/url`), offline `getHostByName`.
//! - [`date`]: Go's `time`: instants with zones, layouts, durations (chrono-tz's database).
//! - [`crypto`]: keys, certificates, bcrypt, `derivePassword`, AES (RustCrypto, rcgen).
//! - [`times`]: Sprig's date functions (`now`, `date`, `dateInZone`, `toDate`, `ago`, ...).
//! - [`helm`]: Helm 4's layer: `toYaml`, `fromYaml`, `toToml`, ..., `include`, `tpl`, `required`.
//! - [`yaml`]: YAML as Helm writes it (`toYaml`) and reads it (YAML 1.1, numbers as float64).
//! - [`toml`]: `toToml` as BurntSushi/toml writes it, `fromToml`.
//! - [`nesting`]: a pre-scan refusing YAML nested past the deserializers' limit.
//!
//! Checked against Helm 4 itself (`tests/helm4.rs`: the corpus and Helm-mode cases rendered by
//! helm-python-sdk), and in Go's plain mode against Go's own `text/template` and Sprig 3
//! (`tests/go.rs`, Debian's packages).

pub mod crypto;
pub mod date;
pub mod exec;
pub mod funcs;
pub mod helm;
pub mod musts;
pub mod nesting;
pub mod numbers;
pub mod parse;
pub mod paths;
pub mod random;
pub mod semver;
pub mod sprig;
pub mod text;
pub mod times;
pub mod toml;
pub mod urls;
pub mod value;
pub mod yaml;

use std::fmt;

pub use funcs::FuncError;
pub use parse::{Pos, Set};
pub use value::Value;

/// Runs a recursive step with enough stack: when less than 256 KiB is left, `f` continues on a
/// fresh 4 MiB segment. Every recursion of the parser, the executor and the printers goes
/// through here, so nesting is bounded by the depth limits ([`parse::MAX_DEPTH`],
/// [`value::MAX_VALUE_DEPTH`], the executor's template depth), never by the thread's stack.
pub fn with_stack<R>(f: impl FnOnce() -> R) -> R {
    stacker::maybe_grow(256 * 1024, 4 * 1024 * 1024, f)
}

/// A parse or execution error, worded as Go words it: `template: NAME:LINE:COL: message` for
/// execution (COL is Go's: the byte offset in the line, from 0), `template: NAME:LINE: message`
/// for parsing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub template: String,
    pub pos: Pos,
    pub message: String,
    /// A parse error (Go names the line only).
    pub parse: bool,
}

impl Error {
    pub fn at(template: &str, pos: Pos, message: String) -> Self {
        Error {
            template: template.to_string(),
            pos,
            message,
            parse: false,
        }
    }

    /// The column as Go reports it (execution errors only).
    pub fn column(&self) -> Option<usize> {
        (!self.parse).then(|| self.pos.col.saturating_sub(1))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.column() {
            Some(col) => write!(
                f,
                "template: {}:{}:{col}: {}",
                self.template, self.pos.line, self.message
            ),
            None => write!(
                f,
                "template: {}:{}: {}",
                self.template, self.pos.line, self.message
            ),
        }
    }
}

impl std::error::Error for Error {}

/// Parses `text` as template `name` and renders it with `data`, with Sprig's and Helm's functions
/// (a convenience for one template).
pub fn render(name: &str, text: &str, data: &Value) -> Result<String, Error> {
    let funcs = helm::shared();
    let mut set = Set::with_functions(funcs.clone());
    set.parse(name, text)?;
    exec::Exec::new(&set, funcs).render(name, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> Value {
        Value::from_json(
            &serde_json::json!({"name": "web", "labels": {"app": "web", "tier": "front"}, "tmpl": "{{ .name }}-{{ len .labels }}"}),
        )
    }

    #[test]
    fn include_renders_a_define_into_a_pipeline() {
        let t = "{{- define \"labels\" -}}\n{{ range $k, $v := .labels }}{{ $k }}: {{ $v }}\n{{ end }}{{- end -}}\nmetadata:\n  labels:{{ include \"labels\" . | trim | nindent 4 }}\n";
        assert_eq!(
            render("chart", t, &data()).expect("renders"),
            "metadata:\n  labels:\n    app: web\n    tier: front\n"
        );
    }

    #[test]
    fn tpl_renders_a_string_as_a_template_with_the_given_data() {
        assert_eq!(
            render("t", "{{ tpl .tmpl . }}", &data()).expect("renders"),
            "web-2"
        );
        let err = render("t", "{{ tpl \"{{ .x\" . }}", &data()).expect_err("bad inner template");
        assert!(
            err.message.starts_with(
                "error calling tpl: cannot parse template \"{{ .x\": template: gotpl:1: "
            ),
            "{err}"
        );
    }

    #[test]
    fn errors_name_template_line_and_column() {
        let err = render("deploy.yaml", "a\nb {{ .name | nosuch }}", &data())
            .expect_err("unknown function");
        assert_eq!(
            err.to_string(),
            "template: deploy.yaml:2: function \"nosuch\" not defined"
        );
        let err = render("x", "{{ fail \"custom message\" }}", &data()).expect_err("fail");
        assert!(
            err.to_string()
                .ends_with("error calling fail: custom message"),
            "{err}"
        );
    }

    #[test]
    fn unknown_functions_fail_at_parse_time_even_in_branches_never_taken() {
        let err = render(
            "p",
            "{{ if false }}{{ define \"d\" }}{{ nope 1 }}{{ end }}{{ end }}",
            &data(),
        )
        .expect_err("parse error");
        assert!(
            err.to_string().contains("function \"nope\" not defined"),
            "{err}"
        );
        let err = render(
            "p",
            "x\n{{ if false }}{{ (upper (nope)) }}{{ end }}",
            &data(),
        )
        .expect_err("parse error");
        assert_eq!(err.pos.line, 2, "{err}");
    }

    #[test]
    fn from_yaml_and_from_json_parse_or_report_under_error() {
        let ok = render(
            "f",
            "{{ (fromYaml \"a: 1\\nb: [x]\").b }} {{ (fromJson \"{\\\"k\\\": 2}\").k }}",
            &data(),
        );
        assert_eq!(ok.expect("renders"), "[x] 2");
        let bad = render(
            "f",
            "{{ if (fromYaml \"a: [\").Error }}error{{ end }}",
            &data(),
        );
        assert_eq!(bad.expect("renders"), "error");
    }

    #[test]
    fn helm_mode_makes_a_field_of_nil_an_error() {
        let mut set = Set::default();
        set.parse("h", "{{ .missing.deeper }}").expect("parses");
        let funcs = funcs::builtins();
        let mut exec = exec::Exec::new(&set, &funcs);
        exec.nil_field_is_error = true;
        let err = exec.render("h", &data()).expect_err("strict");
        assert!(
            err.message
                .contains("nil pointer evaluating interface {}.deeper"),
            "{err}"
        );
    }
}
