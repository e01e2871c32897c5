//! Chart files as a Helm chart archive, as `helm package` lays it out (every file under
//! `NAME/`), made reproducible: sorted, mtime 0, mode 0644, a gzip header without a time; and
//! an archive read back within Helm's size limits.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::sync::Arc;

/// The archive of `files` (chart-relative paths) under the folder `name`.
pub fn to_tgz(name: &str, files: &BTreeMap<String, Arc<[u8]>>) -> std::io::Result<Vec<u8>> {
    let gz = flate2::GzBuilder::new().write(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    tar.mode(tar::HeaderMode::Deterministic);
    for (path, data) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, format!("{name}/{path}"), &data[..])?;
    }
    let mut gz = tar.into_inner()?;
    gz.flush()?;
    gz.finish()
}

/// The files of a chart archive (`label` names it in errors).
pub fn from_tgz(label: &str, data: &[u8]) -> werf_graph::Result<BTreeMap<String, Arc<[u8]>>> {
    werf_graph::chart::load::unpack(label, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archives_are_reproducible_and_read_back() {
        let files: BTreeMap<String, Arc<[u8]>> = [
            ("Chart.yaml", "apiVersion: v2\nname: a\nversion: 1.0.0\n"),
            ("templates/x.yaml", "kind: X\n"),
        ]
        .into_iter()
        .map(|(p, t)| (p.to_string(), Arc::from(t.as_bytes())))
        .collect();
        let a = to_tgz("a", &files).unwrap();
        assert_eq!(a, to_tgz("a", &files).unwrap());
        assert_eq!(from_tgz("a.tgz", &a).unwrap(), files);
        let err = from_tgz("bad.tgz", b"not gzip").unwrap_err();
        assert!(err.to_string().contains("bad.tgz"), "{err}");
    }
}
