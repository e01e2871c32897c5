//! Manifest deletes through the bounded plain-HTTP requests ([`super::plain`]).

use super::*;

/// What a manifest delete found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deleted {
    /// The registry removed it (and every tag naming it).
    Deleted,
    /// It was not there (deleted meanwhile by another run).
    Gone,
}

impl Registry {
    /// `DELETE /v2/NAME/manifests/DIGEST` (Docker Registry API). Answers a Basic or Bearer
    /// challenge with the Docker config's credentials (a Bearer token is asked for with the
    /// `delete` action). A registry that does not allow deletes is a clear error.
    pub fn delete_manifest(&self, repo: &str, digest: &str) -> Result<Deleted> {
        let target = self.target(&format!("{repo}@{digest}"))?;
        let operation = format!("deleting `{repo}@{digest}`");
        let fail = |message: String| target.error(&operation, message);
        let path = format!("manifests/{digest}");
        let answer = self
            .ask(&target, reqwest::Method::DELETE, &path, "delete", &[])
            .map_err(|e| target.failed(&operation, e))?;
        match answer.status.as_u16() {
            200..=299 => Ok(Deleted::Deleted),
            404 => Ok(Deleted::Gone),
            405 => Err(fail(
                "the registry does not allow deletes (405; for CNCF distribution set `storage.delete.enabled: true`)".into(),
            )),
            _ => Err(fail(answered(&answer))),
        }
    }
}
