//! One case of a differential test: the engine's result beside the reference's (Helm 4 in
//! `helm4.rs`, Go in `go.rs`), each side an output or a failure.

/// How one case compared.
pub enum Compared {
    /// The same output.
    Same,
    /// Both failed, for the same cause at the same place.
    SameFailure,
    /// Anything else, worded for the report.
    Differs(String),
}

/// Compares `ours` with the reference's (output, error) (`error` empty when it rendered);
/// `same_failure(ours, theirs)` judges two failures; `reference` names the reference.
pub fn compare(
    reference: &str,
    name: &str,
    ours: Result<String, String>,
    (out, err): (&str, &str),
    same_failure: impl Fn(&str, &str) -> bool,
) -> Compared {
    match (ours, err.is_empty()) {
        (Ok(o), true) if o == out => Compared::Same,
        (Err(e), false) if same_failure(&e, err) => Compared::SameFailure,
        (Err(e), false) => Compared::Differs(format!(
            "{name}: both fail, differently:\n  {reference}: {err}\n  rust: {e}"
        )),
        (Ok(o), true) => {
            Compared::Differs(format!("{name}:\n  {reference}: {out:?}\n  rust: {o:?}"))
        }
        (Ok(o), false) => Compared::Differs(format!(
            "{name}: {reference} fails ({err}) but Rust printed {o:?}"
        )),
        (Err(e), true) => Compared::Differs(format!(
            "{name}: Rust fails ({e}) but {reference} printed {out:?}"
        )),
    }
}
