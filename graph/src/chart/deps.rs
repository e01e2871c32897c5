//! Chart dependencies as Helm processes them before rendering (`ProcessDependenciesWithMerge`):
//! which subcharts are enabled (`tags`, then `condition`, read from the coalesced values),
//! under which names (each `alias` is a copy of the chart), and the values children export to
//! their parent (`import-values`, both forms). A declared dependency that is enabled but not in
//! `charts/` is an error, as Helm's.

use std::sync::Arc;

use serde_json::{Map, Value as Json};

use super::coalesce::{coalesce, coalesce_tables};
pub use super::instance::Instance;
use super::values::table;
use super::{chart_error, Chart};
use crate::error::Result;
use crate::pattern::join;

/// The root chart with Helm's dependency processing done for the user's values `user`.
pub fn process(root: &Arc<Chart>, user: &Map<String, Json>) -> Result<Instance> {
    check_present(root)?;
    let mut inst = Instance::new(root.clone(), root.name.clone(), None);
    enable(&mut inst, user, "")?;
    import_values(&mut inst)?;
    Ok(inst)
}

/// Helm's `CheckDependencies` for the top chart: every declared dependency, enabled or not,
/// must be in `charts/` (by name).
fn check_present(root: &Chart) -> Result<()> {
    let missing: Vec<&str> = root
        .absent_dependencies()
        .into_iter()
        .map(|d| field(d, "name"))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(chart_error(
        &join(&root.dir, "Chart.yaml"),
        0,
        0,
        format!(
            "found in Chart.yaml, but missing in charts/ directory: {} (run `werf helm dependency build`)",
            missing.join(", ")
        ),
    ))
}

fn field<'a>(dep: &'a Json, key: &str) -> &'a str {
    dep.get(key).and_then(|v| v.as_str()).unwrap_or("")
}

/// Helm's `IsCompatibleRange`: an unparsable version or constraint never matches.
fn compatible(constraint: &str, version: &str) -> bool {
    gotemplate::semver::matches(constraint, version).unwrap_or(false)
}

/// Helm's `processDependencyEnabled`.
fn enable(inst: &mut Instance, values: &Map<String, Json>, path: &str) -> Result<()> {
    let Some(deps) = inst.dependencies.clone() else {
        return Ok(());
    };
    let loaded = std::mem::take(&mut inst.children);
    let declared = |c: &Instance| {
        deps.iter().any(|d| {
            c.chart.name == field(d, "name")
                && compatible(field(d, "version"), c.chart.field("version"))
        })
    };
    let mut children: Vec<Instance> = loaded.iter().filter(|c| !declared(c)).cloned().collect();
    let mut records = Vec::new();
    for dep in &deps {
        let (name, alias) = (field(dep, "name"), field(dep, "alias"));
        let found = loaded.iter().find(|c| {
            c.chart.name == name && compatible(field(dep, "version"), c.chart.field("version"))
        });
        if let Some(c) = found {
            let mut copy = c.clone();
            let shown = if alias.is_empty() { name } else { alias };
            copy.rename(shown, &inst.path);
            children.push(copy);
        }
        let mut record = dep.clone();
        if let Json::Object(m) = &mut record {
            if !alias.is_empty() {
                m.insert("name".into(), Json::String(alias.to_string()));
            }
            m.insert("enabled".into(), Json::Bool(true));
        }
        records.push(record);
    }
    inst.children = children;
    let cvals = coalesce(inst, values.clone(), false)?;
    for record in &mut records {
        let enabled = tags_enable(record, &cvals).unwrap_or(true);
        let enabled = condition_enables(record, &cvals, path).unwrap_or(enabled);
        if let Json::Object(m) = record {
            m.insert("enabled".into(), Json::Bool(enabled));
        }
    }
    let disabled: Vec<String> = records
        .iter()
        .filter(|r| r.get("enabled") == Some(&Json::Bool(false)))
        .map(|r| field(r, "name").to_string())
        .collect();
    inst.children.retain(|c| !disabled.contains(&c.name));
    let kept: Vec<Json> = records
        .into_iter()
        .filter(|r| !disabled.contains(&field(r, "name").to_string()))
        .collect();
    for child in &mut inst.children {
        let sub = format!("{path}{}.", child.name);
        gotemplate::with_stack(|| enable(child, &cvals, &sub))?;
    }
    inst.dependencies = Some(kept);
    Ok(())
}

/// Helm's `processDependencyTags`: any true tag enables, only false tags disable.
fn tags_enable(dep: &Json, values: &Map<String, Json>) -> Option<bool> {
    let tags = table(values, "tags")?;
    let (mut has_true, mut has_false) = (false, false);
    for t in dep
        .get("tags")
        .and_then(|t| t.as_array())
        .into_iter()
        .flatten()
    {
        match t.as_str().and_then(|k| tags.get(k)) {
            Some(Json::Bool(true)) => has_true = true,
            Some(Json::Bool(false)) => has_false = true,
            _ => {}
        }
    }
    Some(has_true || !has_false)
}

/// Helm's `processDependencyConditions`: the first condition path holding a boolean decides.
fn condition_enables(dep: &Json, values: &Map<String, Json>, path: &str) -> Option<bool> {
    field(dep, "condition")
        .trim()
        .split(',')
        .filter(|c| !c.is_empty())
        .find_map(
            |c| match super::values::path_value(values, &format!("{path}{c}")) {
                Some(Json::Bool(b)) => Some(*b),
                _ => None,
            },
        )
}

/// Helm's `processDependencyImportValues` with merging: children first, then each chart takes
/// the tables its dependencies export into its own defaults (its own values winning).
fn import_values(inst: &mut Instance) -> Result<()> {
    for child in &mut inst.children {
        gotemplate::with_stack(|| import_values(child))?;
    }
    let Some(deps) = inst.dependencies.clone() else {
        return Ok(());
    };
    let cvals = coalesce(inst, Map::new(), true)?;
    let mut imported = Map::new();
    let mut records = Vec::new();
    for dep in deps {
        let name = field(&dep, "name").to_string();
        let mut normalized = Vec::new();
        for iv in dep
            .get("import-values")
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
        {
            match iv {
                Json::Object(m) => {
                    let text = |k: &str| match m.get(k) {
                        Some(Json::String(s)) => s.clone(),
                        Some(other) => other.to_string(),
                        None => String::new(),
                    };
                    let (child, parent) = (text("child"), text("parent"));
                    normalized.push(serde_json::json!({"child": child, "parent": parent}));
                    if let Some(vv) = table(&cvals, &format!("{name}.{child}")) {
                        coalesce_tables(&mut imported, path_to_map(&parent, vv.clone()), true);
                    }
                }
                Json::String(s) => {
                    let child = format!("exports.{s}");
                    normalized.push(serde_json::json!({"child": child, "parent": "."}));
                    if let Some(vm) = table(&cvals, &format!("{name}.{child}")) {
                        coalesce_tables(&mut imported, vm.clone(), true);
                    }
                }
                _ => {}
            }
        }
        let mut record = dep.clone();
        if let Json::Object(m) = &mut record {
            if !normalized.is_empty() {
                m.insert("import-values".into(), Json::Array(normalized));
            }
        }
        records.push(record);
    }
    let mut values = cvals;
    coalesce_tables(&mut values, imported, true);
    inst.values = values;
    inst.dependencies = Some(records);
    Ok(())
}

/// Helm's `pathToMap`: `a.b` and a table become `{a: {b: table}}`; `.` is the table itself.
fn path_to_map(path: &str, data: Map<String, Json>) -> Map<String, Json> {
    if path == "." {
        return data;
    }
    let mut out = data;
    for key in path.split('.').filter(|k| !k.is_empty()).rev() {
        let mut m = Map::new();
        m.insert(key.to_string(), Json::Object(out));
        out = m;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn chart(name: &str, meta: Json, values: Json, subcharts: Vec<Arc<Chart>>) -> Arc<Chart> {
        let Json::Object(values) = values else {
            panic!("a map")
        };
        let mut meta = meta;
        meta["name"] = json!(name);
        meta["version"] = json!("1.0.0");
        Arc::new(Chart {
            dir: name.into(),
            name: name.into(),
            meta,
            values,
            schema: None,
            templates: Vec::new(),
            files: Default::default(),
            subcharts,
            lock: None,
        })
    }

    fn names(inst: &Instance) -> Vec<String> {
        inst.walk().iter().map(|i| i.path.clone()).collect()
    }

    #[test]
    fn tags_then_conditions_decide_and_aliases_copy() {
        let sub = chart("sub", json!({}), json!({"x": 1}), vec![]);
        let root = chart(
            "root",
            json!({"dependencies": [
                {"name": "sub", "version": "1.x", "condition": "sub.enabled", "tags": ["t"]},
                {"name": "sub", "version": "1.x", "alias": "copy", "tags": ["t"]},
                {"name": "sub", "version": "2.x", "alias": "wrong-version"},
            ]}),
            json!({"tags": {"t": false}, "sub": {"enabled": true}}),
            vec![sub],
        );
        let inst = process(&root, &Map::new()).expect("processes");
        // `sub`: its condition (true) wins over its tag (false); `copy`: the false tag disables
        // it; `wrong-version` matches no chart of charts/.
        assert_eq!(names(&inst), ["root", "root/charts/sub"]);
        let user = json!({"tags": {"t": true}, "sub": {"enabled": false}});
        let Json::Object(user) = user else {
            unreachable!()
        };
        let inst = process(&root, &user).expect("processes");
        assert_eq!(names(&inst), ["root", "root/charts/copy"]);
    }

    #[test]
    fn import_values_bring_exports_and_tables_up_with_the_parent_winning() {
        let sub = chart(
            "sub",
            json!({}),
            json!({"exports": {"shared": {"a": 1, "b": 2}}, "deep": {"c": 3}}),
            vec![],
        );
        let root = chart(
            "root",
            json!({"dependencies": [{"name": "sub", "version": "1.0.0", "import-values": ["shared", {"child": "deep", "parent": "here.there"}]}]}),
            json!({"b": "parent"}),
            vec![sub],
        );
        let inst = process(&root, &Map::new()).expect("processes");
        assert_eq!(inst.values["a"], json!(1));
        assert_eq!(inst.values["b"], json!("parent"));
        assert_eq!(inst.values["here"], json!({"there": {"c": 3}}));
    }

    #[test]
    fn a_declared_dependency_missing_from_charts_is_an_error() {
        let root = chart(
            "root",
            json!({"dependencies": [{"name": "absent", "version": "1.0.0", "condition": "off"}]}),
            json!({"off": false}),
            vec![],
        );
        let e = process(&root, &Map::new()).expect_err("missing");
        assert!(
            e.to_string()
                .contains("missing in charts/ directory: absent"),
            "{e}"
        );
    }
}
