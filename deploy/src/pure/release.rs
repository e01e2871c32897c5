//! Helm's release record, pure: the JSON object Helm 4 (and werf v2 through nelm) keeps per
//! revision in a Secret `sh.helm.release.v1.NAME.vN` as base64(gzip(JSON)), its statuses and
//! labels, and the decisions made from a release's history: whether it is locked by a converge
//! under way, which revisions become `superseded`, which fall out of `--history-max`.
//!
//! A record read from the cluster is kept whole: fields this code does not interpret (the chart's
//! templates and files, hooks' last runs, labels Helm may add) are written back untouched when
//! only the status changes.

use std::io::{Read as _, Write as _};
use std::sync::Arc;

use base64::Engine as _;
use serde_json::{json, Map, Value};

use crate::object::ObjectId;

/// A revision's status, as Helm names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Unknown,
    Deployed,
    Uninstalled,
    Superseded,
    Failed,
    Uninstalling,
    PendingInstall,
    PendingUpgrade,
    PendingRollback,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Unknown => "unknown",
            Status::Deployed => "deployed",
            Status::Uninstalled => "uninstalled",
            Status::Superseded => "superseded",
            Status::Failed => "failed",
            Status::Uninstalling => "uninstalling",
            Status::PendingInstall => "pending-install",
            Status::PendingUpgrade => "pending-upgrade",
            Status::PendingRollback => "pending-rollback",
        }
    }

    pub fn parse(s: &str) -> Status {
        match s {
            "deployed" => Status::Deployed,
            "uninstalled" => Status::Uninstalled,
            "superseded" => Status::Superseded,
            "failed" => Status::Failed,
            "uninstalling" => Status::Uninstalling,
            "pending-install" => Status::PendingInstall,
            "pending-upgrade" => Status::PendingUpgrade,
            "pending-rollback" => Status::PendingRollback,
            _ => Status::Unknown,
        }
    }

    /// An operation under way (or one that died): Helm refuses another one meanwhile.
    pub fn is_pending(self) -> bool {
        matches!(
            self,
            Status::PendingInstall | Status::PendingUpgrade | Status::PendingRollback
        )
    }
}

/// Who holds a pending revision and until when (werf-rs's annotations on the record's Secret;
/// Helm ignores them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    pub holder: String,
    /// Unix seconds after which a holder that stopped renewing is taken for dead.
    pub expires: i64,
}

pub const ANNOTATION_HOLDER: &str = "werf.io/converge-holder";
pub const ANNOTATION_EXPIRES: &str = "werf.io/converge-lock-expires";
/// The commit a revision was rendered from (absent for `--dev` work trees and Helm's own
/// revisions); `plan --explain` compares with it.
pub const ANNOTATION_COMMIT: &str = "werf.io/commit";

/// One revision of a release: Helm's release object, kept whole in `raw`.
#[derive(Clone, Debug)]
pub struct Record {
    pub raw: Map<String, Value>,
    /// The lock annotations of a pending revision written here.
    pub holder: Option<Holder>,
    /// When the Secret was created (Unix seconds), for pending revisions written elsewhere.
    pub created: i64,
    /// The objects of `manifest` with their identities (resolved against the cluster by
    /// [`crate::history`]).
    pub objects: Vec<(ObjectId, Arc<Value>)>,
    /// The commit this revision was rendered from ([`ANNOTATION_COMMIT`]).
    pub commit: Option<String>,
}

/// Why a stored record cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("`data.release` is not base64")]
    Base64(#[source] base64::DecodeError),
    #[error("`data.release` is not gzip")]
    Gzip(#[source] std::io::Error),
    #[error("`data.release` is not Helm's release JSON")]
    Json(#[source] serde_json::Error),
    #[error("`data.release` has no revision number (`version`)")]
    NoVersion,
}

/// What a new revision is made of.
pub struct NewRevision<'a> {
    pub name: &'a str,
    pub namespace: &'a str,
    pub revision: u64,
    pub status: Status,
    pub description: String,
    /// RFC 3339 with nanoseconds, as Go writes `time.Time`.
    pub now: &'a str,
    /// The first revision's `first_deployed` (the same `now` for an install).
    pub first_deployed: &'a str,
    /// Helm's chart object (`metadata`, `values`, ...).
    pub chart: Value,
    /// The user's values.
    pub config: Value,
    /// Every non-hook document, as Helm joins them (`---\n# Source: ...\n...`).
    pub manifest: String,
    /// Helm's hook objects.
    pub hooks: Vec<Value>,
    pub notes: String,
    /// The commit rendered (none for a `--dev` work tree).
    pub commit: Option<String>,
}

impl Record {
    /// A new revision's record.
    pub fn new(n: NewRevision<'_>) -> Record {
        let value = json!({
            "name": n.name,
            "info": {
                "first_deployed": n.first_deployed,
                "last_deployed": n.now,
                "description": n.description,
                "status": n.status.as_str(),
                "notes": n.notes,
            },
            "chart": n.chart,
            "config": n.config,
            "manifest": n.manifest,
            "hooks": n.hooks,
            "version": n.revision,
            "namespace": n.namespace,
            "apply_method": "ssa",
        });
        Record {
            raw: match value {
                Value::Object(m) => m,
                _ => Map::new(),
            },
            holder: None,
            created: 0,
            objects: Vec::new(),
            commit: n.commit,
        }
    }

    fn str_at(&self, pointer: &str) -> &str {
        self.raw_pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    fn raw_pointer(&self, pointer: &str) -> Option<&Value> {
        let mut parts = pointer.trim_start_matches('/').split('/');
        let first = parts.next()?;
        let mut v = self.raw.get(first)?;
        for p in parts {
            v = v.get(p)?;
        }
        Some(v)
    }

    pub fn name(&self) -> &str {
        self.str_at("name")
    }

    pub fn revision(&self) -> u64 {
        self.raw.get("version").and_then(Value::as_u64).unwrap_or(0)
    }

    pub fn status(&self) -> Status {
        Status::parse(self.str_at("info/status"))
    }

    pub fn first_deployed(&self) -> &str {
        self.str_at("info/first_deployed")
    }

    pub fn last_deployed(&self) -> &str {
        self.str_at("info/last_deployed")
    }

    pub fn manifest(&self) -> &str {
        self.str_at("manifest")
    }

    pub fn hooks(&self) -> &[Value] {
        self.raw
            .get("hooks")
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice)
    }

    /// Sets the status, the description and `last_deployed`.
    pub fn set_status(&mut self, status: Status, description: &str, now: &str) {
        let info = self
            .raw
            .entry("info")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(info) = info {
            info.insert("status".into(), Value::String(status.as_str().into()));
            info.insert("description".into(), Value::String(description.into()));
            info.insert("last_deployed".into(), Value::String(now.into()));
        }
    }

    /// Re-numbers a copy of this record (a rollback deploys an older revision as a new one).
    pub fn renumbered(&self, revision: u64) -> Record {
        let mut r = self.clone();
        r.raw.insert("version".into(), Value::from(revision));
        r.holder = None;
        r
    }

    /// The Secret's labels, as Helm writes them.
    pub fn labels(&self, modified_at: i64) -> Vec<(String, String)> {
        vec![
            ("modifiedAt".into(), modified_at.to_string()),
            ("name".into(), self.name().to_string()),
            ("owner".into(), "helm".into()),
            ("status".into(), self.status().as_str().into()),
            ("version".into(), self.revision().to_string()),
        ]
    }

    /// `data.release` of the Secret before the API's own base64: base64 of gzip of the JSON.
    pub fn encode(&self) -> Vec<u8> {
        let json = Value::Object(self.raw.clone()).to_string();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        // Writing to memory cannot fail.
        let _ = gz.write_all(json.as_bytes());
        let bytes = gz.finish().unwrap_or_default();
        base64::engine::general_purpose::STANDARD
            .encode(bytes)
            .into_bytes()
    }

    /// Reads `data.release` of a Secret (Helm 3 and 4 write the same).
    pub fn decode(data: &[u8]) -> Result<Record, DecodeError> {
        let gz = base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(DecodeError::Base64)?;
        // Helm reads records that are not gzipped too (very old releases).
        let json = if gz.starts_with(&[0x1f, 0x8b]) {
            let mut json = Vec::new();
            flate2::read::GzDecoder::new(&gz[..])
                .read_to_end(&mut json)
                .map_err(DecodeError::Gzip)?;
            json
        } else {
            gz
        };
        let raw: Map<String, Value> = serde_json::from_slice(&json).map_err(DecodeError::Json)?;
        if raw.get("version").and_then(Value::as_u64).is_none() {
            return Err(DecodeError::NoVersion);
        }
        Ok(Record {
            raw,
            holder: None,
            created: 0,
            objects: Vec::new(),
            commit: None,
        })
    }
}

/// The Secret name of a revision.
pub fn secret_name(release: &str, revision: u64) -> String {
    format!("sh.helm.release.v1.{release}.v{revision}")
}

/// The documents of a record's manifest: (source template, text) in order.
pub fn documents(manifest: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut source = String::new();
    let mut text = String::new();
    let flush = |source: &mut String, text: &mut String, out: &mut Vec<(String, String)>| {
        if !text.trim().is_empty() {
            out.push((std::mem::take(source), std::mem::take(text)));
        }
        text.clear();
    };
    for line in manifest.split_inclusive('\n') {
        let bare = line.trim_end();
        if bare == "---" || bare.starts_with("--- ") {
            flush(&mut source, &mut text, &mut out);
            continue;
        }
        if text.is_empty() {
            if let Some(s) = bare.strip_prefix("# Source: ") {
                source = s.to_string();
                continue;
            }
        }
        text.push_str(line);
    }
    flush(&mut source, &mut text, &mut out);
    out
}

/// The rendered text a record's document (from [`documents`]) was written from by
/// [`join_manifest`], when parsing that text gives the same object as parsing the document:
/// `join_manifest` adds one line break, which changes nothing but a block scalar that keeps its
/// trailing line breaks (`|+`, `>+`); for those, `None` (the document is parsed on its own).
pub fn rendered_text(document: &str) -> Option<&str> {
    let text = document.strip_suffix('\n')?;
    let keeps_breaks = text.match_indices(['|', '>']).any(|(at, _)| {
        let header = text[at + 1..].trim_start_matches(|c: char| c.is_ascii_digit() || c == '-');
        header.starts_with('+')
    });
    (!keeps_breaks).then_some(text)
}

/// Joins documents as Helm writes a release's manifest.
pub fn join_manifest<'a>(docs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::new();
    for (source, text) in docs {
        out.push_str("---\n# Source: ");
        out.push_str(source);
        out.push('\n');
        out.push_str(text);
        out.push('\n');
    }
    out
}

/// Whether the release is free for a new operation.
#[derive(Debug, PartialEq, Eq)]
pub enum LockState {
    Free,
    /// The newest revision is pending and its holder is alive (or may be).
    Held {
        revision: u64,
        holder: String,
        since: String,
    },
    /// The newest revision is pending but its holder stopped renewing: it is marked failed and
    /// the release is free.
    Stale {
        revision: u64,
    },
}

/// How long a pending revision without werf-rs's lock annotations (written by Helm or werf)
/// blocks, counted from its creation: Helm's default timeout of 5 minutes plus a margin.
pub const FOREIGN_PENDING_SECONDS: i64 = 5 * 60 + 120;

/// Decides from the history (oldest first) whether a new operation may start at `now` (Unix
/// seconds).
pub fn lock_state(history: &[Record], now: i64) -> LockState {
    let Some(last) = history.last() else {
        return LockState::Free;
    };
    if !last.status().is_pending() {
        return LockState::Free;
    }
    let (holder, expires) = match &last.holder {
        Some(h) => (h.holder.clone(), h.expires),
        None => (
            "Helm or werf (a pending revision without werf-rs's lock)".to_string(),
            last.created + FOREIGN_PENDING_SECONDS,
        ),
    };
    if expires < now {
        LockState::Stale {
            revision: last.revision(),
        }
    } else {
        LockState::Held {
            revision: last.revision(),
            holder,
            since: last.last_deployed().to_string(),
        }
    }
}

/// Revisions that a newly deployed `revision` supersedes: every other one still `deployed`.
pub fn superseded_by(history: &[Record], revision: u64) -> Vec<u64> {
    history
        .iter()
        .filter(|r| r.revision() != revision && r.status() == Status::Deployed)
        .map(Record::revision)
        .collect()
}

/// Revisions to delete so that at most `max` remain (0: keep all), oldest first, never the
/// newest deployed one, as Helm's `--history-max`.
pub fn beyond_history(history: &[Record], max: usize) -> Vec<u64> {
    if max == 0 || history.len() <= max {
        return Vec::new();
    }
    let keep_deployed = history
        .iter()
        .rev()
        .find(|r| r.status() == Status::Deployed)
        .map(Record::revision);
    let mut out = Vec::new();
    let mut left = history.len();
    for r in history {
        if left <= max {
            break;
        }
        if Some(r.revision()) == keep_deployed {
            continue;
        }
        out.push(r.revision());
        left -= 1;
    }
    out
}

/// The newest revision that was deployed (now `deployed` or `superseded`), if any.
pub fn last_deployed(history: &[Record]) -> Option<&Record> {
    history
        .iter()
        .rev()
        .find(|r| r.status() == Status::Deployed)
}

/// Whether the next operation is an install (no revision was ever deployed), as Helm decides.
pub fn is_install(history: &[Record]) -> bool {
    !history
        .iter()
        .any(|r| matches!(r.status(), Status::Deployed | Status::Superseded))
}

/// The `(apiVersion, kind)` of each document of `manifest`, read from its top-level lines
/// without parsing it: a hint of which lists a converge will need (a document written otherwise,
/// e.g. in flow style, is simply not hinted).
pub fn kinds_hint(manifest: &str) -> std::collections::BTreeSet<(String, String)> {
    let top = |text: &str, key: &str| {
        text.lines().find_map(|l| {
            let v = l.strip_prefix(key)?.strip_prefix(':')?.trim();
            let v = v.trim_matches(|c| c == '"' || c == '\'');
            (!v.is_empty()).then(|| v.to_string())
        })
    };
    documents(manifest)
        .iter()
        .filter_map(|(_, text)| Some((top(text, "apiVersion")?, top(text, "kind")?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(revision: u64, status: Status) -> Record {
        Record::new(NewRevision {
            name: "app",
            namespace: "ns",
            revision,
            status,
            description: String::new(),
            now: "2026-11-30T06:21:22.409561963Z",
            first_deployed: "2026-11-30T06:21:22.409561963Z",
            chart: json!({"metadata": {"name": "c", "version": "1.0.0"}}),
            config: json!({}),
            manifest: String::new(),
            hooks: vec![],
            notes: String::new(),
            commit: None,
        })
    }

    #[test]
    fn a_record_round_trips_and_keeps_fields_it_does_not_know() {
        let mut r = rec(3, Status::PendingUpgrade);
        r.raw.insert("future_field".into(), json!({"x": 1}));
        let back = Record::decode(&r.encode()).expect("decodes");
        assert_eq!(back.revision(), 3);
        assert_eq!(back.status(), Status::PendingUpgrade);
        assert_eq!(back.raw["future_field"], json!({"x": 1}));
        assert!(matches!(Record::decode(b"!!"), Err(DecodeError::Base64(_))));
    }

    #[test]
    fn a_record_helm_4_wrote_is_read() {
        // `data.release` (after the API's base64) of a Secret Helm 4 wrote on install.
        let json = r#"{"name":"rel","info":{"first_deployed":"2026-11-30T06:21:22.409561963Z","last_deployed":"2026-11-30T06:21:22.409561963Z","description":"Install complete","status":"deployed","notes":"notes for rel\n"},"chart":{"metadata":{"name":"hc","version":"0.1.0","apiVersion":"v2","appVersion":"1.0"},"lock":null,"templates":[],"values":{"greeting":"hi"},"schema":null,"files":[]},"config":{"greeting":"hello"},"manifest":"---\n# Source: hc/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  g: hello\n\n","hooks":[],"version":1,"namespace":"default","apply_method":"ssa"}"#;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(json.as_bytes()).expect("memory");
        let data = base64::engine::general_purpose::STANDARD.encode(gz.finish().expect("memory"));
        let r = Record::decode(data.as_bytes()).expect("decodes");
        assert_eq!(
            (r.name(), r.revision(), r.status()),
            ("rel", 1, Status::Deployed)
        );
        assert_eq!(
            documents(r.manifest()),
            [(
                "hc/templates/cm.yaml".to_string(),
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  g: hello\n\n"
                    .to_string()
            )]
        );
    }

    #[test]
    fn manifests_join_and_split_as_helm_writes_them() {
        let m = join_manifest([
            ("c/templates/a.yaml", "a: 1\n"),
            ("c/templates/b.yaml", "b: 2\n"),
        ]);
        assert_eq!(
            m,
            "---\n# Source: c/templates/a.yaml\na: 1\n\n---\n# Source: c/templates/b.yaml\nb: 2\n\n"
        );
        let docs = documents(&m);
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1], ("c/templates/b.yaml".into(), "b: 2\n\n".into()));
    }

    #[test]
    fn the_lock_is_the_newest_pending_revision_until_it_expires() {
        assert_eq!(lock_state(&[], 100), LockState::Free);
        let done = [rec(1, Status::Deployed), rec(2, Status::Failed)];
        assert_eq!(lock_state(&done, 100), LockState::Free);
        let mut pending = rec(3, Status::PendingUpgrade);
        pending.holder = Some(Holder {
            holder: "host:1".into(),
            expires: 200,
        });
        let h = [rec(1, Status::Deployed), pending];
        assert!(
            matches!(lock_state(&h, 100), LockState::Held { revision: 3, ref holder, .. } if holder == "host:1")
        );
        assert_eq!(lock_state(&h, 201), LockState::Stale { revision: 3 });
        // Written by Helm: no annotations; blocks for Helm's timeout from its creation.
        let mut foreign = rec(2, Status::PendingInstall);
        foreign.created = 1000;
        let h = [foreign];
        assert!(matches!(
            lock_state(&h, 1000 + FOREIGN_PENDING_SECONDS),
            LockState::Held { .. }
        ));
        assert_eq!(
            lock_state(&h, 1001 + FOREIGN_PENDING_SECONDS),
            LockState::Stale { revision: 2 }
        );
    }

    #[test]
    fn supersede_and_history_max_follow_helm() {
        let h = [
            rec(1, Status::Superseded),
            rec(2, Status::Deployed),
            rec(3, Status::Failed),
            rec(4, Status::Deployed),
        ];
        assert_eq!(superseded_by(&h, 4), [2]);
        assert_eq!(beyond_history(&h, 0), Vec::<u64>::new());
        assert_eq!(beyond_history(&h, 5), Vec::<u64>::new());
        assert_eq!(beyond_history(&h, 2), [1, 2]);
        // The newest deployed revision stays even when it is the oldest.
        let h = [
            rec(1, Status::Deployed),
            rec(2, Status::Failed),
            rec(3, Status::Failed),
        ];
        assert_eq!(beyond_history(&h, 1), [2, 3]);
        assert!(!is_install(&h));
        assert!(is_install(&[rec(1, Status::Failed)]));
        assert_eq!(last_deployed(&h).map(Record::revision), Some(1));
    }

    #[test]
    fn kinds_are_hinted_from_top_level_lines() {
        let manifest = "---\n# Source: c/templates/a.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: a\n  kind: not-this\n---\n# Source: c/templates/b.yaml\nkind: \"Service\"\napiVersion: v1\n---\n# Source: c/templates/c.yaml\n{apiVersion: v1, kind: ConfigMap}\n";
        let hint: Vec<_> = kinds_hint(manifest).into_iter().collect();
        assert_eq!(
            hint,
            [
                ("apps/v1".to_string(), "Deployment".to_string()),
                ("v1".to_string(), "Service".to_string())
            ]
        );
    }

    #[test]
    fn a_documents_rendered_text_parses_as_the_document_does() {
        let parse = |t: &str| {
            gotemplate::yaml::load::load_all_with(t, gotemplate::yaml::load::Numbers::AsWritten)
                .unwrap()
        };
        let rendered = [
            "kind: ConfigMap\ndata:\n  a: |\n    x\n",
            "kind: ConfigMap\ndata:\n  a: >-\n    x\n  b: \"1 > +2\"",
            "kind: ConfigMap\ndata:\n  a: |+\n    x\n",
            "kind: ConfigMap\ndata:\n  a: >2+\n    x\n",
        ];
        let manifest = join_manifest(rendered.iter().map(|t| ("c/templates/a.yaml", *t)));
        let docs = documents(&manifest);
        assert_eq!(docs.len(), 4);
        // Plain and clipped texts come back as rendered, and parse the same.
        for (doc, text) in docs.iter().zip(rendered).take(2) {
            assert_eq!(rendered_text(&doc.1), Some(text));
            assert_eq!(parse(text), parse(&doc.1));
        }
        // A kept block scalar gains the line break `join_manifest` added: parsed on its own.
        for (doc, text) in docs.iter().zip(rendered).skip(2) {
            assert_eq!(rendered_text(&doc.1), None);
            assert_ne!(parse(text), parse(&doc.1));
        }
    }
}
