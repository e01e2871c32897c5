//! Dockerfiles: parsing (directives, continuations, comments) and resolution for digests.
//!
//! [`parse`] turns text into stages of instructions with their line numbers. [`resolve`] applies
//! build args and the target: ARG/ENV substitution where Docker substitutes, quote removal, JSON
//! forms, and the normalised text of every instruction (comments and formatting never reach a
//! digest). It reports, per stage, its base and the COPY/ADD sources that need file content.

use std::collections::BTreeMap;

use crate::error::{Error, Location, Result};

/// A parsed Dockerfile.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Dockerfile {
    pub file: String,
    /// `ARG`s before the first `FROM` (usable in `FROM` lines).
    pub meta_args: Vec<Instruction>,
    pub stages: Vec<StageSyntax>,
}

/// A stage as written: its `FROM` and the instructions after it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct StageSyntax {
    pub from: Instruction,
    pub body: Vec<Instruction>,
}

/// One instruction: keyword (upper case), leading `--flags`, and the rest of the line.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Instruction {
    pub line: usize,
    pub keyword: String,
    pub flags: Vec<(String, Option<String>)>,
    pub rest: String,
}

const KEYWORDS: &[&str] = &[
    "FROM",
    "RUN",
    "CMD",
    "LABEL",
    "MAINTAINER",
    "EXPOSE",
    "ENV",
    "ADD",
    "COPY",
    "ENTRYPOINT",
    "VOLUME",
    "USER",
    "WORKDIR",
    "ARG",
    "ONBUILD",
    "STOPSIGNAL",
    "HEALTHCHECK",
    "SHELL",
];

fn err(file: &str, line: usize, message: impl Into<String>) -> Error {
    Error::Dockerfile {
        at: Location {
            file: file.to_string(),
            line,
            column: 0,
        },
        message: message.into(),
    }
}

/// Parses Dockerfile text. `file` is the path used in messages.
pub fn parse(file: &str, text: &str) -> Result<Dockerfile> {
    let mut escape = '\\';
    let mut lines = text.lines().enumerate().peekable();
    // Parser directives: leading `# key=value` comments.
    while let Some((_, l)) = lines.peek() {
        let t = l.trim();
        let Some(d) = t.strip_prefix('#') else { break };
        let Some((k, v)) = d.split_once('=') else {
            break;
        };
        let k = k.trim().to_ascii_lowercase();
        if k == "escape" {
            let v = v.trim();
            escape = match v {
                "`" => '`',
                "\\" => '\\',
                other => {
                    return Err(err(
                        file,
                        1,
                        format!("invalid escape directive `{other}`: use `\\` or a backtick"),
                    ))
                }
            };
        } else if k != "syntax" && k != "check" {
            break;
        }
        lines.next();
    }

    let mut logical: Vec<(usize, String)> = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (i, raw) in lines {
        let line_no = i + 1;
        let t = raw.trim_start();
        if t.starts_with('#') || (t.is_empty() && current.is_none()) {
            continue;
        }
        if t.is_empty() {
            continue;
        }
        let trimmed = raw.trim_end();
        let (body, continues) = match trimmed.strip_suffix(escape) {
            Some(b) => (b, true),
            None => (trimmed, false),
        };
        match &mut current {
            Some((_, acc)) => acc.push_str(body),
            None => current = Some((line_no, body.trim_start().to_string())),
        }
        if !continues {
            logical.push(current.take().expect("current line was just set"));
        }
    }
    if let Some(c) = current.take() {
        logical.push(c);
    }

    let mut meta_args = Vec::new();
    let mut stages: Vec<StageSyntax> = Vec::new();
    for (line, text) in logical {
        let (kw, rest) = match text.split_once(|c: char| c.is_whitespace()) {
            Some((k, r)) => (k, r.trim()),
            None => (text.as_str(), ""),
        };
        let keyword = kw.to_ascii_uppercase();
        if !KEYWORDS.contains(&keyword.as_str()) {
            return Err(err(file, line, format!("unknown instruction `{kw}`")));
        }
        let (flags, rest) = if matches!(
            keyword.as_str(),
            "FROM" | "COPY" | "ADD" | "RUN" | "HEALTHCHECK"
        ) {
            split_flags(rest)
        } else {
            (Vec::new(), rest.to_string())
        };
        let ins = Instruction {
            line,
            keyword,
            flags,
            rest,
        };
        if ins.keyword == "FROM" {
            if ins.rest.is_empty() {
                return Err(err(file, line, "`FROM` needs an image"));
            }
            stages.push(StageSyntax {
                from: ins,
                body: Vec::new(),
            });
        } else if let Some(stage) = stages.last_mut() {
            stage.body.push(ins);
        } else if ins.keyword == "ARG" {
            meta_args.push(ins);
        } else {
            return Err(err(
                file,
                line,
                format!("`{}` before the first `FROM`", ins.keyword),
            ));
        }
    }
    if stages.is_empty() {
        return Err(err(file, 1, "no `FROM` instruction"));
    }
    Ok(Dockerfile {
        file: file.to_string(),
        meta_args,
        stages,
    })
}

fn split_flags(rest: &str) -> (Vec<(String, Option<String>)>, String) {
    let mut flags = Vec::new();
    let mut s = rest.trim_start();
    while let Some(f) = s.strip_prefix("--") {
        let end = f.find(char::is_whitespace).unwrap_or(f.len());
        let word = &f[..end];
        match word.split_once('=') {
            Some((k, v)) => flags.push((k.to_ascii_lowercase(), Some(v.to_string()))),
            None => flags.push((word.to_ascii_lowercase(), None)),
        }
        s = f[end..].trim_start();
    }
    (flags, s.to_string())
}

/// The base of a resolved stage.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Base {
    Scratch,
    /// An earlier stage of the same Dockerfile.
    Stage(usize),
    /// An image reference as written (after ARG substitution).
    External(String),
}

/// Where `COPY --from` takes files from.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum CopyFrom {
    Stage(usize),
    External(String),
}

/// A COPY or ADD instruction's sources and destination.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct CopySpec {
    pub add: bool,
    pub from: Option<CopyFrom>,
    /// Sources after substitution; relative to the context when `from` is `None`.
    pub sources: Vec<String>,
    pub dest: String,
    /// Flags other than `--from` (`--chmod`, `--chown`, `--link`, ...), values substituted.
    pub flags: Vec<(String, Option<String>)>,
}

impl CopySpec {
    /// The values of the repeatable flag `--name`, in order.
    pub fn flag_values(&self, name: &str) -> Vec<String> {
        self.flags
            .iter()
            .filter(|(k, _)| k == name)
            .filter_map(|(_, v)| v.clone())
            .collect()
    }

    /// Sources that come from the build context (not URLs, not `--from`).
    pub fn context_sources(&self) -> impl Iterator<Item = &str> {
        let from_context = self.from.is_none();
        self.sources
            .iter()
            .filter(move |s| from_context && !is_remote(s))
            .map(String::as_str)
    }
}

fn is_remote(s: &str) -> bool {
    s.starts_with("http://")
        || s.starts_with("https://")
        || s.starts_with("git@")
        || s.starts_with("git://")
}

/// A command in exec form (`["a", "b"]`) or shell form (`a b`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum CommandForm {
    Exec(Vec<String>),
    Shell(String),
}

/// What a resolved instruction does, for a builder.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Op {
    Arg(Vec<(String, Option<String>)>),
    Env(Vec<(String, String)>),
    Label(Vec<(String, String)>),
    Copy,
    Workdir(String),
    User(String),
    Expose(Vec<String>),
    Volume(Vec<String>),
    StopSignal(String),
    Cmd(CommandForm),
    Entrypoint(CommandForm),
    Shell(Vec<String>),
    /// `HEALTHCHECK` flags and command (`NONE` disables).
    Healthcheck {
        flags: Vec<(String, Option<String>)>,
        command: CommandForm,
    },
    Run(CommandForm),
    Onbuild(String),
    Maintainer(String),
}

/// One resolved instruction.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Step {
    pub line: usize,
    /// Normalised text with ARG/ENV substituted where Docker substitutes.
    pub text: String,
    pub op: Op,
    pub copy: Option<CopySpec>,
}

fn command_form(rest: &str) -> CommandForm {
    match json_array(rest) {
        Some(words) => CommandForm::Exec(words),
        None => CommandForm::Shell(normalize_command(rest)),
    }
}

/// A stage after substitution.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct ResolvedStage {
    pub index: usize,
    pub name: Option<String>,
    pub line: usize,
    pub base: Base,
    /// The normalised `FROM` line.
    pub from_text: String,
    pub steps: Vec<Step>,
}

impl ResolvedStage {
    /// `name` or `#index` for messages.
    pub fn label(&self) -> String {
        match &self.name {
            Some(n) => n.clone(),
            None => format!("#{}", self.index),
        }
    }
}

/// A Dockerfile resolved for a set of build args and a target.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Resolved {
    pub stages: Vec<ResolvedStage>,
    /// Index of the stage the image is (the `target`, or the last stage).
    pub target: usize,
}

type Env = BTreeMap<String, String>;

/// Resolves `df` with `build_args` (werf `args` plus dependency imports) and `target`.
pub fn resolve(
    df: &Dockerfile,
    build_args: &BTreeMap<String, String>,
    target: Option<&str>,
) -> Result<Resolved> {
    let file = df.file.as_str();
    // Global ARGs: visible in FROM lines, and to stages that redeclare them without a value.
    let mut global = Env::new();
    for a in &df.meta_args {
        for (name, default) in arg_decls(file, a)? {
            let value = build_args
                .get(&name)
                .cloned()
                .or_else(|| default.map(|d| process_word(&d, &global, '\\')));
            if let Some(v) = value {
                global.insert(name, v);
            }
        }
    }

    let mut names: Vec<Option<String>> = Vec::new();
    let mut stages: Vec<ResolvedStage> = Vec::new();
    let mut stage_env: Vec<Env> = Vec::new();
    for (index, syn) in df.stages.iter().enumerate() {
        let words = split_words(&syn.from.rest);
        let (image_word, name) = match words.as_slice() {
            [img] => (img.clone(), None),
            [img, as_kw, name] if as_kw.eq_ignore_ascii_case("as") => {
                (img.clone(), Some(name.to_ascii_lowercase()))
            }
            _ => return Err(err(file, syn.from.line, "`FROM` takes `IMAGE [AS NAME]`")),
        };
        if let Some(n) = &name {
            if names.iter().flatten().any(|m| m == n) {
                return Err(err(
                    file,
                    syn.from.line,
                    format!("stage name `{n}` is used twice"),
                ));
            }
        }
        let image = process_word(&image_word, &global, '\\');
        if image.is_empty() {
            return Err(err(
                file,
                syn.from.line,
                format!("`FROM {image_word}` resolves to an empty image name"),
            ));
        }
        let base = if image.eq_ignore_ascii_case("scratch") {
            Base::Scratch
        } else if let Some(i) = stage_by_name(&names, &image) {
            Base::Stage(i)
        } else {
            Base::External(image.clone())
        };
        let mut from_text = String::from("FROM");
        for (k, v) in &syn.from.flags {
            from_text.push_str(&format!(
                " --{k}{}",
                v.as_ref()
                    .map(|v| format!("={}", process_word(v, &global, '\\')))
                    .unwrap_or_default()
            ));
        }
        from_text.push(' ');
        from_text.push_str(&image);
        if let Some(n) = &name {
            from_text.push_str(" AS ");
            from_text.push_str(n);
        }

        // ENV is inherited from a parent stage; ARGs are not.
        let mut env_vars: Env = match base {
            Base::Stage(i) => stage_env[i].clone(),
            _ => Env::new(),
        };
        let mut args = Env::new();
        let mut steps = Vec::new();
        for ins in &syn.body {
            let scope = |args: &Env, env_vars: &Env| -> Env {
                let mut s = args.clone();
                s.extend(env_vars.iter().map(|(k, v)| (k.clone(), v.clone())));
                s
            };
            let vars = scope(&args, &env_vars);
            let step = match ins.keyword.as_str() {
                "ARG" => {
                    let mut parts = Vec::new();
                    let mut decls = Vec::new();
                    for (n, default) in arg_decls(file, ins)? {
                        let value = build_args
                            .get(&n)
                            .cloned()
                            .or_else(|| default.map(|d| process_word(&d, &vars, '\\')))
                            .or_else(|| global.get(&n).cloned());
                        match &value {
                            Some(v) => parts.push(format!("{n}={}", quote(v))),
                            None => parts.push(n.clone()),
                        }
                        decls.push((n.clone(), value.clone()));
                        if let Some(v) = value {
                            args.insert(n, v);
                        }
                    }
                    Step {
                        line: ins.line,
                        text: format!("ARG {}", parts.join(" ")),
                        op: Op::Arg(decls),
                        copy: None,
                    }
                }
                "ENV" | "LABEL" => {
                    let pairs = key_values(file, ins, &vars)?;
                    let text = pairs
                        .iter()
                        .map(|(k, v)| format!("{k}={}", quote(v)))
                        .collect::<Vec<_>>()
                        .join(" ");
                    let op = if ins.keyword == "ENV" {
                        env_vars.extend(pairs.iter().cloned());
                        Op::Env(pairs)
                    } else {
                        Op::Label(pairs)
                    };
                    Step {
                        line: ins.line,
                        text: format!("{} {text}", ins.keyword),
                        op,
                        copy: None,
                    }
                }
                "COPY" | "ADD" => {
                    let copy = copy_spec(file, ins, &vars, &names, index)?;
                    let mut text = ins.keyword.clone();
                    for (k, v) in &ins.flags {
                        text.push_str(&format!(
                            " --{k}{}",
                            v.as_ref()
                                .map(|v| format!("={}", process_word(v, &vars, '\\')))
                                .unwrap_or_default()
                        ));
                    }
                    for s in &copy.sources {
                        text.push(' ');
                        text.push_str(&quote(s));
                    }
                    text.push(' ');
                    text.push_str(&quote(&copy.dest));
                    Step {
                        line: ins.line,
                        text,
                        op: Op::Copy,
                        copy: Some(copy),
                    }
                }
                "RUN" | "CMD" | "ENTRYPOINT" | "SHELL" | "HEALTHCHECK" | "ONBUILD" => {
                    let mut text = ins.keyword.clone();
                    for (k, v) in &ins.flags {
                        text.push_str(&format!(
                            " --{k}{}",
                            v.as_ref().map(|v| format!("={v}")).unwrap_or_default()
                        ));
                    }
                    text.push(' ');
                    text.push_str(&normalize_command(&ins.rest));
                    let form = command_form(&ins.rest);
                    let op = match ins.keyword.as_str() {
                        "RUN" => Op::Run(form),
                        "CMD" => Op::Cmd(form),
                        "ENTRYPOINT" => Op::Entrypoint(form),
                        "SHELL" => match form {
                            CommandForm::Exec(words) => Op::Shell(words),
                            CommandForm::Shell(_) => return Err(err(
                                file,
                                ins.line,
                                "`SHELL` needs the JSON form, e.g. `SHELL [\"/bin/sh\", \"-c\"]`",
                            )),
                        },
                        "HEALTHCHECK" => Op::Healthcheck {
                            flags: ins.flags.clone(),
                            command: form,
                        },
                        _ => Op::Onbuild(ins.rest.clone()),
                    };
                    Step {
                        line: ins.line,
                        text,
                        op,
                        copy: None,
                    }
                }
                // EXPOSE USER WORKDIR VOLUME STOPSIGNAL MAINTAINER: substituted words.
                _ => {
                    let words: Vec<String> = if let Some(json) = json_array(&ins.rest) {
                        json.iter().map(|w| process_word(w, &vars, '\\')).collect()
                    } else {
                        split_words(&ins.rest)
                            .iter()
                            .map(|w| process_word(w, &vars, '\\'))
                            .collect()
                    };
                    let joined = words.join(" ");
                    let op = match ins.keyword.as_str() {
                        "WORKDIR" => Op::Workdir(joined),
                        "USER" => Op::User(joined),
                        "EXPOSE" => Op::Expose(words.clone()),
                        "VOLUME" => Op::Volume(words.clone()),
                        "STOPSIGNAL" => Op::StopSignal(joined),
                        _ => Op::Maintainer(joined),
                    };
                    Step {
                        line: ins.line,
                        text: format!(
                            "{} {}",
                            ins.keyword,
                            words.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" ")
                        ),
                        op,
                        copy: None,
                    }
                }
            };
            steps.push(step);
        }
        names.push(name.clone());
        stage_env.push(env_vars);
        // Kept in the engine's memo for every image: no spare capacity.
        steps.shrink_to_fit();
        stages.push(ResolvedStage {
            index,
            name,
            line: syn.from.line,
            base,
            from_text,
            steps,
        });
    }

    let target = match target {
        None => stages.len() - 1,
        Some(t) => stage_by_name(&names, t).ok_or_else(|| {
            err(
                file,
                1,
                format!(
                    "target stage `{t}` is not defined (stages: {})",
                    names
                        .iter()
                        .enumerate()
                        .map(|(i, n)| n.clone().unwrap_or_else(|| format!("#{i}")))
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })?,
    };
    stages.shrink_to_fit();
    Ok(Resolved { stages, target })
}

fn stage_by_name(names: &[Option<String>], name: &str) -> Option<usize> {
    let lower = name.to_ascii_lowercase();
    names
        .iter()
        .position(|n| n.as_deref() == Some(lower.as_str()))
}

/// `ARG a=1 b` -> [("a", Some("1")), ("b", None)]
fn arg_decls(file: &str, ins: &Instruction) -> Result<Vec<(String, Option<String>)>> {
    let words = split_words(&ins.rest);
    if words.is_empty() {
        return Err(err(file, ins.line, "`ARG` needs a name"));
    }
    Ok(words
        .into_iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (w, None),
        })
        .collect())
}

/// ENV/LABEL pairs, in both `k=v k2=v2` and legacy `k value with spaces` forms.
fn key_values(file: &str, ins: &Instruction, vars: &Env) -> Result<Vec<(String, String)>> {
    let words = split_words(&ins.rest);
    let Some(first) = words.first() else {
        return Err(err(
            file,
            ins.line,
            format!("`{}` needs a key and a value", ins.keyword),
        ));
    };
    if !first.contains('=') {
        let value = ins.rest.trim()[first.len()..].trim();
        return Ok(vec![(
            process_word(first, vars, '\\'),
            process_word(value, vars, '\\'),
        )]);
    }
    let mut out = Vec::new();
    for w in &words {
        let Some((k, v)) = w.split_once('=') else {
            return Err(err(
                file,
                ins.line,
                format!("`{}` expects `key=value` pairs, got `{w}`", ins.keyword),
            ));
        };
        out.push((process_word(k, vars, '\\'), process_word(v, vars, '\\')));
    }
    Ok(out)
}

fn copy_spec(
    file: &str,
    ins: &Instruction,
    vars: &Env,
    names: &[Option<String>],
    index: usize,
) -> Result<CopySpec> {
    let words: Vec<String> = match json_array(&ins.rest) {
        Some(w) => w.iter().map(|w| process_word_unquoted(w, vars)).collect(),
        None => split_words(&ins.rest)
            .iter()
            .map(|w| process_word(w, vars, '\\'))
            .collect(),
    };
    if words.len() < 2 {
        return Err(err(
            file,
            ins.line,
            format!(
                "`{}` needs at least one source and a destination",
                ins.keyword
            ),
        ));
    }
    let from = ins
        .flags
        .iter()
        .find(|(k, _)| k == "from")
        .map(|(_, v)| {
            let v = process_word(v.as_deref().unwrap_or(""), vars, '\\');
            match v.parse::<usize>() {
                Ok(i) if i < index => Ok(CopyFrom::Stage(i)),
                Ok(i) => Err(err(
                    file,
                    ins.line,
                    format!("`--from={i}` must name an earlier stage"),
                )),
                Err(_) => Ok(match stage_by_name(names, &v) {
                    Some(i) => CopyFrom::Stage(i),
                    None => CopyFrom::External(v),
                }),
            }
        })
        .transpose()?;
    let (dest, sources) = words.split_last().expect("at least two words");
    let flags = ins
        .flags
        .iter()
        .filter(|(k, _)| k != "from")
        .map(|(k, v)| (k.clone(), v.as_ref().map(|v| process_word(v, vars, '\\'))))
        .collect();
    Ok(CopySpec {
        add: ins.keyword == "ADD",
        from,
        sources: sources.to_vec(),
        dest: dest.clone(),
        flags,
    })
}

/// Splits on whitespace outside quotes, keeping quotes and escapes in the words.
pub fn split_words(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, c) if c.is_whitespace() => {
                if !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                }
            }
            (None, '\'' | '"') => {
                quote = Some(c);
                cur.push(c);
            }
            (Some(q), c) if c == q => {
                quote = None;
                cur.push(c);
            }
            (q, '\\') if q != Some('\'') => {
                cur.push('\\');
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            (_, c) => cur.push(c),
        }
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
}

/// Expands `$VAR`, `${VAR}`, `${VAR:-x}`, `${VAR-x}`, `${VAR:+x}`, `${VAR+x}` and removes quotes,
/// as Docker's word processing does (no expansion inside single quotes).
pub fn process_word(word: &str, vars: &Env, escape: char) -> String {
    let chars: Vec<char> = word.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    let mut quote: Option<char> = None;
    while i < chars.len() {
        let c = chars[i];
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (Some('\''), c) => out.push(c),
            (_, c) if c == escape => {
                if let Some(&n) = chars.get(i + 1) {
                    if quote == Some('"') && !matches!(n, '"' | '$' | '\\') {
                        out.push(c);
                    }
                    out.push(n);
                    i += 1;
                }
            }
            (_, '$') => {
                let (value, used) = expand_at(&chars[i + 1..], vars, escape);
                match used {
                    0 => out.push('$'),
                    n => {
                        out.push_str(&value);
                        i += n;
                    }
                }
            }
            (_, c) => out.push(c),
        }
        i += 1;
    }
    out
}

/// Expansion without quote processing (for JSON-form arguments, already unquoted).
fn process_word_unquoted(word: &str, vars: &Env) -> String {
    let chars: Vec<char> = word.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '$' {
            let (value, used) = expand_at(&chars[i + 1..], vars, '\\');
            if used > 0 {
                out.push_str(&value);
                i += used + 1;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// Expands the variable reference after a `$`; returns the value and the chars consumed.
fn expand_at(rest: &[char], vars: &Env, escape: char) -> (String, usize) {
    let lookup = |name: &str| vars.get(name).cloned();
    if rest.first() == Some(&'{') {
        let Some(close) = matching_brace(rest) else {
            return (String::new(), 0);
        };
        let inner: String = rest[1..close].iter().collect();
        let name_end = inner
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(inner.len());
        let (name, modifier) = inner.split_at(name_end);
        let value = lookup(name);
        let expanded = |w: &str| process_word(w, vars, escape);
        let result = if let Some(w) = modifier.strip_prefix(":-") {
            match value.filter(|v| !v.is_empty()) {
                Some(v) => v,
                None => expanded(w),
            }
        } else if let Some(w) = modifier.strip_prefix(":+") {
            match value.filter(|v| !v.is_empty()) {
                Some(_) => expanded(w),
                None => String::new(),
            }
        } else if let Some(w) = modifier.strip_prefix('-') {
            value.unwrap_or_else(|| expanded(w))
        } else if let Some(w) = modifier.strip_prefix('+') {
            value.map(|_| expanded(w)).unwrap_or_default()
        } else {
            value.unwrap_or_default()
        };
        (result, close + 1)
    } else {
        let len = rest
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric() || **c == '_')
            .count();
        if len == 0 {
            return (String::new(), 0);
        }
        let name: String = rest[..len].iter().collect();
        (lookup(&name).unwrap_or_default(), len)
    }
}

fn matching_brace(rest: &[char]) -> Option<usize> {
    let mut depth = 0;
    for (i, c) in rest.iter().enumerate() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// A JSON array of strings, if `s` is one.
fn json_array(s: &str) -> Option<Vec<String>> {
    let t = s.trim();
    if !t.starts_with('[') {
        return None;
    }
    serde_json::from_str::<Vec<String>>(t).ok()
}

/// Canonical form of a command: JSON form re-serialised, shell form with whitespace runs outside
/// quotes collapsed.
fn normalize_command(rest: &str) -> String {
    if let Some(words) = json_array(rest) {
        return serde_json::to_string(&words).expect("strings serialise");
    }
    let mut out = String::new();
    let mut quote: Option<char> = None;
    let mut pending_space = false;
    let mut escaped = false;
    for c in rest.trim().chars() {
        if escaped {
            out.push(c);
            escaped = false;
            continue;
        }
        match (quote, c) {
            (None, c) if c.is_whitespace() => {
                pending_space = true;
                continue;
            }
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (q, '\\') if q != Some('\'') => escaped = true,
            _ => {}
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        out.push(c);
    }
    out
}

/// Quotes a value for normalised text when it holds whitespace or quotes.
fn quote(s: &str) -> String {
    if s.is_empty()
        || s.chars()
            .any(|c| c.is_whitespace() || c == '"' || c == '\'')
    {
        serde_json::to_string(s).expect("strings serialise")
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn continuation_comments_and_stages() {
        let text = "# syntax=docker/dockerfile:1\nARG BASE=alpine:3.19\nFROM ${BASE} AS build\n# a comment\nCOPY src/ \\\n  # inner comment\n  /app/\nRUN make   all \\\n    && echo  'a  b'\nFROM scratch\nCOPY --from=build /app/bin /bin\n";
        let df = parse("Dockerfile", text).expect("parses");
        assert_eq!(df.stages.len(), 2);
        assert_eq!(df.stages[0].body[0].line, 5);
        let r = resolve(&df, &BTreeMap::new(), None).expect("resolves");
        assert_eq!(r.target, 1);
        assert_eq!(r.stages[0].base, Base::External("alpine:3.19".into()));
        assert_eq!(r.stages[0].steps[0].text, "COPY src/ /app/");
        assert_eq!(r.stages[0].steps[1].text, "RUN make all && echo 'a  b'");
        let copy = r.stages[1].steps[0].copy.as_ref().expect("copy");
        assert_eq!(copy.from, Some(CopyFrom::Stage(0)));
    }

    #[test]
    fn args_and_env_substitute() {
        let text = "ARG V=1\nFROM img:$V\nARG V\nARG DIR=src\nENV OUT=/opt/${DIR:-x} NAME=\"a b\"\nCOPY ${DIR}/ $OUT\nWORKDIR $OUT\n";
        let df = parse("Dockerfile", text).expect("parses");
        let r = resolve(&df, &args(&[("DIR", "lib")]), None).expect("resolves");
        let s = &r.stages[0];
        assert_eq!(s.base, Base::External("img:1".into()));
        let texts: Vec<&str> = s.steps.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "ARG V=1",
                "ARG DIR=lib",
                "ENV OUT=/opt/lib NAME=\"a b\"",
                "COPY lib/ /opt/lib",
                "WORKDIR /opt/lib"
            ]
        );
    }

    #[test]
    fn target_selects_stage() {
        let df = parse("Dockerfile", "FROM a AS one\nFROM b AS two\nFROM c\n").expect("parses");
        assert_eq!(
            resolve(&df, &BTreeMap::new(), Some("two"))
                .expect("ok")
                .target,
            1
        );
        let e = resolve(&df, &BTreeMap::new(), Some("nope")).expect_err("missing");
        assert!(
            e.to_string().contains("target stage `nope` is not defined"),
            "{e}"
        );
    }

    #[test]
    fn errors_name_lines() {
        let e = parse("d/Dockerfile", "FROM a\nCOPPY x y\n").expect_err("bad");
        assert_eq!(e.to_string(), "d/Dockerfile:2: unknown instruction `COPPY`");
        let e = parse("Dockerfile", "RUN x\n").expect_err("bad");
        assert_eq!(e.to_string(), "Dockerfile:1: `RUN` before the first `FROM`");
        let e = parse("Dockerfile", "# nothing\n").expect_err("bad");
        assert_eq!(e.to_string(), "Dockerfile:1: no `FROM` instruction");
    }

    #[test]
    fn comment_and_whitespace_changes_do_not_change_text() {
        let a = parse("D", "FROM a\nRUN x  &&  y\nCOPY  a  b\n").expect("a");
        let b = parse(
            "D",
            "# hi\nFROM   a\n\n# there\nRUN x && \\\n  y\ncopy a b\n",
        )
        .expect("b");
        let ra = resolve(&a, &BTreeMap::new(), None).expect("a");
        let rb = resolve(&b, &BTreeMap::new(), None).expect("b");
        assert_eq!(ra, rb.with_lines_of(&ra));
    }

    impl Resolved {
        fn with_lines_of(mut self, other: &Resolved) -> Resolved {
            for (s, o) in self.stages.iter_mut().zip(&other.stages) {
                s.line = o.line;
                for (st, ot) in s.steps.iter_mut().zip(&o.steps) {
                    st.line = ot.line;
                }
            }
            self
        }
    }
}
