//! `werf bundle copy`: a bundle and every image it references, from a registry or an archive to
//! a registry or an archive. Into a registry, the images land in the destination repository
//! under their tags and the chart's references (`werf.image`, `werf.repo`) are moved with them;
//! into an archive, the chart is kept as published.

use std::path::PathBuf;

use werf_registry::Registry;

use crate::archive::{Reader, Writer};
use crate::{artifact, compose, package, version, Error, Result};

/// Where a bundle is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// `REPO:TAG` of a registry.
    Remote { repo: String, tag: String },
    /// `archive:PATH`.
    Archive(PathBuf),
}

impl Location {
    /// `archive:PATH`, else `REPO[:TAG]` (`latest` when no tag is given, as werf).
    pub fn parse(text: &str) -> Location {
        if let Some(path) = text.strip_prefix("archive:") {
            return Location::Archive(PathBuf::from(path));
        }
        let repo = crate::images::repo_of(text);
        let tag = text[repo.len()..].trim_start_matches(':');
        Location::Remote {
            repo: repo.to_string(),
            tag: if tag.is_empty() { "latest" } else { tag }.to_string(),
        }
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Remote { repo, tag } => write!(f, "{repo}:{tag}"),
            Location::Archive(p) => write!(f, "archive:{}", p.display()),
        }
    }
}

/// What a copy did.
#[derive(Debug, Default)]
pub struct Copied {
    /// Each image: from, to.
    pub images: Vec<(String, String)>,
    pub sent: crate::images::Sent,
}

/// The chart's archive and loaded chart of a bundle at `from`.
fn read_chart(registry: &Registry, from: &Location) -> Result<(Vec<u8>, werf_graph::chart::Chart)> {
    let archive = match from {
        Location::Remote { repo, tag } => artifact::pull(registry, repo, tag)?.archive,
        Location::Archive(path) => Reader::open(path)?.chart()?,
    };
    let label = from.to_string();
    let chart_err = |cause| Error::Chart {
        chart: label.clone(),
        cause: Box::new(cause),
    };
    let files = package::from_tgz(&label, &archive).map_err(chart_err)?;
    let chart = werf_graph::chart::load::from_files(&label, files).map_err(chart_err)?;
    Ok((archive, chart))
}

/// Copies the bundle `from` to `to`; `now` dates a chart version a non-semver tag gives.
pub fn copy(registry: &Registry, from: &Location, to: &Location, now: u64) -> Result<Copied> {
    if from == to {
        return Err(Error::Invalid {
            bundle: from.to_string(),
            message: "the source and the destination are the same".into(),
        });
    }
    if matches!((from, to), (Location::Archive(_), Location::Archive(_))) {
        return Err(Error::Invalid {
            bundle: from.to_string(),
            message: "an archive is copied to a registry, not to another archive (copy the file)"
                .into(),
        });
    }
    let (archive, chart) = read_chart(registry, from)?;
    let service = werf_graph::chart::standalone::service_of(&chart.values).map_err(|message| {
        Error::Invalid {
            bundle: from.to_string(),
            message,
        }
    })?;
    let mut copied = Copied::default();
    match to {
        Location::Archive(path) => {
            let mut w = Writer::create(path)?;
            w.chart(&archive)?;
            for reference in service.images.values() {
                let tag = werf_graph::chart::standalone::tag_of(reference).ok_or_else(|| {
                    Error::Invalid {
                        bundle: from.to_string(),
                        message: format!("image `{reference}` has no tag to archive it by"),
                    }
                })?;
                w.image(registry, reference, tag)?;
                copied
                    .images
                    .push((reference.clone(), format!("{to}:{tag}")));
            }
            w.finish()?;
        }
        Location::Remote { repo, tag } => {
            let files =
                package::from_tgz(&from.to_string(), &archive).map_err(|cause| Error::Chart {
                    chart: from.to_string(),
                    cause: Box::new(cause),
                })?;
            let chart_version = version::chart_version(tag, now);
            let (files, moves) =
                compose::retarget(&chart, &files, repo, &chart_version).map_err(|message| {
                    Error::Invalid {
                        bundle: from.to_string(),
                        message,
                    }
                })?;
            let reader = match from {
                Location::Archive(path) => Some(Reader::open(path)?),
                Location::Remote { .. } => None,
            };
            let named = match &reader {
                Some(r) => r.images()?,
                None => Default::default(),
            };
            for (src, dst) in &moves {
                let dst_tag = werf_graph::chart::standalone::tag_of(dst).unwrap_or_default();
                let sent = match &reader {
                    None => crate::images::copy(registry, src, repo, dst_tag)?,
                    Some(r) => {
                        let n = named.get(dst_tag).ok_or_else(|| Error::Invalid {
                            bundle: from.to_string(),
                            message: format!(
                                "the archive has no image tagged `{dst_tag}` (for `{src}`)"
                            ),
                        })?;
                        r.push_image(registry, n, repo, dst_tag)?
                    }
                };
                add(&mut copied.sent, sent);
                copied.images.push((src.clone(), dst.clone()));
            }
            let meta = werf_graph::chart::load::from_files(&to.to_string(), files.clone())
                .map_err(|cause| Error::Chart {
                    chart: to.to_string(),
                    cause: Box::new(cause),
                })?
                .meta;
            let name = chart.name.clone();
            let tgz = package::to_tgz(&name, &files).map_err(|cause| Error::Io {
                path: to.to_string(),
                cause,
            })?;
            artifact::push(registry, repo, tag, &meta, tgz)?;
        }
    }
    Ok(copied)
}

fn add(total: &mut crate::images::Sent, one: crate::images::Sent) {
    total.manifests += one.manifests;
    total.blobs_uploaded += one.blobs_uploaded;
    total.blobs_mounted += one.blobs_mounted;
    total.blobs_present += one.blobs_present;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse_as_werf_writes_them() {
        assert_eq!(
            Location::parse("h:5000/a/b:v1"),
            Location::Remote {
                repo: "h:5000/a/b".into(),
                tag: "v1".into()
            }
        );
        assert_eq!(
            Location::parse("h:5000/a/b"),
            Location::Remote {
                repo: "h:5000/a/b".into(),
                tag: "latest".into()
            }
        );
        assert_eq!(
            Location::parse("archive:/tmp/x.tar"),
            Location::Archive("/tmp/x.tar".into())
        );
        assert_eq!(
            Location::parse("archive:b.tar").to_string(),
            "archive:b.tar"
        );
    }
}
