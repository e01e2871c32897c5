//! A Go `text/template` engine with Sprig's functions, for charts and werf.yaml (in progress).
//!
//! - [`parse`]: lexing and parsing into trees (`define`, `block`, trim markers, comments).
//! - [`exec`]: execution with Go's semantics (dot, variables, `range` over sorted maps,
//!   short-circuit `and`/`or`, `template`, `include`, `tpl`).
//! - [`value`]: values as Go sees them, truth, `fmt`-style printing (`%v`, `printf`).
//! - [`funcs`]: Go's builtins and the Sprig functions implemented so far.
//!
//! Checked against Go itself: `tests/gotmpl` renders the same corpus with Go's `text/template`
//! and Sprig 3 (Debian's packages), and `graph/tests/template_go.rs` compares the outputs.

pub mod exec;
pub mod funcs;
pub mod parse;
pub mod value;

use std::fmt;

pub use parse::{Pos, Set};
pub use value::Value;

/// A parse or execution error, worded as Go words it: `template: NAME:LINE:COL: message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub template: String,
    pub pos: Pos,
    pub message: String,
}

impl Error {
    pub fn at(template: &str, pos: Pos, message: String) -> Self {
        Error {
            template: template.to_string(),
            pos,
            message,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "template: {}:{}:{}: {}",
            self.template, self.pos.line, self.pos.col, self.message
        )
    }
}

impl std::error::Error for Error {}

/// Parses `text` as template `name` and renders it with `data` (a convenience for one template).
pub fn render(name: &str, text: &str, data: &Value) -> Result<String, Error> {
    let mut set = Set::default();
    set.parse(name, text)?;
    let funcs = funcs::builtins();
    exec::Exec::new(&set, &funcs).render(name, data)
}
