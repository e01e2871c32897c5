//! werf.yaml as the engine reads it: its blob in the commit, its partials, `.Files`, and the
//! parsed config; each image's position in it.

use std::sync::Arc;

use crate::config::{parse, parse_with, TemplateInputs, WerfConfig};
use crate::context::{lookup, read_text};
use crate::db::{Db, Project};
use crate::error::{Error, Location, Result};
use crate::objects::ObjectId;
use crate::pattern::join;

/// Each image's position in werf.yaml, by name (finding an image is then constant time, not a
/// scan of every image: planning stays linear in the number of images).
#[salsa::tracked(returns(ref))]
pub fn image_positions(
    db: &dyn Db,
    project: Project,
) -> Result<Arc<std::collections::HashMap<String, usize>>> {
    let config = config(db, project).clone()?;
    Ok(Arc::new(
        config
            .images
            .iter()
            .enumerate()
            .map(|(i, img)| (img.name.clone(), i))
            .collect(),
    ))
}

/// werf.yaml's blob id at the project's root tree.
#[salsa::tracked(returns(ref))]
pub fn config_blob(db: &dyn Db, project: Project) -> Result<ObjectId> {
    let file = project.config_file(db);
    db.log_execution("config_blob", format_args!("{file}"));
    let path = join(project.prefix(db), file);
    match crate::paths::entry(db, project, &path)? {
        Some(e) if e.kind.is_file() => Ok(e.id),
        _ => Err(Error::MissingPath {
            at: Location {
                file: file.clone(),
                line: 0,
                column: 0,
            },
            what: "config file".into(),
            path: path.clone(),
            hint: Some("not in the commit: commit it, or use `--dev` for the work tree".into()),
        }),
    }
}

/// The parsed, validated werf.yaml.
#[salsa::tracked(returns(ref))]
pub fn config(db: &dyn Db, project: Project) -> Result<Arc<WerfConfig>> {
    let file = project.config_file(db);
    db.log_execution("config", format_args!("{file}"));
    let blob = config_blob(db, project).clone()?;
    let text = read_text(db.objects(), blob, file)?;
    if !text.contains("{{") {
        return parse(file, &text).map(Arc::new);
    }
    // A templated werf.yaml may read any project file (`.Files`), so it depends on the tree,
    // and on the environment it was given. That read is not recorded as a `paths::Read`: the
    // parsed config is all it passes on (see there).
    let root = project.root_tree(db);
    let prefix = project.prefix(db).clone();
    let env = project.template_env(db).clone();
    let objects = db.objects();
    let files =
        move |kind: &str, _: &gotemplate::Value, method: &str, args: &[gotemplate::Value]| {
            project_files_method(objects, root, &prefix, kind, method, args)
        };
    let partials = partials(
        objects,
        root,
        &project.prefix(db).clone(),
        env.templates_dir.as_deref().unwrap_or(".werf"),
    )?;
    let inputs = TemplateInputs {
        env: env.env.as_deref(),
        vars: Some(&env.vars),
        files: Some(&files),
        commit: env.commit.as_ref(),
        partials: &partials,
        giterminism: env.giterminism.as_ref(),
    };
    parse_with(file, &text, &inputs).map(Arc::new)
}

/// werf.yaml's partials: every `*.tmpl` below the templates folder (`.werf` in the project, or
/// `--config-templates-dir`), named by its path below that folder, as werf names them.
fn partials(
    objects: &dyn crate::objects::ObjectSource,
    root: ObjectId,
    prefix: &str,
    dir: &str,
) -> Result<Vec<(String, String, String)>> {
    let dir = dir.trim_end_matches('/');
    let Some(entry) = lookup(objects, root, &join(prefix, dir))? else {
        return Ok(Vec::new());
    };
    if entry.kind != crate::objects::EntryKind::Tree {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for (path, e) in crate::context::entries_below(objects, entry.id, "")? {
        let name = path.trim_start_matches('/').to_string();
        if e.kind.is_file() && name.ends_with(".tmpl") {
            let file = join(dir, &name);
            let text = read_text(objects, e.id, &file)?.to_string();
            out.push((name, file, text));
        }
    }
    out.sort();
    Ok(out)
}

/// werf's `.Files` in werf.yaml: `Get`, `Exists` and `Glob` over the project's committed files.
fn project_files_method(
    objects: &dyn crate::objects::ObjectSource,
    root: ObjectId,
    prefix: &str,
    kind: &str,
    method: &str,
    args: &[gotemplate::Value],
) -> Option<std::result::Result<gotemplate::Value, gotemplate::FuncError>> {
    use gotemplate::Value;
    if kind != "ProjectFiles" {
        return None;
    }
    let Some(Value::Str(arg)) = args.first() else {
        return Some(Err(format!("`.Files.{method}` wants a path").into()));
    };
    let read = |rel: &str| -> std::result::Result<Option<String>, gotemplate::FuncError> {
        match lookup(objects, root, &join(prefix, rel)).map_err(|e| e.to_string())? {
            Some(e) if e.kind.is_file() => read_text(objects, e.id, rel)
                .map(|t| Some(t.to_string()))
                .map_err(|e| e.to_string().into()),
            _ => Ok(None),
        }
    };
    Some(match method {
        "Get" => read(arg).and_then(|t| {
            t.map(Value::Str)
                .ok_or_else(|| format!("file `{arg}` is not in the commit").into())
        }),
        "Exists" => read(arg).map(|t| Value::Bool(t.is_some())),
        "Glob" => (|| {
            let glob = crate::pattern::Glob::new(arg);
            let tree = match lookup(objects, root, prefix).map_err(|e| e.to_string())? {
                Some(e) => e.id,
                None => return Ok(Value::map(Default::default())),
            };
            let mut out = std::collections::BTreeMap::new();
            for (path, e) in
                crate::context::entries_below(objects, tree, "").map_err(|e| e.to_string())?
            {
                let path = path.trim_start_matches('/').to_string();
                if e.kind.is_file() && glob.matches(&path) {
                    let text = read_text(objects, e.id, &path).map_err(|e| e.to_string())?;
                    out.insert(path, Value::Str(text.to_string()));
                }
            }
            Ok(Value::map(out))
        })(),
        _ => return None,
    })
}
