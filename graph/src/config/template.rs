//! werf.yaml's template step: Go templates with Sprig, `env`, `.Env`, `.Files` and `.Commit`.

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::error::{Error, Location, Result};

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
    /// `--platform`: the platforms every image builds for instead of werf.yaml's (empty:
    /// werf.yaml's). Not read by the template; part of each image's settings.
    pub platforms: Vec<String>,
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
