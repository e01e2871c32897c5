//! The native builder: executes a resolved Dockerfile without a daemon, producing reproducible
//! OCI layers, config and manifest. Base layers stay references (they are mounted or copied
//! registry-side, never rebuilt); COPY/ADD read Git blobs; `RUN` needs an external backend.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use werf_graph::context::{Context, SourceFile};
use werf_graph::dockerfile::{CommandForm, CopyFrom, CopySpec, Op};
use werf_graph::objects::EntryKind;
use werf_graph::plan::{placeholder_images, BaseRef, ImagePlan};
use werf_graph::ObjectSource;

use super::layer::{
    ancestors, apply_layer, build_layer_owned, place, Content, FsNode, Layer, Node, Spool, Tree,
};
use super::oci::{self, Descriptor, ImageConfig, Manifest};
use crate::registry::Registry;

/// Errors of the native builder, naming the Dockerfile line.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{file}:{line}: `RUN` needs a container runtime, which the native builder does not have (pass `--backend buildah`)")]
    Run { file: String, line: usize },
    #[error("{file}:{line}: {message}")]
    Instruction {
        file: String,
        line: usize,
        message: String,
    },
    #[error("base image `{reference}`: {message}")]
    Base { reference: String, message: String },
    #[error(transparent)]
    Registry(#[from] crate::registry::Error),
    #[error(transparent)]
    Graph(#[from] werf_graph::Error),
    #[error("writing a layer: {0}")]
    Layer(#[from] std::io::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An image in a registry that a build can use (a werf image already pushed, or a base).
#[derive(Clone, Debug)]
pub struct Published {
    /// `REGISTRY/REPO` it lives in.
    pub repo: String,
    pub tag: String,
    pub manifest_digest: String,
    pub manifest: Manifest,
    pub config: ImageConfig,
}

impl Published {
    pub fn reference(&self) -> String {
        format!("{}:{}", self.repo, self.tag)
    }
}

/// A layer of a stage: built here, or a reference to a blob in a registry repository.
#[derive(Clone, Debug)]
pub enum LayerRef {
    Local(Layer),
    Remote {
        descriptor: Descriptor,
        repo: String,
    },
}

impl LayerRef {
    pub fn descriptor(&self) -> Descriptor {
        match self {
            LayerRef::Local(l) => l.descriptor(),
            LayerRef::Remote { descriptor, .. } => descriptor.clone(),
        }
    }
}

/// What a build produced, ready to push.
pub struct Built {
    pub config_bytes: Vec<u8>,
    pub manifest_bytes: Vec<u8>,
    pub manifest: Manifest,
    pub config: ImageConfig,
    pub layers: Vec<LayerRef>,
}

#[derive(Clone)]
struct Stage {
    config: ImageConfig,
    layers: Vec<LayerRef>,
    fs: Option<Arc<Tree>>,
}

/// Everything a build reads.
pub struct Inputs<'a> {
    pub project: &'a str,
    pub plan: &'a ImagePlan,
    pub objects: &'a dyn ObjectSource,
    /// werf images this one may use, by name.
    pub images: &'a HashMap<String, Published>,
    pub registry: &'a Registry,
    /// `os/arch` to build for.
    pub platform: String,
}

/// Replaces dependency placeholders with the real values of the published images.
pub fn substitute(text: &str, images: &HashMap<String, Published>) -> String {
    let mut out = text.to_string();
    for name in placeholder_images(text) {
        let Some(p) = images.get(&name) else { continue };
        for (kind, value) in [
            ("ImageName", p.reference()),
            ("ImageTag", p.tag.clone()),
            ("ImageRepo", p.repo.clone()),
            ("ImageDigest", p.manifest_digest.clone()),
            ("ImageID", p.manifest.config.digest.clone()),
        ] {
            out = out.replace(&format!("werf-image({name}).{kind}"), &value);
        }
    }
    out
}

/// Pulls the manifest and config of an external image for `platform`.
pub fn resolve_external(registry: &Registry, reference: &str, platform: &str) -> Result<Published> {
    let err = |message: String| Error::Base {
        reference: reference.to_string(),
        message,
    };
    let normalized: oci_client::Reference = reference
        .parse()
        .map_err(|e: oci_client::ParseError| err(e.to_string()))?;
    let repo = format!(
        "{}/{}",
        normalized.resolve_registry(),
        normalized.repository()
    );
    let (mut bytes, mut digest) = registry.pull_manifest(reference)?;
    let probe: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| err(e.to_string()))?;
    let media = probe
        .get("mediaType")
        .and_then(|m| m.as_str())
        .unwrap_or_default()
        .to_string();
    if media == oci::OCI_INDEX || media == oci::DOCKER_LIST || probe.get("manifests").is_some() {
        let index: oci::Index = serde_json::from_slice(&bytes).map_err(|e| err(e.to_string()))?;
        let wanted = crate::platforms::platform_of(platform);
        let chosen = index
            .manifests
            .iter()
            .find(|m| {
                m.platform.as_ref().is_some_and(|p| {
                    p.os == wanted.os
                        && p.architecture == wanted.architecture
                        && (wanted.variant.is_none() || p.variant == wanted.variant)
                })
            })
            .ok_or_else(|| {
                err(format!(
                    "no manifest for platform `{platform}` in the index"
                ))
            })?;
        let (b, d) = registry.pull_manifest(&format!("{repo}@{}", chosen.digest))?;
        bytes = b;
        digest = d;
    }
    let manifest: Manifest =
        serde_json::from_slice(&bytes).map_err(|e| err(format!("unreadable manifest: {e}")))?;
    let config_bytes = registry.pull_blob(
        &repo,
        &manifest.config.digest,
        &manifest.config.media_type,
        manifest.config.size,
    )?;
    let config: ImageConfig = serde_json::from_slice(&config_bytes)
        .map_err(|e| err(format!("unreadable config: {e}")))?;
    Ok(Published {
        repo,
        tag: normalized.tag().unwrap_or("latest").to_string(),
        manifest_digest: digest,
        manifest,
        config,
    })
}

fn remote_layers(p: &Published) -> Vec<LayerRef> {
    p.manifest
        .layers
        .iter()
        .map(|d| LayerRef::Remote {
            descriptor: d.clone(),
            repo: p.repo.clone(),
        })
        .collect()
}

/// `path` resolved against `workdir` (when relative) and cleaned, without the leading `/`.
fn join_abs(workdir: &str, path: &str) -> String {
    if path.starts_with('/') {
        werf_graph::pattern::clean(path)
    } else {
        werf_graph::pattern::clean(&format!("{workdir}/{path}"))
    }
}

/// Builds one image.
pub fn build(inputs: &Inputs<'_>) -> Result<Built> {
    let plan = inputs.plan;
    let resolved = &plan.dockerfile;
    let file = plan.sources.dockerfile.clone();
    let ctx = plan.context(inputs.objects);
    let mut stages: BTreeMap<usize, Stage> = BTreeMap::new();
    // Files unpacked from archives and base layers go here, not to memory.
    let spool = Spool::new()?;
    let mut externals: HashMap<String, Published> = HashMap::new();

    for st_plan in &plan.stages {
        let st = &resolved.stages[st_plan.index];
        let mut stage = match &st_plan.base {
            BaseRef::Scratch => Stage {
                config: ImageConfig::scratch(&inputs.platform),
                layers: Vec::new(),
                fs: Some(Arc::new(Tree::new())),
            },
            BaseRef::Stage { index } => stages[index].clone(),
            BaseRef::Image { name } => {
                let p = inputs.images.get(name).ok_or_else(|| Error::Base {
                    reference: name.clone(),
                    message: "the werf image is not available".into(),
                })?;
                Stage {
                    config: p.config.clone(),
                    layers: remote_layers(p),
                    fs: None,
                }
            }
            BaseRef::External { reference } => {
                let reference = substitute(reference, inputs.images);
                let p = match externals.get(&reference) {
                    Some(p) => p.clone(),
                    None => {
                        let p = resolve_external(inputs.registry, &reference, &inputs.platform)?;
                        externals.insert(reference.clone(), p.clone());
                        p
                    }
                };
                Stage {
                    config: p.config.clone(),
                    layers: remote_layers(&p),
                    fs: None,
                }
            }
        };
        for step in &st.steps {
            let at = |message: String| Error::Instruction {
                file: file.clone(),
                line: step.line,
                message,
            };
            let sub = |s: &str| substitute(s, inputs.images);
            let cfg = &mut stage.config.config;
            match &step.op {
                Op::Arg(_) | Op::Maintainer(_) | Op::Onbuild(_) => {}
                Op::Env(pairs) => {
                    for (k, v) in pairs {
                        stage.config.set_env(k, &sub(v));
                    }
                }
                Op::Label(pairs) => {
                    let labels = cfg.labels.get_or_insert_with(BTreeMap::new);
                    for (k, v) in pairs {
                        labels.insert(k.clone(), sub(v));
                    }
                }
                Op::Workdir(dir) => {
                    let base = cfg.working_dir.clone().unwrap_or_else(|| "/".into());
                    cfg.working_dir = Some(format!("/{}", join_abs(&base, &sub(dir))));
                }
                Op::User(u) => cfg.user = Some(sub(u)),
                Op::Expose(ports) => {
                    let map = cfg.exposed_ports.get_or_insert_with(BTreeMap::new);
                    for p in ports {
                        let p = sub(p);
                        let key = if p.contains('/') {
                            p
                        } else {
                            format!("{p}/tcp")
                        };
                        map.insert(key, oci::Empty {});
                    }
                }
                Op::Volume(vols) => {
                    let map = cfg.volumes.get_or_insert_with(BTreeMap::new);
                    for v in vols {
                        map.insert(sub(v), oci::Empty {});
                    }
                }
                Op::StopSignal(s) => cfg.stop_signal = Some(sub(s)),
                Op::Shell(words) => cfg.shell = Some(words.clone()),
                Op::Cmd(form) | Op::Entrypoint(form) => {
                    let words = match form {
                        CommandForm::Exec(w) => w.clone(),
                        CommandForm::Shell(s) => {
                            let mut w = cfg
                                .shell
                                .clone()
                                .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()]);
                            w.push(s.clone());
                            w
                        }
                    };
                    if matches!(step.op, Op::Cmd(_)) {
                        cfg.cmd = Some(words);
                    } else {
                        cfg.entrypoint = Some(words);
                        cfg.cmd = None;
                    }
                }
                Op::Healthcheck { flags, command } => {
                    let mut hc = serde_json::Map::new();
                    let test = match command {
                        CommandForm::Shell(s) if s.eq_ignore_ascii_case("none") => {
                            vec!["NONE".to_string()]
                        }
                        CommandForm::Shell(s) => {
                            let s = s.strip_prefix("CMD").map(str::trim).unwrap_or(s);
                            vec!["CMD-SHELL".to_string(), s.to_string()]
                        }
                        CommandForm::Exec(w) => std::iter::once("CMD".to_string())
                            .chain(w.iter().cloned())
                            .collect(),
                    };
                    hc.insert("Test".into(), serde_json::json!(test));
                    for (k, v) in flags {
                        let key = match k.as_str() {
                            "interval" => "Interval",
                            "timeout" => "Timeout",
                            "start-period" => "StartPeriod",
                            "retries" => "Retries",
                            other => {
                                return Err(at(format!("unknown HEALTHCHECK flag `--{other}`")))
                            }
                        };
                        let v = v.clone().unwrap_or_default();
                        let value = if key == "Retries" {
                            serde_json::json!(v
                                .parse::<u64>()
                                .map_err(|_| at(format!("`--retries={v}` is not a number")))?)
                        } else {
                            serde_json::json!(duration_ns(&v).map_err(|e| match e {
                                DurationError::Syntax =>
                                    at(format!("HEALTHCHECK `--{k}={v}` is not a duration")),
                                DurationError::Overflow => at(format!(
                                    "HEALTHCHECK `--{k}={v}` is out of range (a duration ends at about 292 years)"
                                )),
                            })?)
                        };
                        hc.insert(key.into(), value);
                    }
                    cfg.healthcheck = Some(serde_json::Value::Object(hc));
                }
                Op::Run(_) => {
                    return Err(Error::Run {
                        file: file.clone(),
                        line: step.line,
                    })
                }
                Op::Copy => {
                    let copy = step.copy.as_ref().expect("COPY steps carry their spec");
                    let workdir = stage
                        .config
                        .config
                        .working_dir
                        .clone()
                        .unwrap_or_else(|| "/".into());
                    let entries = copy_entries(
                        inputs,
                        &ctx,
                        copy,
                        &workdir,
                        &stages,
                        &mut externals,
                        &spool,
                    )
                    .map_err(|e| match e {
                        Error::Instruction { message, .. } => at(message),
                        other => other,
                    })?;
                    let owner = copy
                        .flags
                        .iter()
                        .find(|(k, _)| k == "chown")
                        .and_then(|(_, v)| v.as_deref())
                        .map(numeric_owner)
                        .transpose()
                        .map_err(|e| at(e.to_string()))?;
                    let layer = build_layer_owned(&entries, inputs.objects, owner)?;
                    stage.config.rootfs.diff_ids.push(layer.diff_id.clone());
                    if let Some(fs) = &mut stage.fs {
                        merge_into(Arc::make_mut(fs), entries);
                    }
                    stage.layers.push(LayerRef::Local(layer));
                }
            }
        }
        stages.insert(st_plan.index, stage);
    }

    let mut target = stages
        .remove(&plan.target)
        .expect("the target stage was built");
    let labels = target
        .config
        .config
        .labels
        .get_or_insert_with(BTreeMap::new);
    labels.insert("werf".into(), inputs.project.to_string());
    labels.insert("werf.io/image".into(), plan.name.clone());
    labels.insert("werf.io/stage-digest".into(), plan.digest.hex());
    let config_bytes = serde_json::to_vec(&target.config).expect("configs serialize");
    let manifest = Manifest::of(
        &config_bytes,
        target.layers.iter().map(LayerRef::descriptor).collect(),
    );
    let manifest_bytes = serde_json::to_vec(&manifest).expect("manifests serialize");
    Ok(Built {
        config_bytes,
        manifest_bytes,
        manifest,
        config: target.config,
        layers: target.layers,
    })
}

/// `30s`, `1m30s`, `500ms`, `3us`, `7ns` -> nanoseconds, within Go's int64 `time.Duration`.
fn duration_ns(s: &str) -> Result<u64, DurationError> {
    let mut total = 0u64;
    let mut num = String::new();
    let mut chars = s.chars().peekable();
    if s.is_empty() {
        return Err(DurationError::Syntax);
    }
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let scale: u64 = match (c, chars.peek()) {
            ('m', Some('s')) | ('u' | 'µ', Some('s')) | ('n', Some('s')) => {
                chars.next();
                match c {
                    'm' => 1_000_000,
                    'n' => 1,
                    _ => 1_000,
                }
            }
            ('h', _) => 3_600_000_000_000,
            ('m', _) => 60_000_000_000,
            ('s', _) => 1_000_000_000,
            _ => return Err(DurationError::Syntax),
        };
        if num.is_empty() {
            return Err(DurationError::Syntax);
        }
        let n: u64 = num.parse().map_err(|_| DurationError::Overflow)?;
        num.clear();
        total = n
            .checked_mul(scale)
            .and_then(|part| total.checked_add(part))
            .filter(|&t| t <= i64::MAX as u64)
            .ok_or(DurationError::Overflow)?;
    }
    if num.is_empty() {
        Ok(total)
    } else {
        Err(DurationError::Syntax)
    }
}

/// Why a duration was refused.
#[derive(Debug, PartialEq, Eq)]
enum DurationError {
    Syntax,
    /// Past Go's `time.Duration` (an int64 of nanoseconds, about 292 years).
    Overflow,
}

/// `entries` (a layer's content) laid over `fs`, as unpacking the layer would: parent folders
/// that the layer writes implicitly (0755) appear where missing, and a file or link replaces
/// what was below it.
fn merge_into(fs: &mut Tree, entries: Tree) {
    for (path, node) in entries {
        for parent in ancestors(&path) {
            fs.entry(parent.to_string())
                .or_insert(Node::Dir { mode: 0o755 });
        }
        place(fs, path, node);
    }
}

/// The file system of a stage (pulling and unpacking base layers when a `COPY --from` needs it;
/// their files go to `spool`, not memory).
fn stage_fs(registry: &Registry, stage: &Stage, spool: &Arc<Spool>) -> Result<Arc<Tree>> {
    if let Some(fs) = &stage.fs {
        return Ok(fs.clone());
    }
    let mut tree = Tree::new();
    for l in &stage.layers {
        match l {
            LayerRef::Local(layer) => apply_layer(&mut tree, layer.reader(), spool)?,
            LayerRef::Remote { descriptor, repo } => {
                let blob = registry.pull_blob_to_file(
                    repo,
                    &descriptor.digest,
                    &descriptor.media_type,
                    descriptor.size,
                )?;
                apply_layer(&mut tree, blob, spool)?;
            }
        }
    }
    Ok(Arc::new(tree))
}

/// A Git file's mode in an image (`0755` for executables, else `0644`).
pub(super) fn mode_of(kind: EntryKind) -> u32 {
    if kind == EntryKind::Executable {
        0o755
    } else {
        0o644
    }
}

/// A `--chown` by name, which the native builder cannot resolve.
#[derive(Debug, thiserror::Error)]
#[error("`--chown={0}`: the native builder takes numeric owners (`1000:1000`); names need `--backend buildah`")]
struct NamedOwner(String);

/// `--chown=UID[:GID]` as numbers (`root` is 0; other names would need the image's
/// `/etc/passwd`, which the native builder does not read).
fn numeric_owner(owner: &str) -> std::result::Result<(u64, u64), NamedOwner> {
    let id = |s: &str| match s {
        "root" => Some(0),
        s => s.parse::<u64>().ok(),
    };
    let (u, g) = owner.split_once(':').unwrap_or((owner, owner));
    match (id(u), id(g)) {
        (Some(u), Some(g)) => Ok((u, g)),
        _ => Err(NamedOwner(owner.to_string())),
    }
}

/// The entries a COPY/ADD adds, at their destination paths.
fn copy_entries(
    inputs: &Inputs<'_>,
    ctx: &Context<'_>,
    copy: &CopySpec,
    workdir: &str,
    stages: &BTreeMap<usize, Stage>,
    externals: &mut HashMap<String, Published>,
    spool: &Arc<Spool>,
) -> Result<Tree> {
    let instr = |message: String| Error::Instruction {
        file: String::new(),
        line: 0,
        message,
    };
    let sub = |s: &str| substitute(s, inputs.images);
    let dest_raw = sub(&copy.dest);
    let dest_is_dir = dest_raw.ends_with('/')
        || copy.sources.len() > 1
        || copy
            .sources
            .iter()
            .any(|s| werf_graph::pattern::has_wildcard(s));
    let dest = join_abs(workdir, &dest_raw);
    let mut out = Tree::new();
    let place = |rel_in_root: Option<&str>, name: &str, node: Node, out: &mut Tree| {
        let path = match rel_in_root {
            Some("") => dest.clone(),
            Some(rel) => join_abs(&format!("/{dest}"), rel),
            None if dest_is_dir => join_abs(&format!("/{dest}"), name),
            None => dest.clone(),
        };
        if !path.is_empty() {
            out.insert(path, node);
        }
    };

    match &copy.from {
        None => {
            for src in &copy.sources {
                if src.starts_with("http://")
                    || src.starts_with("https://")
                    || src.starts_with("git@")
                {
                    return Err(instr(format!(
                        "`ADD {src}`: remote sources are not supported by the native builder"
                    )));
                }
                let files: Vec<SourceFile> = ctx.source_files(&sub(src))?;
                if files.is_empty() {
                    return Err(instr(format!(
                        "source `{src}` matches no file in the context"
                    )));
                }
                for f in files {
                    let name = f.path.rsplit('/').next().unwrap_or(&f.path).to_string();
                    let rel = if f.root_is_dir {
                        Some(
                            f.path
                                .strip_prefix(&f.root)
                                .unwrap_or(&f.path)
                                .trim_start_matches('/')
                                .to_string(),
                        )
                    } else {
                        None
                    };
                    if f.kind == EntryKind::Commit {
                        // A submodule: an empty folder, as `git archive` writes it (the digest
                        // covers its commit id).
                        place(rel.as_deref(), &name, Node::Dir { mode: 0o755 }, &mut out);
                        continue;
                    }
                    // Work-tree files (`contextAddFiles`, `--dev`) are blobs of the object source
                    // too: read beneath the repository root and checked against their id. Files
                    // stay references until the layer is written (streamed, never held whole).
                    if copy.add && !f.root_is_dir && f.kind != EntryKind::Symlink {
                        // ADD unpacks local archives into the destination folder, as Docker does.
                        let unpacked = super::archive::unpack(
                            inputs.objects.blob_reader(f.id)?,
                            spool,
                            &super::archive::Limits::default(),
                        )
                        .map_err(|e| {
                            instr(format!(
                                "`ADD {src}` (`{}`): {}",
                                f.path,
                                werf_base::errors::chain(&e)
                            ))
                        })?;
                        if let Some(unpacked) = unpacked {
                            for (p, node) in unpacked {
                                out.insert(join_abs(&format!("/{dest}"), &p), node);
                            }
                            continue;
                        }
                    }
                    let node = match f.kind {
                        EntryKind::Symlink => Node::Symlink {
                            target: String::from_utf8_lossy(&inputs.objects.blob(f.id)?)
                                .into_owned(),
                        },
                        kind => Node::File {
                            mode: mode_of(kind),
                            data: Content::Blob {
                                id: f.id,
                                size: inputs.objects.blob_size(f.id)?,
                            },
                        },
                    };
                    place(rel.as_deref(), &name, node, &mut out);
                }
            }
        }
        Some(from) => {
            let filter = ImportFilter::of(copy);
            let fs = match from {
                CopyFrom::Stage(i) => stage_fs(inputs.registry, &stages[i], spool)?,
                CopyFrom::External(r) => {
                    let r = sub(r);
                    let p = match externals.get(&r) {
                        Some(p) => p.clone(),
                        None => {
                            let p = resolve_external(inputs.registry, &r, &inputs.platform)?;
                            externals.insert(r.clone(), p.clone());
                            p
                        }
                    };
                    stage_fs(
                        inputs.registry,
                        &Stage {
                            config: p.config.clone(),
                            layers: remote_layers(&p),
                            fs: None,
                        },
                        spool,
                    )?
                }
            };
            for src in &copy.sources {
                let taken = taken(&fs, &sub(src), &filter)
                    .ok_or_else(|| instr(format!("`{src}` does not exist in the source image")))?;
                for t in taken {
                    match t {
                        Taken::Below(rel, node) => place(Some(rel), "", node.clone(), &mut out),
                        Taken::Single(name, node) => place(None, &name, node.clone(), &mut out),
                    }
                }
            }
        }
    }

    for (k, v) in &copy.flags {
        match (k.as_str(), v) {
            ("chmod", Some(mode)) => {
                let m = u32::from_str_radix(mode, 8)
                    .map_err(|_| instr(format!("`--chmod={mode}` is not an octal mode")))?;
                for node in out.values_mut() {
                    match node {
                        Node::File { mode, .. } | Node::Dir { mode } => *mode = m,
                        Node::Symlink { .. } => {}
                    }
                }
            }
            // Applied when the layer is written (see `numeric_owner`).
            ("chown", Some(_)) => {}
            ("link", _) => {}
            // Filters of `COPY --from` (applied above).
            ("werf-include" | "exclude", Some(_)) if copy.from.is_some() => {}
            (other, _) => {
                return Err(instr(format!(
                    "`--{other}` is not supported by the native builder"
                )))
            }
        }
    }
    Ok(out)
}

/// One entry `COPY --from` takes of a file system.
pub(super) enum Taken<'a, N = Node> {
    /// Below a copied folder: its path relative to that folder (`""` the folder itself).
    Below(&'a str, &'a N),
    /// A copied file (or link), by name.
    Single(String, &'a N),
}

/// What `COPY --from` takes of `fs` for the source `src` (a path or a glob of the source
/// image), in path order; `None` when nothing there matches.
pub(super) fn taken<'a, N: FsNode>(
    fs: &'a BTreeMap<String, N>,
    src: &str,
    filter: &ImportFilter,
) -> Option<Vec<Taken<'a, N>>> {
    let clean = join_abs("/", src);
    let roots: Vec<&String> = if clean.is_empty() {
        Vec::new()
    } else if werf_graph::pattern::has_wildcard(&clean) {
        let glob = werf_graph::pattern::Glob::new(&clean);
        fs.keys().filter(|k| glob.matches(k)).collect()
    } else {
        fs.get_key_value(&clean)
            .map(|(k, _)| k)
            .into_iter()
            .collect()
    };
    if roots.is_empty() && !clean.is_empty() {
        return None;
    }
    let root_all = String::new();
    let roots = if clean.is_empty() {
        vec![&root_all]
    } else {
        roots
    };
    let mut out = Vec::new();
    for root in roots {
        match fs.get(root) {
            Some(node) if !node.is_dir() => {
                let name = root.rsplit('/').next().unwrap_or(root).to_string();
                if filter.keeps(&name) {
                    out.push(Taken::Single(name, node));
                }
            }
            _ => {
                let prefix = if root.is_empty() {
                    String::new()
                } else {
                    format!("{root}/")
                };
                let below: Vec<(&str, &N)> = fs
                    .range(prefix.clone()..)
                    .map_while(|(k, n)| k.strip_prefix(&prefix).map(|r| (r, n)))
                    .collect();
                out.extend(
                    filter
                        .apply(below)
                        .into_iter()
                        .map(|(rel, node)| Taken::Below(rel, node)),
                );
            }
        }
    }
    Some(out)
}

/// `COPY --from`'s filters: `--werf-include=GLOB` (a Stapel import's `includePaths`) and
/// `--exclude=GLOB`, relative to the copied folder, with werf's path rules (a glob naming a
/// folder covers what is below it; see [`werf_graph::stapel::select`]).
pub(super) struct ImportFilter {
    include: Vec<werf_graph::pattern::Glob>,
    exclude: Vec<werf_graph::pattern::Glob>,
}

impl ImportFilter {
    /// The filter of `include` and `exclude` globs (none: everything).
    pub(super) fn new(include: &[String], exclude: &[String]) -> Self {
        ImportFilter {
            include: werf_graph::stapel::select::globs(include),
            exclude: werf_graph::stapel::select::globs(exclude),
        }
    }

    /// The filter a `COPY --from` names with its flags.
    fn of(copy: &CopySpec) -> Self {
        Self::new(
            &copy.flag_values("werf-include"),
            &copy.flag_values("exclude"),
        )
    }

    /// Whether the entry at `rel` is taken for itself.
    fn keeps(&self, rel: &str) -> bool {
        use werf_graph::stapel::select::covered;
        !covered(&self.exclude, rel) && (self.include.is_empty() || covered(&self.include, rel))
    }

    /// The entries taken of `below` (sorted, relative to the copied folder, `""` the folder
    /// itself): those kept for themselves, and the folders above them.
    fn apply<'a, N>(&self, below: Vec<(&'a str, &'a N)>) -> Vec<(&'a str, &'a N)> {
        if self.include.is_empty() && self.exclude.is_empty() {
            return below;
        }
        let kept: std::collections::BTreeSet<&str> = below
            .iter()
            .filter(|(rel, _)| rel.is_empty() || self.keeps(rel))
            .map(|(rel, _)| *rel)
            .collect();
        let parents: std::collections::BTreeSet<&str> = kept
            .iter()
            .flat_map(|rel| super::layer::ancestors(rel))
            .collect();
        below
            .into_iter()
            .filter(|(rel, _)| kept.contains(rel) || parents.contains(rel))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_filters_keep_matches_their_folders_and_drop_exclusions() {
        let f = ImportFilter::new(
            &["lib/*.so".to_string(), "bin".to_string()],
            &["bin/debug".to_string()],
        );
        let dir = Node::Dir { mode: 0o755 };
        let file = Node::Symlink { target: "x".into() };
        let below = vec![
            ("", &dir),
            ("bin", &dir),
            ("bin/app", &file),
            ("bin/debug", &dir),
            ("bin/debug/gdb", &file),
            ("doc", &dir),
            ("doc/a.txt", &file),
            ("lib", &dir),
            ("lib/a.so", &file),
            ("lib/a.txt", &file),
            ("lib/deep", &dir),
            ("lib/deep/b.so", &file),
        ];
        let kept: Vec<&str> = f.apply(below).into_iter().map(|(r, _)| r).collect();
        assert_eq!(kept, ["", "bin", "bin/app", "lib", "lib/a.so"]);
        let none = ImportFilter::new(&[], &[]);
        assert_eq!(none.apply(vec![("a", &file)]).len(), 1);
        assert!(f.keeps("bin/x") && !f.keeps("bin/debug/x") && !f.keeps("doc"));
    }

    #[test]
    fn a_merged_layer_brings_its_parent_folders() {
        let mut fs = Tree::new();
        let mut layer = Tree::new();
        layer.insert(
            "src/app/main.c".into(),
            Node::Symlink { target: "x".into() },
        );
        merge_into(&mut fs, layer);
        assert_eq!(fs.get("src"), Some(&Node::Dir { mode: 0o755 }));
        assert_eq!(fs.get("src/app"), Some(&Node::Dir { mode: 0o755 }));
        assert!(fs.contains_key("src/app/main.c"));
    }

    #[test]
    fn paths_and_durations() {
        assert_eq!(join_abs("/app", "bin/x"), "app/bin/x");
        assert_eq!(join_abs("/app", "/etc/x"), "etc/x");
        assert_eq!(join_abs("/app", "."), "app");
        assert_eq!(duration_ns("1m30s"), Ok(90_000_000_000));
        assert_eq!(duration_ns("500ms"), Ok(500_000_000));
        assert_eq!(duration_ns("3us"), Ok(3_000));
        assert_eq!(duration_ns("7ns"), Ok(7));
        assert_eq!(duration_ns("x"), Err(DurationError::Syntax));
        assert_eq!(duration_ns(""), Err(DurationError::Syntax));
        assert_eq!(duration_ns("s"), Err(DurationError::Syntax));
        assert_eq!(duration_ns("10"), Err(DurationError::Syntax));
        // 2562047h is the last whole hour of Go's int64 nanoseconds; past it, an error, not a wrap.
        assert_eq!(duration_ns("2562047h"), Ok(2_562_047 * 3_600_000_000_000));
        assert_eq!(duration_ns("2562048h"), Err(DurationError::Overflow));
        assert_eq!(
            duration_ns("99999999999999999h"),
            Err(DurationError::Overflow)
        );
        assert_eq!(
            duration_ns("99999999999999999999999s"),
            Err(DurationError::Overflow)
        );
        assert_eq!(
            duration_ns("2562047h2562047h"),
            Err(DurationError::Overflow)
        );
    }
}
