//! The methods of the objects charts see: `.Files` (`Get`, `GetBytes`, `Glob`, `Lines`,
//! `AsConfig`, `AsSecrets`, over the chart's files as bytes), `.Capabilities.APIVersions.Has`,
//! `.Capabilities.KubeVersion.GitVersion` and `.Capabilities.HelmVersion`'s fields.

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use gotemplate::value::OBJECT_KIND;
use gotemplate::Value;

use crate::pattern::Glob;

/// `.Files`: as Go's `engine.files`, a map from each path to its bytes (so `range` and `index`
/// work on it), marked as an object for its methods.
pub fn files(files: &BTreeMap<String, Arc<[u8]>>) -> Value {
    let entries = files
        .iter()
        .map(|(k, v)| (k.clone(), Value::Bytes(v.clone())))
        .collect();
    files_value(entries)
}

fn files_value(mut entries: BTreeMap<String, Value>) -> Value {
    entries.insert(OBJECT_KIND.to_string(), Value::Str("Files".into()));
    Value::map(entries)
}

fn bytes_of(v: &Value) -> &[u8] {
    match v {
        Value::Bytes(b) => b,
        Value::Str(s) => s.as_bytes(),
        _ => &[],
    }
}

/// A method of a chart object; `None` when the object has no such method. `api_versions` is
/// the list that `.Capabilities.APIVersions` is.
pub fn method(
    api_versions: &Value,
    kind: &str,
    receiver: &Value,
    name: &str,
    args: &[Value],
) -> Option<Result<Value, gotemplate::FuncError>> {
    match kind {
        "Files" => files_method(receiver, name, args),
        "list" if name == "Has" && same_list(receiver, api_versions) => Some(match args {
            [Value::Str(v)] => Ok(Value::Bool(
                matches!(receiver, Value::List(l) if l.iter().any(|x| matches!(x, Value::Str(s) if s == v))),
            )),
            [other] => Err(format!(
                "wrong type for value; expected string; got {}",
                gotemplate::sprig::go_type(other)
            )
            .into()),
            _ => Err(format!("wrong number of args for Has: want 1 got {}", args.len()).into()),
        }),
        "KubeVersion" if name == "GitVersion" => Some(Ok(field(receiver, "Version"))),
        "BuildInfo" => {
            let f = match name {
                "Version" => "version",
                "GoVersion" => "go_version",
                "KubeClientVersion" => "kube_client_version",
                "GitCommit" | "GitTreeState" => return Some(Ok(Value::Str(String::new()))),
                _ => return None,
            };
            Some(Ok(field(receiver, f)))
        }
        _ => None,
    }
}

/// gobwas/glob's alternatives: `a.{conf,ini}` is `a.conf` or `a.ini` (nested braces expand too;
/// at most 1,000 patterns, so a hostile pattern cannot explode).
fn braces(pattern: &str) -> Vec<String> {
    let mut out = vec![pattern.to_string()];
    let mut i = 0;
    while i < out.len() && out.len() <= 1000 {
        let p = out[i].clone();
        let Some(open) = p.find('{') else {
            i += 1;
            continue;
        };
        let mut depth = 0;
        let mut close = None;
        let mut commas = Vec::new();
        for (j, c) in p[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        close = Some(open + j);
                        break;
                    }
                }
                ',' if depth == 1 => commas.push(open + j),
                _ => {}
            }
        }
        let Some(close) = close else {
            i += 1;
            continue;
        };
        let mut bounds = vec![open];
        bounds.extend(commas);
        bounds.push(close);
        let expanded: Vec<String> = bounds
            .windows(2)
            .map(|w| format!("{}{}{}", &p[..open], &p[w[0] + 1..w[1]], &p[close + 1..]))
            .collect();
        out.splice(i..=i, expanded);
    }
    out
}

fn same_list(a: &Value, b: &Value) -> bool {
    matches!((a, b), (Value::List(x), Value::List(y)) if Arc::ptr_eq(x, y))
}

fn field(v: &Value, key: &str) -> Value {
    match v {
        Value::Map(m) => m.get(key).cloned().unwrap_or(Value::Nil),
        _ => Value::Nil,
    }
}

/// Helm's `.Files` methods (`pkg/engine/files.go`).
fn files_method(
    receiver: &Value,
    method: &str,
    args: &[Value],
) -> Option<Result<Value, gotemplate::FuncError>> {
    let files: BTreeMap<String, Value> = match receiver {
        Value::Map(f) => f
            .iter()
            .filter(|(k, _)| !gotemplate::value::hidden(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        _ => BTreeMap::new(),
    };
    let arg = |i: usize| match args.get(i) {
        Some(Value::Str(s)) => Ok(s.clone()),
        Some(other) => Err(gotemplate::FuncError::from(format!(
            "wrong type for value; expected string; got {}",
            gotemplate::sprig::go_type(other)
        ))),
        None => Err(format!("wrong number of args for {method}: want 1 got 0").into()),
    };
    let by_base = |encode: &dyn Fn(&[u8]) -> String| {
        let m: BTreeMap<String, Value> = files
            .iter()
            .map(|(k, v)| {
                let base = k.rsplit('/').next().unwrap_or(k).to_string();
                (base, Value::Str(encode(bytes_of(v))))
            })
            .collect();
        gotemplate::yaml::to_yaml(&Value::map(m))
    };
    Some(match method {
        // A Go string holds any bytes: a file that is not UTF-8 comes back as its bytes, which
        // `b64enc` and the checksums read as they are.
        "Get" => arg(0).map(|p| match files.get(&p) {
            None => Value::Str(String::new()),
            Some(v) => match std::str::from_utf8(bytes_of(v)) {
                Ok(text) => Value::Str(text.to_string()),
                Err(_) => Value::Bytes(Arc::from(bytes_of(v))),
            },
        }),
        "GetBytes" => arg(0).map(|p| match files.get(&p) {
            Some(v) => Value::Bytes(Arc::from(bytes_of(v))),
            None => Value::Bytes(Arc::from(&[][..])),
        }),
        "Lines" => arg(0).map(|p| {
            let Some(v) = files.get(&p) else {
                return Value::list(Vec::new());
            };
            let text = String::from_utf8_lossy(bytes_of(v)).into_owned();
            let text = text.strip_suffix('\n').unwrap_or(&text);
            Value::list(text.split('\n').map(|l| Value::Str(l.into())).collect())
        }),
        "Glob" => arg(0).map(|pattern| {
            let globs: Vec<Glob> = braces(&pattern).iter().map(|p| Glob::new(p)).collect();
            files_value(
                files
                    .iter()
                    .filter(|(k, _)| globs.iter().any(|g| g.matches(k)))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            )
        }),
        "AsConfig" => Ok(Value::Str(by_base(&|b| {
            String::from_utf8_lossy(b).into_owned()
        }))),
        "AsSecrets" => Ok(Value::Str(by_base(&|b| {
            base64::engine::general_purpose::STANDARD.encode(b)
        }))),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_braces_expand_as_gobwas_does() {
        assert_eq!(braces("a.{conf,ini}"), ["a.conf", "a.ini"]);
        assert_eq!(braces("{x,y}/{1,2}"), ["x/1", "x/2", "y/1", "y/2"]);
        assert_eq!(braces("plain/*"), ["plain/*"]);
        assert_eq!(braces("open{"), ["open{"]);
        // A hostile pattern stops growing at the cap.
        let bomb = "{a,b}".repeat(40);
        assert!(braces(&bomb).len() <= 2000);
    }

    #[test]
    fn files_keep_their_bytes() {
        let mut m = BTreeMap::new();
        m.insert(
            "bin".to_string(),
            Arc::<[u8]>::from(&[0xff, 0x00, 0x41][..]),
        );
        m.insert("t.txt".to_string(), Arc::<[u8]>::from(&b"x\ny\n"[..]));
        let f = files(&m);
        let none = Value::Nil;
        let call = |name: &str, arg: &str| {
            method(&none, "Files", &f, name, &[Value::Str(arg.into())])
                .expect("a method")
                .expect("succeeds")
        };
        assert_eq!(
            call("GetBytes", "bin"),
            Value::Bytes(Arc::from(&[0xff, 0x00, 0x41][..]))
        );
        assert_eq!(
            call("Get", "bin"),
            Value::Bytes(Arc::from(&[0xff, 0x00, 0x41][..]))
        );
        assert_eq!(call("Get", "t.txt"), Value::Str("x\ny\n".into()));
        assert_eq!(
            call("Lines", "t.txt"),
            Value::list(vec![Value::Str("x".into()), Value::Str("y".into())])
        );
        let secrets = method(&none, "Files", &f, "AsSecrets", &[])
            .expect("method")
            .expect("ok");
        assert_eq!(secrets, Value::Str("bin: /wBB\nt.txt: eAp5Cg==".into()));
    }
}
