//! What deploy tells the user, as events, and where tracking's status lines go; the binary
//! draws both (its `progress::DeployLines` writes each event as a line on stderr, and gives
//! stderr to tracking's [`crate::table`]).

use crate::object::ObjectId;

/// Something deploy did or found.
#[derive(Debug)]
pub enum Event<'a> {
    /// A planned change about to be made (create, update or delete).
    Step {
        verb: &'static str,
        id: &'a ObjectId,
    },
    /// A group (or dependency round) being applied.
    Applying { count: usize, weight: i64 },
    /// An object recreated after an immutable-field rejection.
    Recreated(&'a str),
    /// A hook being run.
    Hook(&'a ObjectId),
    /// An object being deleted, and why.
    Deleting { id: &'a ObjectId, why: &'static str },
    /// An object left alone by `helm.sh/resource-policy: keep`.
    Keeping(&'a ObjectId),
    /// A namespace created or deleted.
    Namespace { verb: &'static str, name: &'a str },
    /// A custom resource definition created from `crds/`.
    CrdCreated { kind: &'a str, name: &'a str },
    /// Nothing to change.
    UpToDate { release: &'a str, revision: u64 },
    /// Another converge did the work meanwhile.
    ConvergedMeanwhile { release: &'a str },
    /// A pending revision whose holder stopped renewing, marked failed.
    Stale { release: &'a str, revision: u64 },
    /// Rolling back after a failure.
    RollingBack { to: u64 },
    /// Waiting for an object outside the release.
    WaitingExternal { id: &'a ObjectId, of: &'a ObjectId },
    /// A problem that does not stop the operation (a lock renewal that failed).
    Warning(String),
}

impl std::fmt::Display for Event<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Event::Step { verb, id } => write!(f, "  {verb:<6}  {id}"),
            Event::Applying { count, weight } => write!(
                f,
                "applying {count} object{} (weight {weight})",
                if *count == 1 { "" } else { "s" }
            ),
            Event::Recreated(note) => write!(f, "{note}"),
            Event::Hook(id) => write!(f, "hook {id}"),
            Event::Deleting { id, why } => write!(f, "deleting {id}{why}"),
            Event::Keeping(id) => write!(f, "keeping {id} (helm.sh/resource-policy: keep)"),
            Event::Namespace { verb, name } => write!(f, "{verb} namespace `{name}`"),
            Event::CrdCreated { kind, name } => write!(f, "  create  {kind} {name} (crds/)"),
            Event::UpToDate { release, revision } => write!(
                f,
                "release `{release}` is up to date (revision {revision}); checking readiness"
            ),
            Event::ConvergedMeanwhile { release } => {
                write!(f, "release `{release}` was converged meanwhile; nothing left to do")
            }
            Event::Stale { release, revision } => write!(
                f,
                "revision {revision} of release `{release}` was left pending by a converge that stopped; marking it failed"
            ),
            Event::RollingBack { to } => write!(f, "rolling back to revision {to}"),
            Event::WaitingExternal { id, of } => {
                write!(f, "  waiting for {id} (external dependency of {of})")
            }
            Event::Warning(text) => write!(f, "warning: {text}"),
        }
    }
}

/// Where deploy's events go.
pub trait Reporter: Sync {
    fn event(&self, event: Event<'_>);

    /// Where tracking draws its status lines, and whether that is a terminal (where a table of
    /// what is still progressing is redrawn in place). By default nowhere.
    fn status_lines(&self) -> (Box<dyn std::io::Write + Send>, bool) {
        (Box::new(std::io::sink()), false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_read_as_the_lines_users_and_tests_know() {
        let id = ObjectId {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            namespace: Some("ns".into()),
            name: "app".into(),
        };
        assert_eq!(
            Event::Step {
                verb: "update",
                id: &id
            }
            .to_string(),
            "  update  Deployment/app (ns)"
        );
        assert_eq!(
            Event::Applying {
                count: 1,
                weight: 0
            }
            .to_string(),
            "applying 1 object (weight 0)"
        );
        assert_eq!(
            Event::UpToDate {
                release: "r",
                revision: 3
            }
            .to_string(),
            "release `r` is up to date (revision 3); checking readiness"
        );
        assert_eq!(
            Event::Deleting {
                id: &id,
                why: " (no longer in the chart)"
            }
            .to_string(),
            "deleting Deployment/app (ns) (no longer in the chart)"
        );
    }
}
