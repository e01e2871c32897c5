//! Sprig's path functions, as Go's `path` package (and `path/filepath` on Unix, for the `os*`
//! forms) computes them: `base`, `dir`, `ext`, `clean`, `isAbs`.

use crate::funcs::{arity, strval, FuncError, Funcs};
use crate::value::Value;

/// Go's `path.Clean`: the shortest equivalent path, lexically.
pub fn clean(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for comp in path.split('/') {
        match comp {
            "" | "." => {}
            ".." => match parts.last() {
                Some(&last) if last != ".." => {
                    parts.pop();
                }
                _ if rooted => {}
                _ => parts.push(".."),
            },
            c => parts.push(c),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// Go's `path.Base`: the last element, trailing slashes removed; `.` for an empty path.
pub fn base(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/".into();
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed).to_string()
}

/// Go's `path.Dir`: everything but the last element, cleaned.
pub fn dir(path: &str) -> String {
    let cut = path.rfind('/').map(|i| i + 1).unwrap_or(0);
    clean(&path[..cut])
}

/// Go's `path.Ext`: the suffix from the last `.` of the last element.
pub fn ext(path: &str) -> String {
    for (i, c) in path.char_indices().rev() {
        match c {
            '/' => break,
            '.' => return path[i..].to_string(),
            _ => {}
        }
    }
    String::new()
}

/// Registers the path functions.
pub fn register(f: &mut Funcs) {
    fn one(a: &[Value], op: fn(&str) -> String) -> Result<Value, FuncError> {
        arity(a, 1)?;
        Ok(Value::Str(op(&strval(&a[0]))))
    }
    f.insert("base", |a| one(a, base));
    f.insert("dir", |a| one(a, dir));
    f.insert("ext", |a| one(a, ext));
    f.insert("clean", |a| one(a, clean));
    f.insert("isAbs", |a| {
        arity(a, 1)?;
        Ok(Value::Bool(strval(&a[0]).starts_with('/')))
    });
    // `path/filepath` on Unix computes the same.
    for (os, plain) in [
        ("osBase", "base"),
        ("osDir", "dir"),
        ("osExt", "ext"),
        ("osClean", "clean"),
        ("osIsAbs", "isAbs"),
    ] {
        f.alias(os, plain);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_go_computes_them() {
        for (p, c) in [
            ("", "."),
            ("a/b/../c/./d/", "a/c/d"),
            ("/../a", "/a"),
            ("../../a/..", "../.."),
            ("//a//b", "/a/b"),
        ] {
            assert_eq!(clean(p), c, "clean {p:?}");
        }
        assert_eq!(base("a/b.tar.gz"), "b.tar.gz");
        assert_eq!(base("/"), "/");
        assert_eq!(base("a/b//"), "b");
        assert_eq!(dir("a/b/c"), "a/b");
        assert_eq!(dir("c"), ".");
        assert_eq!(dir("/c"), "/");
        assert_eq!(ext("a/b.tar.gz"), ".gz");
        assert_eq!(ext("a.d/b"), "");
    }
}
