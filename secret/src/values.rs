//! Secret values files (`secret-values.yaml`, `--secret-values`): every scalar leaf encrypted on
//! its own, keys and structure plain, `null` left alone. As werf v3 writes them (format version
//! 3), a leaf's plaintext carries its YAML tag and style (`tag NUL style NUL value`), so
//! `port: 5432` comes back a number. Read as every common-go revision wrote them: version 3 is
//! always framed; version 2 is framed in some revisions and the raw value in others (or a whole
//! file's ciphertext used as a value), so it is unframed only when the plaintext is a well-formed
//! frame; legacy (version 16) leaves come back as strings.
//!
//! The document is read into a small tree that keeps each scalar's tag and style (yaml.v3's
//! numbering), and written back in block style. Comments are not kept.

use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::TScalarStyle;

use super::cipher::{self, Key, VERSION_GCM, VERSION_GCM_YAML};

/// Deepest nesting accepted.
const MAX_DEPTH: usize = 200;
/// Most nodes aliases may copy.
const MAX_ALIAS_NODES: usize = 100_000;

/// yaml.v3's style bits.
pub const STYLE_TAGGED: u32 = 1;
pub const STYLE_DOUBLE: u32 = 2;
pub const STYLE_SINGLE: u32 = 4;
pub const STYLE_LITERAL: u32 = 8;
pub const STYLE_FOLDED: u32 = 16;

/// A scalar with its short tag (`!!str`, `!!int`, ... or a local tag) and style.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scalar {
    pub tag: String,
    pub style: u32,
    pub value: String,
}

/// A YAML node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    Scalar(Scalar),
    Seq(Vec<Node>),
    Map(Vec<(Scalar, Node)>),
}

impl Node {
    fn size(&self) -> usize {
        let mut n = 0;
        let mut stack = vec![self];
        while let Some(x) = stack.pop() {
            n += 1;
            match x {
                Node::Seq(items) => stack.extend(items),
                Node::Map(entries) => stack.extend(entries.iter().map(|(_, v)| v)),
                Node::Scalar(_) => {}
            }
        }
        n
    }
}

/// Why a secret values file could not be used. Messages name the key path, never a value.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("line {line}: {message}")]
    Yaml { line: usize, message: String },
    #[error("`{path}`: cannot decrypt")]
    Decrypt {
        path: String,
        #[source]
        source: cipher::Error,
    },
    #[error("`{path}`: cannot encrypt")]
    Encrypt {
        path: String,
        #[source]
        source: cipher::Error,
    },
    #[error("`{path}`: a {tag} value where an encrypted (hex string) value belongs")]
    NotEncrypted { path: String, tag: String },
    #[error("`{path}`: the decrypted value is not YAML scalar data as werf frames it (malformed encrypted scalar payload)")]
    Malformed { path: String },
}

/// The short tag yaml.v3 resolves a plain, untagged scalar to.
pub fn resolve(value: &str) -> &'static str {
    match value {
        "" | "~" | "null" | "Null" | "NULL" => return "!!null",
        "true" | "True" | "TRUE" | "false" | "False" | "FALSE" => return "!!bool",
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" | "-.inf" | "-.Inf" | "-.INF"
        | ".nan" | ".NaN" | ".NAN" => return "!!float",
        _ => {}
    }
    let unsigned = value.strip_prefix(['-', '+']).unwrap_or(value);
    let all = |s: &str, f: fn(char) -> bool| !s.is_empty() && s.chars().all(f);
    let int = if let Some(h) = unsigned.strip_prefix("0x") {
        all(h, |c| c.is_ascii_hexdigit())
    } else if let Some(o) = unsigned.strip_prefix("0o") {
        all(o, |c| ('0'..='7').contains(&c))
    } else if let Some(b) = unsigned.strip_prefix("0b") {
        all(b, |c| c == '0' || c == '1')
    } else {
        all(unsigned, |c| c.is_ascii_digit())
    };
    if int {
        return "!!int";
    }
    // [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(i) => (&unsigned[..i], Some(&unsigned[i + 1..])),
        None => (unsigned, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some((a, b)) => {
            (a.is_empty() && all(b, |c| c.is_ascii_digit()))
                || (all(a, |c| c.is_ascii_digit()) && b.chars().all(|c| c.is_ascii_digit()))
        }
        None => all(mantissa, |c| c.is_ascii_digit()),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        all(e, |c| c.is_ascii_digit())
    });
    if mantissa_ok && exponent_ok {
        return "!!float";
    }
    if is_timestamp(value) {
        return "!!timestamp";
    }
    "!!str"
}

fn is_timestamp(v: &str) -> bool {
    let b = v.as_bytes();
    let digits = |s: &[u8]| !s.is_empty() && s.iter().all(u8::is_ascii_digit);
    let mut parts = v.splitn(3, '-');
    let (Some(y), Some(m), Some(rest)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let day_len = rest.bytes().take_while(u8::is_ascii_digit).count();
    let after = &rest[day_len..];
    y.len() == 4
        && digits(y.as_bytes())
        && (1..=2).contains(&m.len())
        && digits(m.as_bytes())
        && (1..=2).contains(&day_len)
        && (after.is_empty() || (after.starts_with(['T', 't', ' ']) && b.len() > 10))
}

fn short_tag(tag: &Tag) -> String {
    if tag.handle == "tag:yaml.org,2002:" || tag.handle == "!!" {
        format!("!!{}", tag.suffix)
    } else {
        format!("{}{}", tag.handle, tag.suffix)
    }
}

fn scalar_of(value: String, style: TScalarStyle, tag: Option<&Tag>) -> Scalar {
    let mut bits = match style {
        TScalarStyle::Plain => 0,
        TScalarStyle::SingleQuoted => STYLE_SINGLE,
        TScalarStyle::DoubleQuoted => STYLE_DOUBLE,
        TScalarStyle::Literal => STYLE_LITERAL,
        TScalarStyle::Folded => STYLE_FOLDED,
    };
    let tag = match tag {
        Some(t) => {
            bits |= STYLE_TAGGED;
            short_tag(t)
        }
        None if style == TScalarStyle::Plain => resolve(&value).to_string(),
        None => "!!str".to_string(),
    };
    Scalar {
        tag,
        style: bits,
        value,
    }
}

enum Frame {
    Seq(Vec<Node>, usize),
    Map(Vec<(Scalar, Node)>, Option<Scalar>, usize),
}

/// Reads the first document of `text` (an empty file is an empty map).
pub fn parse(text: &str) -> Result<Node, Error> {
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: std::collections::HashMap<usize, Node> = Default::default();
    let mut copied = 0usize;
    let mut root: Option<Node> = None;
    loop {
        let (event, mark) = parser.next_token().map_err(|e| Error::Yaml {
            line: e.marker().line(),
            message: e.info().to_string(),
        })?;
        let line = mark.line();
        let node = match event {
            Event::StreamEnd | Event::DocumentEnd => break,
            Event::StreamStart | Event::DocumentStart | Event::Nothing => continue,
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(Error::Yaml {
                        line,
                        message: format!("nested more than {MAX_DEPTH} levels deep"),
                    });
                }
                stack.push(if matches!(event, Event::SequenceStart(..)) {
                    Frame::Seq(Vec::new(), anchor)
                } else {
                    Frame::Map(Vec::new(), None, anchor)
                });
                continue;
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq(items, anchor)) => remember(&mut anchors, anchor, Node::Seq(items)),
                _ => {
                    return Err(Error::Yaml {
                        line,
                        message: "unbalanced sequence".into(),
                    })
                }
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map(entries, _, anchor)) => {
                    remember(&mut anchors, anchor, Node::Map(entries))
                }
                _ => {
                    return Err(Error::Yaml {
                        line,
                        message: "unbalanced mapping".into(),
                    })
                }
            },
            Event::Alias(id) => {
                let node = anchors.get(&id).cloned().ok_or_else(|| Error::Yaml {
                    line,
                    message: "unknown anchor referenced".into(),
                })?;
                copied += node.size();
                if copied > MAX_ALIAS_NODES {
                    return Err(Error::Yaml {
                        line,
                        message: format!("aliases expand past {MAX_ALIAS_NODES} nodes"),
                    });
                }
                node
            }
            Event::Scalar(value, style, anchor, tag) => remember(
                &mut anchors,
                anchor,
                Node::Scalar(scalar_of(value, style, tag.as_ref())),
            ),
        };
        match stack.last_mut() {
            None => root = Some(node),
            Some(Frame::Seq(items, _)) => items.push(node),
            Some(Frame::Map(entries, key, _)) => match key.take() {
                None => match node {
                    Node::Scalar(s) => *key = Some(s),
                    _ => {
                        return Err(Error::Yaml {
                            line,
                            message: "a mapping key that is not a scalar".into(),
                        })
                    }
                },
                Some(k) => entries.push((k, node)),
            },
        }
    }
    Ok(match root {
        None => Node::Map(Vec::new()),
        Some(Node::Scalar(s)) if s.tag == "!!null" => Node::Map(Vec::new()),
        Some(n) => n,
    })
}

fn remember(
    anchors: &mut std::collections::HashMap<usize, Node>,
    anchor: usize,
    node: Node,
) -> Node {
    if anchor > 0 {
        anchors.insert(anchor, node.clone());
    }
    node
}

/// Applies `f` to every scalar leaf (not keys), with its dotted path.
fn map_leaves(
    node: Node,
    path: &str,
    f: &mut dyn FnMut(Scalar, &str) -> Result<Scalar, Error>,
) -> Result<Node, Error> {
    Ok(match node {
        Node::Scalar(s) => Node::Scalar(f(s, path)?),
        Node::Seq(items) => Node::Seq(
            items
                .into_iter()
                .enumerate()
                .map(|(i, n)| map_leaves(n, &format!("{path}[{i}]"), f))
                .collect::<Result<_, _>>()?,
        ),
        Node::Map(entries) => Node::Map(
            entries
                .into_iter()
                .map(|(k, v)| {
                    let p = if path.is_empty() {
                        k.value.clone()
                    } else {
                        format!("{path}.{}", k.value)
                    };
                    map_leaves(v, &p, f).map(|v| (k, v))
                })
                .collect::<Result<_, _>>()?,
        ),
    })
}

fn frame(s: &Scalar) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(s.tag.as_bytes());
    out.push(0);
    out.extend_from_slice(s.style.to_string().as_bytes());
    out.push(0);
    out.extend_from_slice(s.value.as_bytes());
    out
}

/// The scalar in a frame, when `plain` is one: a tag (`!!int`, or a local `!tag`), a style
/// number yaml.v3 can have (its bits: tagged, double, single, literal, folded, flow), the value.
fn unframe(plain: &[u8]) -> Option<Scalar> {
    let mut parts = plain.splitn(3, |b| *b == 0);
    let (tag, style, value) = (parts.next()?, parts.next()?, parts.next()?);
    let tag = String::from_utf8(tag.to_vec()).ok()?;
    let well_formed_tag = tag.len() > 1
        && tag.starts_with('!')
        && !tag
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control());
    let style_text = std::str::from_utf8(style).ok()?;
    let style: u32 = style_text.parse().ok()?;
    if !well_formed_tag || style > 63 || style_text != style.to_string() {
        return None;
    }
    Some(Scalar {
        tag,
        style,
        value: String::from_utf8(value.to_vec()).ok()?,
    })
}

/// Encrypts every non-null leaf as werf v3 does: its tag and style framed in, format version 3.
pub fn encrypt(key: &Key, node: Node) -> Result<Node, Error> {
    map_leaves(node, "", &mut |s, path| {
        if s.tag == "!!null" {
            return Ok(s);
        }
        let sealed = cipher::encrypt_value(key, &frame(&s)).map_err(|source| Error::Encrypt {
            path: path.to_string(),
            source,
        })?;
        Ok(Scalar {
            tag: "!!str".into(),
            style: 0,
            value: sealed,
        })
    })
}

/// Decrypts every non-null leaf.
pub fn decrypt(key: &Key, node: Node) -> Result<Node, Error> {
    map_leaves(node, "", &mut |s, path| {
        if s.tag == "!!null" {
            return Ok(s);
        }
        if s.tag != "!!str" {
            return Err(Error::NotEncrypted {
                path: path.to_string(),
                tag: s.tag,
            });
        }
        let (plain, version) = cipher::decrypt(key, &s.value).map_err(|source| Error::Decrypt {
            path: path.to_string(),
            source,
        })?;
        let framed = match version {
            VERSION_GCM_YAML => Some(unframe(&plain).ok_or_else(|| Error::Malformed {
                path: path.to_string(),
            })?),
            VERSION_GCM => unframe(&plain),
            _ => None,
        };
        Ok(framed.unwrap_or_else(|| Scalar {
            tag: "!!str".into(),
            style: 0,
            value: String::from_utf8_lossy(&plain).into_owned(),
        }))
    })
}

/// Words that YAML 1.1 readers (Helm's) take for booleans or null when plain.
fn yaml11_special(v: &str) -> bool {
    matches!(
        v.to_ascii_lowercase().as_str(),
        "y" | "n" | "yes" | "no" | "on" | "off" | "true" | "false" | "null" | "~"
    )
}

/// Whether a string may be written plain and still read back as this string by yaml.v3 and by
/// YAML 1.1 readers (so `1_000`, `0777`, `yes` and `1e3` are quoted; hex ciphertext with a
/// letter in it is not).
fn plain_safe(v: &str) -> bool {
    let Some(first) = v.chars().next() else {
        return false;
    };
    let shape = if first.is_ascii_digit() {
        v.chars().all(|c| c.is_ascii_alphanumeric()) && v.chars().any(|c| c.is_ascii_alphabetic())
    } else {
        first.is_ascii_alphabetic()
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '-'))
    };
    shape && !yaml11_special(v) && resolve(v) == "!!str"
}

fn quoted(v: &str) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "\"\"".into())
}

fn scalar_text(s: &Scalar, indent: usize) -> String {
    match s.tag.as_str() {
        "!!null" if !s.value.is_empty() => s.value.clone(),
        "!!null" => "null".into(),
        "!!str" => {
            let literal = s.style & STYLE_LITERAL != 0
                && s.value.contains('\n')
                && !s.value.starts_with([' ', '\n'])
                && !s.value.contains(['\r', '\t'])
                && s.value.lines().all(|l| l.trim_end() == l);
            if literal {
                let chomp = if s.value.ends_with("\n\n") {
                    "+"
                } else if s.value.ends_with('\n') {
                    ""
                } else {
                    "-"
                };
                let pad = " ".repeat(indent + 2);
                let mut out = format!("|{chomp}");
                for line in s.value.lines() {
                    out.push('\n');
                    if !line.is_empty() {
                        out.push_str(&pad);
                        out.push_str(line);
                    }
                }
                if chomp == "+" {
                    for _ in 0..s.value.len() - s.value.trim_end_matches('\n').len() - 1 {
                        out.push('\n');
                    }
                }
                out
            } else if plain_safe(&s.value) {
                s.value.clone()
            } else {
                quoted(&s.value)
            }
        }
        "!!int" | "!!float" | "!!bool" | "!!timestamp" if resolve(&s.value) == s.tag => {
            s.value.clone()
        }
        tag => format!("{tag} {}", quoted(&s.value)),
    }
}

fn key_text(k: &Scalar) -> String {
    if plain_safe(&k.value) || (k.tag != "!!str" && resolve(&k.value) == k.tag) {
        k.value.clone()
    } else {
        quoted(&k.value)
    }
}

fn write(node: &Node, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match node {
        Node::Scalar(s) => {
            out.push_str(&pad);
            out.push_str(&scalar_text(s, indent));
            out.push('\n');
        }
        Node::Map(entries) => {
            for (k, v) in entries {
                out.push_str(&pad);
                out.push_str(&key_text(k));
                out.push(':');
                match v {
                    Node::Scalar(s) => {
                        out.push(' ');
                        out.push_str(&scalar_text(s, indent));
                        out.push('\n');
                    }
                    Node::Map(e) if e.is_empty() => out.push_str(" {}\n"),
                    Node::Seq(i) if i.is_empty() => out.push_str(" []\n"),
                    _ => {
                        out.push('\n');
                        write(v, indent + 2, out);
                    }
                }
            }
        }
        Node::Seq(items) => {
            for v in items {
                out.push_str(&pad);
                out.push('-');
                match v {
                    Node::Scalar(s) => {
                        out.push(' ');
                        out.push_str(&scalar_text(s, indent));
                        out.push('\n');
                    }
                    Node::Map(e) if e.is_empty() => out.push_str(" {}\n"),
                    Node::Seq(i) if i.is_empty() => out.push_str(" []\n"),
                    _ => {
                        out.push('\n');
                        write(v, indent + 2, out);
                    }
                }
            }
        }
    }
}

/// The document as YAML text (block style; an empty map is `{}`).
pub fn to_yaml(node: &Node) -> String {
    match node {
        Node::Map(e) if e.is_empty() => "{}\n".into(),
        _ => {
            let mut out = String::new();
            write(node, 0, &mut out);
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "bc3458408a5687e60b9417adb84e4ad0";

    #[test]
    fn plain_scalars_resolve_as_yaml_v3_resolves_them() {
        for (v, tag) in [
            ("", "!!null"),
            ("~", "!!null"),
            ("true", "!!bool"),
            ("yes", "!!str"),
            ("123", "!!int"),
            ("-7", "!!int"),
            ("0x1F", "!!int"),
            ("64.5", "!!float"),
            (".5", "!!float"),
            ("1e3", "!!float"),
            (".inf", "!!float"),
            ("2022-07-15", "!!timestamp"),
            ("2022-07-15T10:00:00Z", "!!timestamp"),
            ("hello", "!!str"),
            ("1.2.3", "!!str"),
        ] {
            assert_eq!(resolve(v), tag, "{v}");
        }
        for (v, plain) in [
            ("hello", true),
            ("0200ab12", true),
            ("0200", false),
            ("0200e5", false),
            ("1_000", false),
            ("yes", false),
            ("a b", false),
            ("", false),
        ] {
            assert_eq!(plain_safe(v), plain, "{v}");
        }
    }

    #[test]
    fn values_keep_types_styles_and_nulls_through_a_round_trip() {
        let key = Key::parse(KEY).expect("key");
        let text = "db:\n  port: 5432\n  password: \"hunter2\"\n  flag: true\n  ratio: 0.5\n  empty:\n  cert: |\n    line1\n    line2\nlist:\n- 1\n- two\nyes_word: \"yes\"\n";
        let plain = parse(text).expect("parses");
        let sealed = encrypt(&key, plain.clone()).expect("encrypts");
        let sealed_text = to_yaml(&sealed);
        // Every non-null leaf is ciphertext now (the hex of format version 2), none its
        // plaintext; `hunter2` has letters hex lacks, so it cannot appear by chance.
        assert!(!sealed_text.contains("hunter2"), "{sealed_text}");
        let mut leaves = Vec::new();
        map_leaves(sealed.clone(), "", &mut |s, path| {
            leaves.push((path.to_string(), s.clone()));
            Ok(s)
        })
        .expect("walks");
        assert_eq!(leaves.len(), 9, "{leaves:?}");
        for (path, s) in &leaves {
            if path == "db.empty" {
                assert_eq!(s.tag, "!!null");
            } else {
                assert!(
                    s.tag == "!!str" && s.value.starts_with("0300"),
                    "{path}: {s:?}"
                );
                assert!(
                    hex::decode(&s.value).is_ok_and(|b| b.len() > 2 + 12 + 16),
                    "{path}"
                );
            }
        }
        assert!(sealed_text.contains("empty: null"), "{sealed_text}");
        let back = decrypt(&key, parse(&sealed_text).expect("parses")).expect("decrypts");
        // The same document (an empty null is written `null`).
        assert_eq!(to_yaml(&back), to_yaml(&plain));
        assert_eq!(
            to_yaml(&back),
            "db:\n  port: 5432\n  password: hunter2\n  flag: true\n  ratio: 0.5\n  empty: null\n  cert: |\n    line1\n    line2\nlist:\n  - 1\n  - two\nyes_word: \"yes\"\n"
        );
    }

    #[test]
    fn a_plain_value_or_an_unframed_version_3_one_is_an_error_naming_the_key() {
        let key = Key::parse(KEY).expect("key");
        let e = decrypt(&key, parse("a:\n  b: 5\n").expect("parses")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "`a.b`: a !!int value where an encrypted (hex string) value belongs"
        );
        // A whole file's ciphertext (version 2) used as a value is its raw text.
        let blob = cipher::encrypt(&key, b"no framing here").expect("encrypts");
        let back = decrypt(&key, parse(&format!("v: {blob}\n")).expect("parses")).expect("opens");
        assert_eq!(to_yaml(&back), "v: \"no framing here\"\n");
        // Version 3 is always framed.
        let unframed = cipher::encrypt_value(&key, b"no framing here").expect("encrypts");
        let e = decrypt(&key, parse(&format!("v: {unframed}\n")).expect("parses")).unwrap_err();
        assert!(
            matches!(e, Error::Malformed { ref path } if path == "v"),
            "{e}"
        );
        // Only a well-formed frame is one.
        assert!(unframe(b"!!int\x000\x005").is_some());
        for raw in [
            &b"a\x00b\x00c"[..],
            b"!!int\x00x\x005",
            b"!!int\x0007\x005",
            b"! x\x000\x00v",
            b"!!str\x00640\x00v",
        ] {
            assert!(unframe(raw).is_none(), "{raw:?}");
        }
        let other = Key::parse(&"00".repeat(16)).expect("key");
        let sealed =
            to_yaml(&encrypt(&key, parse("pw: secret\n").expect("parses")).expect("encrypts"));
        let e = decrypt(&other, parse(&sealed).expect("parses")).unwrap_err();
        assert!(
            matches!(
                e,
                Error::Decrypt {
                    source: cipher::Error::Authentication,
                    ..
                }
            ),
            "{e}"
        );
        assert!(!format!("{e:?}").contains("secret"));
    }
}
