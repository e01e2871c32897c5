//! werf.yaml: template step, multi-document split, strict schema, validation with locations.
//!
//! The loader runs in three steps, each with file/line/column errors: [`render_template`] (Go
//! templates with Sprig, `env`, `.Env`, `.Files`), [`split_documents`] (YAML documents with their first line), then
//! per document: classify (meta or Dockerfile image) and deserialize strictly (unknown keys are
//! errors). Validation checks names, duplicates, dependencies and paths that need no Git.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Location, Result};

/// The parsed, validated werf.yaml.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct WerfConfig {
    /// The file name as shown in messages (relative to the project directory).
    pub file: String,
    pub meta: Meta,
    /// Images in file order.
    pub images: Vec<ImageConfig>,
}

impl WerfConfig {
    /// The image called `name`.
    pub fn image(&self, name: &str) -> Option<&ImageConfig> {
        self.images.iter().find(|i| i.name == name)
    }

    /// A location in this file.
    pub fn at(&self, line: usize) -> Location {
        Location {
            file: self.file.clone(),
            line,
            column: 0,
        }
    }
}

/// The meta document (`configVersion: 1`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Meta {
    pub config_version: u32,
    pub project: String,
    #[serde(default)]
    pub build: BuildMeta,
    #[serde(default)]
    pub deploy: DeployMeta,
    #[serde(default)]
    pub cleanup: CleanupMeta,
    #[serde(default)]
    pub git_worktree: GitWorktreeMeta,
}

/// `build:` in the meta document.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct BuildMeta {
    pub cache_version: Option<String>,
    #[serde(default)]
    pub platform: Vec<String>,
    pub staged: Option<bool>,
    pub image_spec: Option<Opaque>,
}

/// `deploy:` in the meta document.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct DeployMeta {
    pub helm_chart_dir: Option<String>,
    pub helm_chart_config: Option<HelmChartConfig>,
    pub helm_release: Option<String>,
    pub helm_release_slug: Option<bool>,
    pub namespace: Option<String>,
    pub namespace_slug: Option<bool>,
}

/// `deploy.helmChartConfig`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HelmChartConfig {
    pub app_version: Option<String>,
}

/// `cleanup:` in the meta document.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CleanupMeta {
    pub disable: Option<bool>,
    pub disable_kubernetes_based_policy: Option<bool>,
    pub disable_git_history_based_policy: Option<bool>,
    #[serde(rename = "disableBuiltWithinLastNHoursPolicy")]
    pub disable_built_within_last_n_hours_policy: Option<bool>,
    #[serde(rename = "keepImagesBuiltWithinLastNHours")]
    pub keep_images_built_within_last_n_hours: Option<u64>,
    #[serde(default)]
    pub keep_policies: Vec<KeepPolicy>,
}

/// One `cleanup.keepPolicies[]` entry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KeepPolicy {
    pub references: Option<References>,
    pub images_per_reference: Option<Limit>,
}

/// `keepPolicies[].references`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct References {
    pub branch: Option<String>,
    pub tag: Option<String>,
    pub limit: Option<Limit>,
}

/// A `last`/`in`/`operator` limit.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Limit {
    pub last: Option<i64>,
    #[serde(rename = "in")]
    pub within: Option<String>,
    pub operator: Option<LimitOperator>,
}

/// How `last` and `in` combine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LimitOperator {
    And,
    Or,
}

/// `gitWorktree:` in the meta document.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GitWorktreeMeta {
    pub force_shallow_clone: Option<bool>,
    pub allow_unshallow: Option<bool>,
    pub allow_fetch_origin_branches_and_tags: Option<bool>,
}

/// A YAML value kept as canonical JSON (sorted keys): compared and hashed, not interpreted.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Opaque(pub String);

impl<'de> Deserialize<'de> for Opaque {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        serde_json::to_string(&v)
            .map(Opaque)
            .map_err(serde::de::Error::custom)
    }
}

/// A Dockerfile image.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct ImageConfig {
    pub name: String,
    /// Line of the image's document in werf.yaml.
    pub line: usize,
    pub is_final: bool,
    /// Context directory relative to the project directory (`""` for the project root).
    pub context: String,
    /// Dockerfile path relative to the context.
    pub dockerfile: String,
    pub context_add_files: Vec<String>,
    pub target: Option<String>,
    pub args: BTreeMap<String, String>,
    pub platform: Vec<String>,
    pub cache_version: Option<String>,
    pub dependencies: Vec<Dependency>,
    pub add_host: Vec<String>,
    pub network: Option<String>,
    pub secret_ids: Vec<String>,
    /// werf.yaml `ssh`: the SSH agent `RUN --mount=type=ssh` reaches (not part of a digest: it
    /// grants access, like a secret).
    pub ssh: Option<String>,
    /// Where each secret's value comes from, by id (read at build time, never part of a
    /// digest or of any output).
    #[serde(skip)]
    pub secrets: Vec<SecretSource>,
    pub staged: Option<bool>,
    pub image_spec: Option<Opaque>,
    /// One stage of a Stapel image (then `context` and `dockerfile` are unused: the stage is a
    /// Dockerfile over a synthetic context, see [`crate::stapel`]).
    pub stapel: Option<StapelStage>,
}

/// Which stage of which Stapel image an [`ImageConfig`] is.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct StapelStage {
    #[serde(skip)]
    pub stapel: std::sync::Arc<crate::stapel::Stapel>,
    /// The image's name in werf.yaml.
    pub image: String,
    /// werf's stage name (`install`).
    pub stage: String,
    /// The image's last stage: the image itself.
    pub last: bool,
}

impl ImageConfig {
    /// Whether this is a stage of a Stapel image other than its last (an image werf.yaml does
    /// not name: reports and values leave it out).
    pub fn is_internal(&self) -> bool {
        self.stapel.as_ref().is_some_and(|s| !s.last)
    }
}

/// One `dependencies[]` entry of a Dockerfile image.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Dependency {
    pub image: String,
    #[serde(default)]
    pub imports: Vec<Import>,
}

/// One `dependencies[].imports[]` entry: a property of the dependency passed as a build arg.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Import {
    #[serde(rename = "type")]
    pub kind: ImportType,
    pub target_build_arg: String,
}

/// What an import passes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ImportType {
    ImageName,
    ImageTag,
    ImageRepo,
    ImageDigest,
    #[serde(rename = "ImageID")]
    ImageId,
}

impl ImportType {
    /// The name as written in werf.yaml.
    pub fn as_str(&self) -> &'static str {
        match self {
            ImportType::ImageName => "ImageName",
            ImportType::ImageTag => "ImageTag",
            ImportType::ImageRepo => "ImageRepo",
            ImportType::ImageDigest => "ImageDigest",
            ImportType::ImageId => "ImageID",
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawDockerfileImage {
    image: ImageNames,
    #[serde(rename = "final")]
    is_final: Option<bool>,
    dockerfile: String,
    context: Option<String>,
    #[serde(default)]
    context_add_files: Vec<String>,
    target: Option<String>,
    #[serde(default)]
    args: BTreeMap<String, Scalar>,
    #[serde(default)]
    platform: Vec<String>,
    cache_version: Option<String>,
    #[serde(default)]
    dependencies: Vec<Dependency>,
    #[serde(default)]
    add_host: Vec<String>,
    network: Option<String>,
    #[serde(default)]
    secrets: Vec<RawSecret>,
    staged: Option<bool>,
    image_spec: Option<Opaque>,
    /// SSH agent for `RUN --mount=type=ssh` (`default`, or `default=SOCKET`).
    ssh: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ImageNames {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSecret {
    id: Option<String>,
    env: Option<String>,
    src: Option<String>,
    value: Option<String>,
}

/// A werf.yaml `secrets` entry: an id and where its value is read from.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SecretSource {
    pub id: String,
    pub from: SecretFrom,
}

/// Where a secret's value is.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum SecretFrom {
    /// An environment variable of the werf process.
    Env(String),
    /// A file, relative to the project folder.
    File(String),
    /// The value written in werf.yaml.
    Value(String),
}

impl std::fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let from = match &self.from {
            SecretFrom::Env(v) => format!("env `{v}`"),
            SecretFrom::File(p) => format!("file `{p}`"),
            SecretFrom::Value(_) => "a value".to_string(),
        };
        write!(f, "secret `{}` from {from}", self.id)
    }
}

/// A YAML scalar read as a string (werf's `args` accept numbers and booleans too).
#[derive(Deserialize)]
#[serde(untagged)]
enum Scalar {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

impl Scalar {
    fn into_string(self) -> String {
        match self {
            Scalar::Str(s) => s,
            Scalar::Int(i) => i.to_string(),
            Scalar::Float(f) => f.to_string(),
            Scalar::Bool(b) => b.to_string(),
        }
    }
}

/// What werf.yaml's template may read: `.Env` (werf's `--env`), `env "VAR"` (the process
/// environment, passed in so the engine stays pure) and `.Files` (the project's files, through
/// `files`: `Get`, `Exists`, `Glob`).
#[derive(Default)]
pub struct TemplateInputs<'a> {
    pub env: Option<&'a str>,
    pub vars: Option<&'a BTreeMap<String, String>>,
    /// Methods of `.Files` (kind `ProjectFiles`): receiver kind, receiver, method, arguments.
    pub files: Option<gotemplate::exec::Methods<'a>>,
    /// `.Commit`.
    pub commit: Option<&'a CommitInfo>,
    /// Partials (`.werf/**/*.tmpl`): name (the path below the templates folder), file
    /// (project-relative, for errors) and text.
    pub partials: &'a [(String, String, String)],
    /// Giterminism: `env` reads only the variables it allows (none without the file); `None`
    /// leaves `env` unrestricted.
    pub giterminism: Option<&'a crate::giterminism::Giterminism>,
}

/// The environment werf.yaml's template reads, as one input of the graph.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct TemplateEnv {
    /// werf's `--env`.
    pub env: Option<String>,
    /// Environment variables by name.
    pub vars: BTreeMap<String, String>,
    /// The commit read (`.Commit`).
    pub commit: Option<CommitInfo>,
    /// The folder of the partials, project-relative (`.werf`, or `--config-templates-dir`).
    pub templates_dir: Option<String>,
    /// `werf-giterminism.yaml` as read (the command line always sets it; `None` is
    /// unrestricted).
    pub giterminism: Option<crate::giterminism::Giterminism>,
}

/// werf.yaml's `.Commit`: `.Commit.Hash`, `.Commit.Date.Unix` and `.Commit.Date.Human` (Go's
/// `time.Time.String()` of the committer's time in its own offset).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct CommitInfo {
    pub hash: String,
    /// Seconds since the epoch.
    pub unix: i64,
    /// The committer's offset east of UTC, in seconds.
    pub offset: i32,
}

impl CommitInfo {
    /// The template value: `{Hash, Date: {Human, Unix}}` (`Unix` a string, as werf gives it).
    pub fn value(&self) -> gotemplate::Value {
        use gotemplate::date::{format, Time, Zone};
        use gotemplate::Value;
        let t = Time::unix(self.unix).in_zone(Zone::Fixed {
            offset: self.offset,
            name: std::sync::Arc::from(""),
        });
        let human = format(&t, "2006-01-02 15:04:05.999999999 -0700 MST");
        let date: BTreeMap<String, Value> = [
            ("Human".to_string(), Value::Str(human)),
            ("Unix".to_string(), Value::Str(self.unix.to_string())),
        ]
        .into_iter()
        .collect();
        Value::map(
            [
                ("Hash".to_string(), Value::Str(self.hash.clone())),
                ("Date".to_string(), Value::map(date)),
            ]
            .into_iter()
            .collect(),
        )
    }
}

/// The template step every werf.yaml goes through before YAML parsing: Go templates with Sprig,
/// `env`, `.Env` and `.Files`. Errors name the file, line and column.
pub fn render_template<'a>(
    file: &str,
    text: &'a str,
    inputs: &TemplateInputs<'_>,
) -> Result<Cow<'a, str>> {
    use gotemplate::{exec::Exec, funcs, Set, Value};
    if !text.contains("{{") {
        return Ok(Cow::Borrowed(text));
    }
    let error = |e: gotemplate::Error| Error::Config {
        at: Location {
            file: file.to_string(),
            line: e.pos.line,
            column: e.column().unwrap_or(0),
        },
        message: e.message,
    };
    // werf's table: Sprig (without `expandenv`), `env` over the environment it was given, and
    // Helm's `include`, `tpl`, `required`, `fromYaml`, `toYaml`.
    let mut table = funcs::builtins();
    table.take_from(
        gotemplate::helm::shared(),
        &["include", "tpl", "required", "fromYaml", "toYaml"],
    );
    let vars = std::sync::Arc::new(inputs.vars.cloned().unwrap_or_default());
    gotemplate::sprig::environment(&mut table, vars.clone());
    table.remove("expandenv");
    // Giterminism: `env` reads only what `werf-giterminism.yaml` allows, as in werf.
    if let Some(rules) = inputs.giterminism {
        let rules = rules.clone();
        table.insert_context("env", move |_, args| {
            let [name] = args else {
                return Err(format!("wrong number of args for env: want 1 got {}", args.len()).into());
            };
            let name = gotemplate::funcs::strval(name);
            if !rules.allows_env(&name) {
                return Err(format!(
                    "reading the environment variable `{name}` is not allowed by giterminism: list it in `config.goTemplateRendering.allowEnvVariables` of `{}`",
                    crate::giterminism::FILE
                )
                .into());
            }
            Ok(Value::Str(vars.get(&name).cloned().unwrap_or_default()))
        });
    }
    let table = std::sync::Arc::new(table);
    let mut set = Set::with_functions(table.clone());
    for (name, partial_file, partial) in inputs.partials {
        set.parse(name, partial).map_err(|e| Error::Config {
            at: Location {
                file: partial_file.clone(),
                line: e.pos.line,
                column: e.column().unwrap_or(0),
            },
            message: e.message,
        })?;
    }
    set.parse(file, text).map_err(error)?;
    let mut exec = Exec::new(&set, &table);
    exec.methods = inputs.files;
    let mut root = std::collections::BTreeMap::new();
    root.insert(
        "Env".to_string(),
        Value::Str(inputs.env.unwrap_or_default().to_string()),
    );
    root.insert(
        "Files".to_string(),
        Value::map(
            [(
                gotemplate::exec::OBJECT_KIND.to_string(),
                Value::Str("ProjectFiles".into()),
            )]
            .into_iter()
            .collect(),
        ),
    );
    if let Some(commit) = inputs.commit {
        root.insert("Commit".to_string(), commit.value());
    }
    let out = exec.render(file, &Value::map(root)).map_err(|e| {
        // An error inside a partial names the partial's file.
        match inputs
            .partials
            .iter()
            .find(|(name, _, _)| *name == e.template)
        {
            Some((_, partial_file, _)) => Error::Config {
                at: Location {
                    file: partial_file.clone(),
                    line: e.pos.line,
                    column: e.column().unwrap_or(0),
                },
                message: e.message,
            },
            None => error(e),
        }
    })?;
    Ok(Cow::Owned(out.replace("<no value>", "")))
}

/// One YAML document of a multi-document file.
#[derive(Debug, PartialEq, Eq)]
pub struct Document<'a> {
    /// 1-based line of the document's first line in the file.
    pub first_line: usize,
    pub text: &'a str,
}

/// Splits a file on `---` lines; documents holding only comments and blank lines are dropped.
pub fn split_documents(text: &str) -> Vec<Document<'_>> {
    let mut docs = Vec::new();
    let mut start = 0usize;
    let mut start_line = 1usize;
    let mut offset = 0usize;
    fn push<'a>(
        text: &'a str,
        from: usize,
        to: usize,
        first_line: usize,
        docs: &mut Vec<Document<'a>>,
    ) {
        let body = &text[from..to];
        let has_content = body.lines().any(|l| {
            let t = l.trim();
            !t.is_empty() && !t.starts_with('#')
        });
        if has_content {
            docs.push(Document {
                first_line,
                text: body,
            });
        }
    }
    for (line_no, line) in (1usize..).zip(text.split_inclusive('\n')) {
        let trimmed = line.trim_end();
        if trimmed == "---" || trimmed.starts_with("--- ") {
            push(text, start, offset, start_line, &mut docs);
            start = offset + line.len();
            start_line = line_no + 1;
        }
        offset += line.len();
    }
    push(text, start, text.len(), start_line, &mut docs);
    docs
}

fn yaml_error(file: &str, doc: &Document<'_>, err: serde_yaml_ng::Error) -> Error {
    let (line, column) = err
        .location()
        .map(|l| (l.line() + doc.first_line - 1, l.column()))
        .unwrap_or((doc.first_line, 0));
    // Positions inside the message are relative to the document: make them file lines, and drop
    // a trailing one that repeats the reported location.
    let mut message = shift_line_numbers(&err.to_string(), doc.first_line - 1);
    let suffix = format!(" at line {line} column {column}");
    if let Some(stripped) = message.strip_suffix(&suffix) {
        message = stripped.to_string();
    }
    Error::Config {
        at: Location {
            file: file.to_string(),
            line,
            column,
        },
        message,
    }
}

/// Adds `offset` to every `line N` in a parser message.
fn shift_line_numbers(message: &str, offset: usize) -> String {
    let mut out = String::new();
    let mut rest = message;
    while let Some(i) = rest.find("line ") {
        out.push_str(&rest[..i + 5]);
        rest = &rest[i + 5..];
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        match rest[..digits].parse::<usize>() {
            Ok(n) => out.push_str(&(n + offset).to_string()),
            Err(_) => out.push_str(&rest[..digits]),
        }
        rest = &rest[digits..];
    }
    out.push_str(rest);
    out
}

/// Parses and validates werf.yaml text. `file` is the name used in messages.
pub fn parse(file: &str, text: &str) -> Result<WerfConfig> {
    parse_with(file, text, &TemplateInputs::default())
}

/// [`parse`] with what the template step may read.
pub fn parse_with(file: &str, text: &str, inputs: &TemplateInputs<'_>) -> Result<WerfConfig> {
    let rendered = render_template(file, text, inputs)?;
    let at = |line: usize| Location {
        file: file.to_string(),
        line,
        column: 0,
    };
    gotemplate::nesting::check_yaml(&rendered).map_err(|(line, message)| Error::Config {
        at: at(line),
        message,
    })?;
    let mut meta: Option<(Meta, usize)> = None;
    let mut images: Vec<ImageConfig> = Vec::new();
    for doc in split_documents(&rendered) {
        let value: serde_yaml_ng::Value =
            serde_yaml_ng::from_str(doc.text).map_err(|e| yaml_error(file, &doc, e))?;
        let map = value.as_mapping().ok_or_else(|| Error::Config {
            at: at(doc.first_line),
            message: "a werf.yaml document must be a mapping".into(),
        })?;
        let has = |k: &str| map.contains_key(k);
        if has("configVersion") {
            let parsed: Meta =
                serde_yaml_ng::from_str(doc.text).map_err(|e| yaml_error(file, &doc, e))?;
            if let Some((_, first)) = &meta {
                return Err(Error::Config {
                    at: at(doc.first_line),
                    message: format!(
                        "a second meta document (`configVersion`); the first is at line {first}"
                    ),
                });
            }
            if parsed.config_version != 1 {
                return Err(Error::Config {
                    at: at(key_line(&doc, "configVersion")),
                    message: format!(
                        "`configVersion: {}` is not supported; use `configVersion: 1`",
                        parsed.config_version
                    ),
                });
            }
            if parsed.project.trim().is_empty() {
                return Err(Error::Config {
                    at: at(key_line(&doc, "project")),
                    message: "`project` must not be empty".into(),
                });
            }
            if parsed.build.staged == Some(true) {
                let line = doc
                    .text
                    .lines()
                    .position(|l| l.trim_start().starts_with("staged:"))
                    .map_or(doc.first_line, |i| doc.first_line + i);
                return Err(Error::Config {
                    at: at(line),
                    message: "`build.staged: true` (layer-by-layer caching of Dockerfile instructions in the registry) is not supported yet by werf-rs: remove it (images are cached whole, by content)".into(),
                });
            }
            meta = Some((parsed, doc.first_line));
        } else if has("dockerfile") {
            let raw: RawDockerfileImage =
                serde_yaml_ng::from_str(doc.text).map_err(|e| yaml_error(file, &doc, e))?;
            images.extend(image_configs(file, &doc, raw)?);
        } else if has("image") || has("artifact") {
            images.extend(stapel_configs(file, &doc, has("artifact"))?);
        } else {
            return Err(Error::Config {
                at: at(doc.first_line),
                message: "document is neither the meta document (`configVersion`) nor an image (`image` + `dockerfile`)".into(),
            });
        }
    }
    let (meta, _) = meta.ok_or_else(|| Error::Config {
        at: at(1),
        message: "no meta document: add `configVersion: 1` and `project: NAME`".into(),
    })?;
    let mut config = WerfConfig {
        file: file.to_string(),
        meta,
        images,
    };
    resolve_stage_sources(&mut config)?;
    validate(&config)?;
    Ok(config)
}

/// The line of a top-level `key:` inside a document (the document's first line if not found).
fn key_line(doc: &Document<'_>, key: &str) -> usize {
    doc.text
        .lines()
        .position(|l| {
            l.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with(':'))
        })
        .map(|i| doc.first_line + i)
        .unwrap_or(doc.first_line)
}

fn image_configs(
    file: &str,
    doc: &Document<'_>,
    raw: RawDockerfileImage,
) -> Result<Vec<ImageConfig>> {
    let line = key_line(doc, "image");
    let at = |line: usize| Location {
        file: file.to_string(),
        line,
        column: 0,
    };
    let names = match raw.image {
        ImageNames::One(n) => vec![n],
        ImageNames::Many(ns) => ns,
    };
    if names.is_empty() {
        return Err(Error::Config {
            at: at(line),
            message: "`image` must name at least one image".into(),
        });
    }
    for n in &names {
        validate_image_name(n).map_err(|message| Error::Config {
            at: at(line),
            message,
        })?;
    }
    if raw.staged == Some(true) {
        return Err(Error::Config {
            at: at(key_line(doc, "staged")),
            message: "`staged: true` (layer-by-layer caching of Dockerfile instructions in the registry) is not supported yet by werf-rs: remove it (images are cached whole, by content)".into(),
        });
    }
    let context =
        normalize_rel_path(raw.context.as_deref().unwrap_or(".")).map_err(|m| Error::Config {
            at: at(key_line(doc, "context")),
            message: format!("`context`: {m}"),
        })?;
    let dockerfile = normalize_rel_path(&raw.dockerfile).map_err(|m| Error::Config {
        at: at(key_line(doc, "dockerfile")),
        message: format!("`dockerfile`: {m}"),
    })?;
    if dockerfile.is_empty() {
        return Err(Error::Config {
            at: at(key_line(doc, "dockerfile")),
            message: "`dockerfile` must name a file".into(),
        });
    }
    let mut context_add_files = Vec::new();
    for f in raw.context_add_files {
        let p = normalize_rel_path(&f).map_err(|m| Error::Config {
            at: at(key_line(doc, "contextAddFiles")),
            message: format!("`contextAddFiles` entry `{f}`: {m}"),
        })?;
        if p.is_empty() {
            return Err(Error::Config {
                at: at(key_line(doc, "contextAddFiles")),
                message: "`contextAddFiles` entry must name a path inside the context".into(),
            });
        }
        context_add_files.push(p);
    }
    context_add_files.sort();
    context_add_files.dedup();
    let mut secret_ids = Vec::new();
    let mut secrets = Vec::new();
    for s in raw.secrets {
        let from = match (s.env.clone(), s.src.clone(), s.value.clone()) {
            (Some(e), None, None) => SecretFrom::Env(e),
            (None, Some(p), None) => SecretFrom::File(p),
            (None, None, Some(v)) => SecretFrom::Value(v),
            _ => {
                return Err(Error::Config {
                    at: at(key_line(doc, "secrets")),
                    message: "each `secrets` entry needs exactly one of `env`, `src`, `value`"
                        .into(),
                })
            }
        };
        let id =
            s.id.or_else(|| s.env.clone())
                .or_else(|| {
                    s.src.as_ref().map(|p| {
                        p.rsplit('/')
                            .next()
                            .expect("rsplit yields at least one part")
                            .to_string()
                    })
                })
                .ok_or_else(|| Error::Config {
                    at: at(key_line(doc, "secrets")),
                    message: "a `secrets` entry with `value` needs an `id`".into(),
                })?;
        if id.is_empty() || id.contains([',', '=', '/']) || id.contains(char::is_whitespace) {
            return Err(Error::Config {
                at: at(key_line(doc, "secrets")),
                message: format!(
                    "secret id `{id}` must be a non-empty word without `,`, `=` or `/`"
                ),
            });
        }
        secrets.push(SecretSource {
            id: id.clone(),
            from,
        });
        secret_ids.push(id);
    }
    let args: BTreeMap<String, String> = raw
        .args
        .into_iter()
        .map(|(k, v)| (k, v.into_string()))
        .collect();
    Ok(names
        .into_iter()
        .map(|name| ImageConfig {
            name,
            line,
            is_final: raw.is_final.unwrap_or(true),
            context: context.clone(),
            dockerfile: dockerfile.clone(),
            context_add_files: context_add_files.clone(),
            target: raw.target.clone(),
            args: args.clone(),
            platform: raw.platform.clone(),
            cache_version: raw.cache_version.clone(),
            dependencies: raw.dependencies.clone(),
            add_host: raw.add_host.clone(),
            network: raw.network.clone(),
            secret_ids: secret_ids.clone(),
            ssh: raw.ssh.clone(),
            secrets: secrets.clone(),
            staged: raw.staged,
            image_spec: raw.image_spec.clone(),
            stapel: None,
        })
        .collect())
}

/// The images of a Stapel document.
fn stapel_configs(
    file: &str,
    doc: &Document<'_>,
    is_artifact_doc: bool,
) -> Result<Vec<ImageConfig>> {
    let raw: crate::stapel::schema::RawStapel =
        serde_yaml_ng::from_str(doc.text).map_err(|e| yaml_error(file, doc, e))?;
    let line = key_line(doc, if is_artifact_doc { "artifact" } else { "image" });
    let at = |line: usize| Location {
        file: file.to_string(),
        line,
        column: 0,
    };
    let c = crate::stapel::schema::convert(raw).map_err(|(field, message)| {
        let top = field
            .split(['.', '['])
            .next()
            .unwrap_or(field.as_str())
            .to_string();
        Error::Config {
            at: at(key_line(doc, &top)),
            message: format!("`{field}`: {message}"),
        }
    })?;
    if c.names.is_empty() {
        return Err(Error::Config {
            at: at(line),
            message: "`image` must name at least one image".into(),
        });
    }
    for n in &c.names {
        validate_image_name(n).map_err(|message| Error::Config {
            at: at(line),
            message,
        })?;
    }
    let stapel = std::sync::Arc::new(c.stapel);
    let images = stapel.images();
    let stage_names = crate::stapel::translate::stage_names(&stapel);
    let arg = |name: &str| {
        crate::stapel::translate::image_arg(
            images
                .iter()
                .position(|i| i == name)
                .expect("every image read is numbered"),
        )
    };
    let name_import = |image: &str, build_arg: String| Dependency {
        image: image.to_string(),
        imports: vec![Import {
            kind: ImportType::ImageName,
            target_build_arg: build_arg,
        }],
    };
    let mut out = Vec::new();
    for name in &c.names {
        for (k, stage) in stage_names.iter().enumerate() {
            let last = k + 1 == stage_names.len();
            // What this stage reads: the stage before (or the base), its imports, its
            // dependencies' values.
            let mut dependencies = Vec::new();
            if k == 0 {
                if let crate::stapel::schema::Base::Image(b) = &stapel.base {
                    dependencies.push(name_import(b, arg(b)));
                }
            } else {
                dependencies.push(name_import(
                    &stage_image_name(name, stage_names[k - 1]),
                    crate::stapel::translate::PREV_ARG.to_string(),
                ));
            }
            for slot in crate::stapel::schema::Slot::ALL {
                if slot.stage_name() != *stage {
                    continue;
                }
                for imp in stapel.imports.iter().filter(|i| i.slot == slot) {
                    // `IMAGE@STAGE` until [`resolve_stage_sources`] names the stage's image.
                    dependencies.push(name_import(&imp.source(), arg(&imp.source())));
                }
                for (s, image, env, kind) in &stapel.dependency_env {
                    if *s == slot {
                        dependencies.push(Dependency {
                            image: image.clone(),
                            imports: vec![Import {
                                kind: *kind,
                                target_build_arg: env.clone(),
                            }],
                        });
                    }
                }
            }
            out.push(ImageConfig {
                name: if last {
                    name.clone()
                } else {
                    stage_image_name(name, stage)
                },
                line,
                is_final: last && c.is_final.unwrap_or(!c.is_artifact),
                context: String::new(),
                dockerfile: String::new(),
                context_add_files: Vec::new(),
                target: None,
                args: BTreeMap::new(),
                platform: c.platform.clone(),
                cache_version: None,
                dependencies,
                add_host: Vec::new(),
                network: None,
                secret_ids: Vec::new(),
                ssh: None,
                secrets: Vec::new(),
                staged: None,
                image_spec: if last { c.image_spec.clone() } else { None },
                stapel: Some(StapelStage {
                    stapel: stapel.clone(),
                    image: name.clone(),
                    stage: stage.to_string(),
                    last,
                }),
            });
        }
    }
    Ok(out)
}

/// The image an import of `image` as it was after werf stage `stage` reads: the stage image of
/// the last stage of `image` at or before `stage` in werf's order (the image itself when that is
/// its last stage), or its base image when it has no stage that early. `stages` are `image`'s
/// (werf stage name, image name) in order.
pub fn stage_source(
    image: &str,
    stage: &str,
    stages: &[(&str, &str)],
    base: Option<&crate::stapel::schema::Base>,
) -> std::result::Result<String, String> {
    use crate::stapel::translate::STAGE_ORDER;
    let order = |s: &str| STAGE_ORDER.iter().position(|o| *o == s);
    let wanted = order(stage).ok_or_else(|| format!("`{stage}` is not a werf stage"))?;
    let (false, Some(base)) = (stages.is_empty(), base) else {
        return Err(format!(
            "`stage: {stage}` imports a stage of `{image}`, which is not a Stapel image"
        ));
    };
    if let Some((_, name)) = stages
        .iter()
        .rev()
        .find(|(s, _)| order(s).is_some_and(|o| o <= wanted))
    {
        return Ok(name.to_string());
    }
    match base {
        crate::stapel::schema::Base::Image(b) => Ok(b.clone()),
        crate::stapel::schema::Base::External(r) => Err(format!(
            "`{image}` has no stage up to `{stage}`: import from its base `{r}` instead"
        )),
    }
}

/// Names the images that `IMAGE@STAGE` dependencies (imports with `stage`) read.
fn resolve_stage_sources(config: &mut WerfConfig) -> Result<()> {
    let mut resolved: Vec<(usize, usize, String)> = Vec::new();
    for (i, img) in config.images.iter().enumerate() {
        for (d, dep) in img.dependencies.iter().enumerate() {
            let Some((source, stage)) = dep.image.split_once('@') else {
                continue;
            };
            let stages: Vec<(&str, &str)> = config
                .images
                .iter()
                .filter_map(|o| {
                    o.stapel
                        .as_ref()
                        .filter(|s| s.image == source)
                        .map(|s| (s.stage.as_str(), o.name.as_str()))
                })
                .collect();
            let base = config
                .images
                .iter()
                .find_map(|o| o.stapel.as_ref().filter(|s| s.image == source))
                .map(|s| s.stapel.base.clone());
            let exists = config.images.iter().any(|o| o.name == source);
            if !exists {
                return Err(Error::Config {
                    at: config.at(img.line),
                    message: format!(
                        "image `{}` imports from `{source}`, which is not defined in werf.yaml",
                        img.name
                    ),
                });
            }
            let name =
                stage_source(source, stage, &stages, base.as_ref()).map_err(|m| Error::Config {
                    at: config.at(img.line),
                    message: format!("image `{}`: {m}", img.name),
                })?;
            resolved.push((i, d, name));
        }
    }
    for (i, d, name) in resolved {
        config.images[i].dependencies[d].image = name;
    }
    Ok(())
}

/// The internal image holding stage `stage` of Stapel image `image` (the last stage is the image
/// itself).
pub fn stage_image_name(image: &str, stage: &str) -> String {
    format!("{image}/stapel-stage/{stage}")
}

/// Image names are `/`-separated segments of `[A-Za-z0-9._-]`.
fn validate_image_name(name: &str) -> std::result::Result<(), String> {
    let ok = !name.is_empty()
        && name.split('/').all(|seg| {
            !seg.is_empty()
                && seg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid image name `{name}`: use `/`-separated segments of letters, digits, `.`, `_`, `-`"
        ))
    }
}

/// Normalizes a relative path: `./a//b/` -> `a/b`, `.` -> ``; absolute paths and `..` escapes are errors.
pub fn normalize_rel_path(p: &str) -> std::result::Result<String, String> {
    if p.starts_with('/') {
        return Err(format!("`{p}` must be relative to the project directory"));
    }
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(format!("`{p}` points outside the project directory"));
                }
            }
            s => parts.push(s),
        }
    }
    Ok(parts.join("/"))
}

fn validate(config: &WerfConfig) -> Result<()> {
    // `imageSpec`s are read strictly now (the build applies them): an unknown key or a bad
    // value names itself.
    if let Some(spec) = &config.meta.build.image_spec {
        crate::image_spec::ImageSpec::parse(&spec.0, true).map_err(|message| Error::Config {
            at: config.at(1),
            message,
        })?;
    }
    for img in &config.images {
        if let Some(spec) = &img.image_spec {
            crate::image_spec::ImageSpec::parse(&spec.0, false).map_err(|message| {
                Error::Config {
                    at: config.at(img.line),
                    message: format!("image `{}`: {message}", img.name),
                }
            })?;
        }
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for img in &config.images {
        if let Some(first) = seen.insert(&img.name, img.line) {
            return Err(Error::Config {
                at: config.at(img.line),
                message: format!(
                    "image `{}` is defined twice (first at line {first})",
                    img.name
                ),
            });
        }
    }
    for img in &config.images {
        let mut build_args: HashMap<&str, &str> = HashMap::new();
        for dep in &img.dependencies {
            if dep.image == img.name {
                return Err(Error::Cycle {
                    at: config.at(img.line),
                    cycle: vec![img.name.clone(), img.name.clone()],
                });
            }
            if !seen.contains_key(dep.image.as_str()) {
                return Err(Error::Config {
                    at: config.at(img.line),
                    message: format!(
                        "image `{}` depends on `{}`, which is not defined in werf.yaml",
                        img.name, dep.image
                    ),
                });
            }
            for imp in &dep.imports {
                if let Some(other) = build_args.insert(&imp.target_build_arg, &dep.image) {
                    return Err(Error::Config {
                        at: config.at(img.line),
                        message: format!(
                            "build arg `{}` of image `{}` is imported from both `{other}` and `{}`",
                            imp.target_build_arg, img.name, dep.image
                        ),
                    });
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = "project: demo\nconfigVersion: 1\n---\nimage: [a, b]\ndockerfile: Dockerfile\ncontext: ./svc/\nargs:\n  N: 3\n---\n# only a comment\n---\nimage: c\ndockerfile: x/Dockerfile\ndependencies:\n- image: a\n  imports:\n  - type: ImageName\n    targetBuildArg: BASE\n";

    #[test]
    fn secrets_are_read_with_their_source_and_bad_ones_are_named() {
        let doc = |secrets: &str| {
            format!("project: p\nconfigVersion: 1\n---\nimage: a\ndockerfile: Dockerfile\nsecrets:\n{secrets}")
        };
        let c = parse(
            "werf.yaml",
            &doc("- env: TOKEN\n- src: dir/key.pem\n- id: v\n  value: hidden\n"),
        )
        .unwrap();
        let ids: Vec<&str> = c.images[0].secrets.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["TOKEN", "key.pem", "v"]);
        assert_eq!(c.images[0].secret_ids, ["TOKEN", "key.pem", "v"]);
        // The value is never shown, not even in debug output.
        let shown = format!("{:?}", c.images[0]);
        assert!(shown.contains("secret `v` from a value"), "{shown}");
        assert!(!shown.contains("hidden"), "{shown}");
        for (secrets, want) in [
            (
                "- env: A\n  value: b\n",
                "needs exactly one of `env`, `src`, `value`",
            ),
            (
                "- value: b\n",
                "a `secrets` entry with `value` needs an `id`",
            ),
            (
                "- id: a,b\n  value: c\n",
                "secret id `a,b` must be a non-empty word",
            ),
        ] {
            let e = parse("werf.yaml", &doc(secrets)).unwrap_err().to_string();
            assert!(e.starts_with("werf.yaml:6"), "{e}");
            assert!(e.contains(want), "{e}\nwant: {want}");
        }
    }

    #[test]
    fn parses_multi_document_with_image_lists() {
        let c = parse("werf.yaml", OK).expect("valid config");
        assert_eq!(c.meta.project, "demo");
        let names: Vec<_> = c.images.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(c.images[0].context, "svc");
        assert_eq!(c.images[0].args["N"], "3");
        assert_eq!(c.images[0].line, 4);
        assert_eq!(c.images[2].line, 12);
        assert_eq!(
            c.images[2].dependencies[0].imports[0].kind,
            ImportType::ImageName
        );
    }

    #[test]
    fn unknown_key_names_line_and_column() {
        let text = "project: demo\nconfigVersion: 1\n---\nimage: a\ndockerfile: D\n  \ncontxt: x\n";
        let err = parse("werf.yaml", text).expect_err("unknown key");
        let msg = err.to_string();
        assert!(
            msg.starts_with("werf.yaml:7:1: unknown field `contxt`"),
            "{msg}"
        );
    }

    #[test]
    fn commit_values_and_partials_render_as_werf_gives_them() {
        let commit = CommitInfo {
            hash: "0123456789abcdef0123456789abcdef01234567".into(),
            unix: 1_767_225_600,
            offset: 3 * 3600,
        };
        let partials = vec![(
            "images/app.tmpl".to_string(),
            ".werf/images/app.tmpl".to_string(),
            "{{ define \"args\" }}REV: \"{{ .Commit.Hash }}\"{{ end }}image: app\ndockerfile: Dockerfile\nargs:\n  {{ include \"args\" . }}\n  WHEN: \"{{ .Commit.Date.Human }}\"\n  UNIX: \"{{ .Commit.Date.Unix }}\"\n".to_string(),
        )];
        let inputs = TemplateInputs {
            commit: Some(&commit),
            partials: &partials,
            ..Default::default()
        };
        let text = "project: p\nconfigVersion: 1\n---\n{{ include \"images/app.tmpl\" . }}\n";
        let config = parse_with("werf.yaml", text, &inputs).expect("renders");
        let args = &config.images[0].args;
        assert_eq!(args["REV"], commit.hash);
        assert_eq!(args["WHEN"], "2026-01-01 03:00:00 +0300 +0300");
        assert_eq!(args["UNIX"], "1767225600");
        // A partial's error names its file and line.
        let broken = vec![(
            "b.tmpl".to_string(),
            ".werf/b.tmpl".to_string(),
            "x\n{{ fail \"broken\" }}".to_string(),
        )];
        let inputs = TemplateInputs {
            commit: Some(&commit),
            partials: &broken,
            ..Default::default()
        };
        let e = parse_with("werf.yaml", "{{ include \"b.tmpl\" . }}", &inputs).expect_err("fails");
        assert!(e.to_string().contains(".werf/b.tmpl:2"), "{e}");
    }

    #[test]
    fn the_template_step_renders_env_and_reports_errors_with_location() {
        let vars: BTreeMap<String, String> = [("APP".to_string(), "shop".to_string())].into();
        let inputs = TemplateInputs {
            env: Some("prod"),
            vars: Some(&vars),
            files: None,
            ..Default::default()
        };
        let text = "project: {{ env \"APP\" }}-{{ .Env }}\nconfigVersion: 1\n{{- range $i := until 2 }}\n---\nimage: img{{ $i }}\ndockerfile: Dockerfile\n{{- end }}\n";
        let config = parse_with("werf.yaml", text, &inputs).expect("renders");
        assert_eq!(config.meta.project, "shop-prod");
        assert_eq!(config.images.len(), 2);
        let err = parse(
            "werf.yaml",
            "project: x\nconfigVersion: 1\nb: {{ .Env | nosuch }}\n",
        )
        .expect_err("template");
        assert!(err.to_string().starts_with("werf.yaml:3:"), "{err}");
        let err =
            parse("werf.yaml", "project: {{ required \"set APP\" \"\" }}\n").expect_err("required");
        assert!(err.to_string().contains("set APP"), "{err}");
    }

    #[test]
    fn duplicate_and_unknown_dependency() {
        let dup = "project: d\nconfigVersion: 1\n---\nimage: a\ndockerfile: D\n---\nimage: a\ndockerfile: D\n";
        assert!(parse("werf.yaml", dup)
            .expect_err("dup")
            .to_string()
            .contains("defined twice (first at line 4)"));
        let unk = "project: d\nconfigVersion: 1\n---\nimage: a\ndockerfile: D\ndependencies: [{image: zz}]\n";
        assert!(parse("werf.yaml", unk)
            .expect_err("unknown dep")
            .to_string()
            .contains("`zz`, which is not defined"));
    }

    #[test]
    fn paths_are_normalized_and_checked() {
        assert_eq!(normalize_rel_path("./a//b/").as_deref(), Ok("a/b"));
        assert_eq!(normalize_rel_path(".").as_deref(), Ok(""));
        assert_eq!(
            normalize_rel_path("../x"),
            Err("`../x` points outside the project directory".into())
        );
        assert_eq!(
            normalize_rel_path("a/../../x"),
            Err("`a/../../x` points outside the project directory".into())
        );
        assert_eq!(
            normalize_rel_path("/x"),
            Err("`/x` must be relative to the project directory".into())
        );
    }
}
