//! Helm's coalescing of the user's values with each chart's defaults: the user's values win, a
//! user's `null` deletes the key, maps merge key by key, a subchart's values live under its name
//! and receive the parent's `global`.

use serde_json::{Map, Value as Json};

use super::chart_error;
use super::instance::Instance;
use crate::error::Result;
use crate::pattern::join;

/// Helm's `CoalesceValues` (`merge` false) and `MergeValues` (`merge` true): `dest` (the
/// user's) over the chart's defaults, then each subchart's defaults under its name, with the
/// parent's `global` copied in.
pub fn coalesce(
    inst: &Instance,
    mut dest: Map<String, Json>,
    merge: bool,
) -> Result<Map<String, Json>> {
    coalesce_values(inst, &mut dest, merge);
    coalesce_deps(inst, dest, merge)
}

fn coalesce_values(inst: &Instance, v: &mut Map<String, Json>, merge: bool) {
    for (key, val) in &inst.values {
        match v.get_mut(key) {
            Some(Json::Null) if !merge => {
                // A user's null removes the default.
                v.remove(key);
            }
            Some(Json::Object(dest)) => {
                if let Json::Object(src) = val {
                    let child = inst.children.iter().any(|c| &c.name == key);
                    coalesce_tables(dest, src.clone(), merge || child);
                }
            }
            Some(_) => {}
            None => {
                v.insert(key.clone(), val.clone());
            }
        }
    }
}

fn coalesce_deps(
    inst: &Instance,
    mut dest: Map<String, Json>,
    merge: bool,
) -> Result<Map<String, Json>> {
    for sub in &inst.children {
        let mut sub_values = match dest.remove(&sub.name) {
            None | Some(Json::Null) => Map::new(),
            Some(Json::Object(m)) => m,
            Some(other) => {
                return Err(chart_error(
                    &join(&inst.chart.dir, "values.yaml"),
                    0,
                    0,
                    format!(
                        "type mismatch on {}: %!t({}={})",
                        sub.name,
                        go_kind(&other),
                        other
                    ),
                ))
            }
        };
        coalesce_globals(&mut sub_values, &dest);
        let coalesced = gotemplate::with_stack(|| coalesce(sub, sub_values, merge))?;
        dest.insert(sub.name.clone(), Json::Object(coalesced));
    }
    Ok(dest)
}

fn go_kind(v: &Json) -> &'static str {
    match v {
        Json::String(_) => "string",
        Json::Number(_) => "float64",
        Json::Bool(_) => "bool",
        Json::Array(_) => "[]interface {}",
        _ => "interface {}",
    }
}

/// Helm's `coalesceGlobals`: the parent's `global` over the subchart's (maps merged, the
/// parent's keys winning).
fn coalesce_globals(dest: &mut Map<String, Json>, src: &Map<String, Json>) {
    let mut dg = match dest.get("global") {
        None => Map::new(),
        Some(Json::Object(m)) => m.clone(),
        Some(_) => return,
    };
    let sg = match src.get("global") {
        None => Map::new(),
        Some(Json::Object(m)) => m.clone(),
        Some(_) => return,
    };
    for (key, val) in sg {
        match val {
            Json::Object(vv) => {
                let mut vv = vv;
                match dg.get(&key) {
                    None => {
                        dg.insert(key, Json::Object(vv));
                    }
                    Some(Json::Object(existing)) => {
                        coalesce_tables(&mut vv, existing.clone(), true);
                        dg.insert(key, Json::Object(vv));
                    }
                    Some(_) => {}
                }
            }
            other => {
                if !matches!(dg.get(&key), Some(Json::Object(_))) {
                    dg.insert(key, other);
                }
            }
        }
    }
    dest.insert("global".into(), Json::Object(dg));
}

/// Helm's `coalesceTablesFullKey`: `dst` is authoritative, `src` fills what it lacks; unless
/// merging, a null in `dst` over a non-null default removes the key.
pub fn coalesce_tables(dst: &mut Map<String, Json>, mut src: Map<String, Json>, merge: bool) {
    // Helm 4 deletes a key only when the user nulls a default that was not null itself.
    let defaulted: std::collections::HashSet<String> = src
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, _)| k.clone())
        .collect();
    for (key, val) in dst.iter() {
        if val.is_null() {
            src.insert(key.clone(), Json::Null);
        }
    }
    for (key, val) in src {
        match dst.get_mut(&key) {
            Some(Json::Null) if !merge && defaulted.contains(&key) => {
                dst.remove(&key);
            }
            Some(Json::Null) => {}
            None => {
                dst.insert(key, val);
            }
            Some(Json::Object(dv)) => {
                if let Json::Object(sv) = val {
                    gotemplate::with_stack(|| coalesce_tables(dv, sv, merge));
                }
            }
            Some(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Json) -> Map<String, Json> {
        match v {
            Json::Object(m) => m,
            _ => panic!("a map"),
        }
    }

    #[test]
    fn user_values_win_nulls_delete_and_tables_merge() {
        let mut dst = map(json!({"a": 1, "gone": null, "t": {"x": 1, "drop": null}}));
        coalesce_tables(
            &mut dst,
            map(json!({"a": 2, "b": 3, "gone": 4, "t": {"y": 2, "drop": 5}})),
            false,
        );
        assert_eq!(
            Json::Object(dst),
            json!({"a": 1, "b": 3, "t": {"x": 1, "y": 2}})
        );
        let mut kept = map(json!({"gone": null}));
        coalesce_tables(&mut kept, map(json!({"gone": 4})), true);
        assert_eq!(
            Json::Object(kept),
            json!({"gone": null}),
            "merging keeps nulls"
        );
    }
}
