//! Reading a chart as Helm's loader does: every file of the chart folder (the top chart's
//! `.helmignore` applied, a leading UTF-8 byte-order mark dropped), sorted into `Chart.yaml`,
//! `values.yaml`, `values.schema.json`, templates, subcharts (folders of `charts/`, and
//! packaged `charts/*.tgz` unpacked in memory within Helm's size limits) and `.Files`.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::sync::Arc;

use super::ignore::Rules;
use super::{chart_error, missing, Chart};
use crate::error::Result;
use crate::objects::{EntryKind, ObjectId, ObjectSource};
use crate::pattern::join;

/// Helm's limits for a packaged chart: all of it, and any one file, unpacked.
pub const MAX_ARCHIVE_BYTES: u64 = 100 * 1024 * 1024;
pub const MAX_ARCHIVE_FILE_BYTES: u64 = 5 * 1024 * 1024;

/// Reads the chart (with its subcharts) in the folder `dir` (repository-relative) whose tree is
/// `tree`.
pub fn load(objects: &dyn ObjectSource, tree: ObjectId, dir: &str) -> Result<Chart> {
    from_files(dir, tree_files(objects, tree, dir)?)
}

/// The chart folder's files as Helm's loader reads them (chart-relative paths; `.helmignore`
/// applied, a byte-order mark dropped), for loading and for packaging.
pub fn tree_files(
    objects: &dyn ObjectSource,
    tree: ObjectId,
    dir: &str,
) -> Result<BTreeMap<String, Arc<[u8]>>> {
    let rules = match crate::context::lookup(objects, tree, ".helmignore")? {
        Some(e) if e.kind.is_file() => {
            let text = objects.blob(e.id)?;
            Rules::parse(&String::from_utf8_lossy(&text)).map_err(|(line, e)| {
                chart_error(&join(dir, ".helmignore"), line, 0, e.to_string())
            })?
        }
        _ => Rules::defaults(),
    };
    let mut files = BTreeMap::new();
    let mut stack = vec![(String::new(), tree)];
    while let Some((prefix, id)) = stack.pop() {
        for e in &objects.tree(id)?.entries {
            let path = join(&prefix, &e.name);
            match e.kind {
                EntryKind::Tree => {
                    if !rules.ignores(&path, true) {
                        stack.push((path, e.id));
                    }
                }
                EntryKind::Blob | EntryKind::Executable => {
                    if !rules.ignores(&path, false) {
                        files.insert(path, without_bom(objects.blob(e.id)?));
                    }
                }
                EntryKind::Symlink if rules.ignores(&path, false) => {}
                EntryKind::Symlink | EntryKind::Commit => {
                    return Err(chart_error(
                        &join(dir, &path),
                        0,
                        0,
                        "a chart file must be a regular file in the commit (symbolic links and submodules are not read)".into(),
                    ))
                }
            }
        }
    }
    Ok(files)
}

fn without_bom(data: Arc<[u8]>) -> Arc<[u8]> {
    match data.strip_prefix(b"\xef\xbb\xbf") {
        Some(rest) => Arc::from(rest),
        None => data,
    }
}

/// A chart from its files (chart-relative paths), as Helm's `LoadFiles`.
pub fn from_files(dir: &str, files: BTreeMap<String, Arc<[u8]>>) -> Result<Chart> {
    let text = |name: &str, data: &[u8]| -> Result<String> {
        String::from_utf8(data.to_vec())
            .map_err(|_| chart_error(&join(dir, name), 0, 0, "is not UTF-8 text".into()))
    };
    let mut meta = None;
    let mut values = serde_json::Map::new();
    let mut schema = None;
    let mut requirements = None;
    let mut lock = None;
    let mut templates = Vec::new();
    let mut other = BTreeMap::new();
    let mut subfiles: BTreeMap<String, BTreeMap<String, Arc<[u8]>>> = BTreeMap::new();
    let mut archives = Vec::new();
    for (name, data) in files {
        match name.as_str() {
            "Chart.yaml" => meta = Some(text(&name, &data)?),
            "values.yaml" => {
                values =
                    gotemplate::yaml::load::load_values(&text(&name, &data)?).map_err(|e| {
                        chart_error(
                            &join(dir, &name),
                            e.line,
                            e.column,
                            format!("cannot load values.yaml: {e}"),
                        )
                    })?;
                // Helm 4 drops a chart's own null defaults (so a parent's `null` for a
                // subchart key does not delete the subchart's default).
                trim_nulls(&mut values);
            }
            // Read by `helm dependency`, not part of `.Files`.
            "Chart.lock" => lock = Some(text(&name, &data)?),
            "requirements.lock" => {}
            "values.schema.json" => {
                let parsed: serde_json::Value = serde_json::from_slice(&data).map_err(|e| {
                    chart_error(&join(dir, &name), e.line(), e.column(), e.to_string())
                })?;
                schema = Some(parsed);
            }
            "requirements.yaml" => requirements = Some(text(&name, &data)?),
            _ if name.starts_with("templates/") => {
                templates.push((name.clone(), Arc::from(text(&name, &data)?)));
            }
            _ if name.starts_with("charts/") && !name.ends_with(".prov") => {
                let rest = &name["charts/".len()..];
                match rest.split_once('/') {
                    Some((sub, inner)) => {
                        subfiles
                            .entry(sub.to_string())
                            .or_default()
                            .insert(inner.to_string(), data);
                    }
                    None if rest.ends_with(".tgz") || rest.ends_with(".tar.gz") => {
                        archives.push((rest.to_string(), data))
                    }
                    None => {
                        other.insert(name, data);
                    }
                }
            }
            _ => {
                other.insert(name, data);
            }
        }
    }
    let chart_file = join(dir, "Chart.yaml");
    let meta_text = meta.ok_or_else(|| missing("chart file", chart_file.clone()))?;
    let meta = metadata(&chart_file, &meta_text, requirements.as_deref())?;
    let name = match meta.get("name") {
        Some(serde_json::Value::String(n)) if !n.is_empty() => n.clone(),
        None | Some(serde_json::Value::Null) | Some(serde_json::Value::String(_)) => {
            return Err(chart_error(
                &chart_file,
                0,
                0,
                "validation: chart.metadata.name is required".into(),
            ))
        }
        Some(other) => {
            return Err(chart_error(
                &chart_file,
                0,
                0,
                format!(
                    "`name` is {other}, not a string (YAML 1.1, as Helm reads it, makes `off`, `no` and `y` booleans: quote the name)"
                ),
            ))
        }
    };
    let mut subcharts = Vec::new();
    for (sub, files) in subfiles {
        let sub_dir = join(dir, &format!("charts/{sub}"));
        subcharts.push(Arc::new(from_files(&sub_dir, files)?));
    }
    for (file, data) in archives {
        let path = join(dir, &format!("charts/{file}"));
        let files = unpack(&path, &data)?;
        subcharts.push(Arc::new(from_files(&path, files)?));
    }
    subcharts.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.dir.cmp(&b.dir)));
    Ok(Chart {
        dir: dir.to_string(),
        name,
        meta,
        values,
        schema,
        templates,
        files: other,
        subcharts,
        lock,
    })
}

/// `chart` with `archives` (fetched dependencies, by archive name) in its `charts/`, read as
/// packaged subcharts are.
pub fn with_archives(chart: &Chart, archives: &BTreeMap<String, Arc<[u8]>>) -> Result<Chart> {
    let mut out = chart.clone();
    for (file, data) in archives {
        let path = join(&chart.dir, &format!("charts/{file}"));
        let files = unpack(&path, data)?;
        out.subcharts.push(Arc::new(from_files(&path, files)?));
    }
    out.subcharts
        .sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.dir.cmp(&b.dir)));
    Ok(out)
}

fn trim_nulls(m: &mut serde_json::Map<String, serde_json::Value>) {
    m.retain(|_, v| !v.is_null());
    for v in m.values_mut() {
        if let serde_json::Value::Object(inner) = v {
            gotemplate::with_stack(|| trim_nulls(inner));
        }
    }
}

/// `Chart.yaml` as Helm's metadata: numbers where strings belong become strings (`1.10` is
/// `1.1`), a v1 chart's `requirements.yaml` supplies its dependencies.
fn metadata(file: &str, text: &str, requirements: Option<&str>) -> Result<serde_json::Value> {
    let parse = |file: &str, text: &str| -> Result<serde_json::Value> {
        gotemplate::yaml::load::load(text)
            .map_err(|e| chart_error(file, e.line, e.column, e.message))
    };
    let mut meta = parse(file, text)?;
    let serde_json::Value::Object(m) = &mut meta else {
        return Err(chart_error(file, 1, 1, "must hold a map of keys".into()));
    };
    for key in [
        "version",
        "appVersion",
        "kubeVersion",
        "name",
        "description",
    ] {
        if let Some(serde_json::Value::Number(n)) = m.get(key) {
            let text = gotemplate::value::format_float_g(n.as_f64().unwrap_or(0.0));
            m.insert(key.to_string(), serde_json::Value::String(text));
        }
    }
    if let (Some(req), None) = (requirements, m.get("dependencies")) {
        let deps = parse(&file.replace("Chart.yaml", "requirements.yaml"), req)?;
        if let Some(d) = deps.get("dependencies") {
            m.insert("dependencies".into(), d.clone());
        }
    }
    Ok(meta)
}

/// A packaged chart's files (`path` names it in errors): gzip, then tar, with the top folder
/// (`NAME/`) removed, within Helm's size limits.
pub fn unpack(path: &str, data: &[u8]) -> Result<BTreeMap<String, Arc<[u8]>>> {
    let bad = |m: String| chart_error(path, 0, 0, m);
    let mut archive = tar::Archive::new(crate::tar_guard::TarGuard::new(
        flate2::read::GzDecoder::new(data),
    ));
    let mut files = BTreeMap::new();
    let mut total = 0u64;
    let entries = archive
        .entries()
        .map_err(|e| bad(format!("not a chart archive: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| bad(format!("not a chart archive: {e}")))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = entry
            .path()
            .map_err(|e| bad(format!("bad member name: {e}")))?
            .to_string_lossy()
            .replace('\\', "/");
        let parts: Vec<&str> = name
            .split('/')
            .filter(|p| !p.is_empty() && *p != ".")
            .collect();
        if name.starts_with('/') || parts.contains(&"..") {
            return Err(bad(format!(
                "chart illegally contains content outside the base directory: {name:?}"
            )));
        }
        let Some((_, rest)) = parts.split_first() else {
            continue;
        };
        if rest.is_empty() {
            continue;
        }
        let size = entry.header().size().unwrap_or(0);
        if size > MAX_ARCHIVE_FILE_BYTES {
            return Err(bad(format!(
                "decompressed chart file {name:?} is larger than the maximum file size {MAX_ARCHIVE_FILE_BYTES}"
            )));
        }
        total += size;
        if total > MAX_ARCHIVE_BYTES {
            return Err(bad(format!(
                "decompressed chart is larger than the maximum size {MAX_ARCHIVE_BYTES}"
            )));
        }
        let mut body = Vec::with_capacity(size as usize);
        (&mut entry)
            .take(MAX_ARCHIVE_FILE_BYTES + 1)
            .read_to_end(&mut body)
            .map_err(|e| bad(format!("cannot read {name:?}: {e}")))?;
        files.insert(rest.join("/"), without_bom(Arc::from(body)));
    }
    if !files.contains_key("Chart.yaml") {
        return Err(bad("Chart.yaml file is missing".into()));
    }
    Ok(files)
}
