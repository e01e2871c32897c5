//! YAML read the way Helm reads it (sigs.k8s.io/yaml over go-yaml v2): YAML 1.1 scalars (`yes`,
//! `on`, `y` are booleans, `0777` is octal, `1_000` is a thousand), merge keys, anchors, then the
//! document through JSON, so every number comes out a float64 and every key a string.
//!
//! Events come from yaml-rust2's parser; the tree is built without recursion, nesting is bounded
//! ([`MAX_DEPTH`]) and aliases may not expand past [`MAX_ALIAS_NODES`] nodes (the "billion
//! laughs" document ends in an error, not in exhausted memory).

use std::collections::HashMap;

use serde_json::{Map, Number, Value as Json};
use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::TScalarStyle;

/// Deepest nesting of collections accepted.
pub const MAX_DEPTH: usize = 1000;
/// Most nodes that aliases may copy in one document.
pub const MAX_ALIAS_NODES: usize = 1_000_000;

/// Why a document could not be read: the message as go-yaml or the JSON step words it, and the
/// 1-based line and column it points at (0 when the error is about the whole document).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line > 0 {
            write!(f, "yaml: line {}: {}", self.line, self.message)
        } else {
            f.write_str(&self.message)
        }
    }
}

impl std::error::Error for LoadError {}

/// A node as go-yaml v2 resolves it, before the JSON step.
#[derive(Clone, Debug)]
enum Node {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Str(String),
    /// The `<<` key.
    Merge,
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Node {
    fn size(&self) -> usize {
        let mut n = 0;
        let mut stack = vec![self];
        while let Some(x) = stack.pop() {
            n += 1;
            match x {
                Node::Seq(items) => stack.extend(items),
                Node::Map(entries) => {
                    for (k, v) in entries {
                        stack.push(k);
                        stack.push(v);
                    }
                }
                _ => {}
            }
        }
        n
    }
}

enum Frame {
    Seq(Vec<Node>, usize),
    Map(Vec<(Node, Node)>, Option<Node>, usize),
}

/// How numbers come out of the JSON step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Numbers {
    /// As `json.Unmarshal` into `interface{}` gives them: every number a float64 (values).
    Float64,
    /// As written: integers stay integers (manifests, which the API server types itself).
    AsWritten,
}

/// Every document of `text`, each converted as Helm converts it (numbers as float64).
pub fn load_all(text: &str) -> Result<Vec<Json>, LoadError> {
    load_all_with(text, Numbers::Float64)
}

/// Every document of `text`, numbers as `numbers` says.
pub fn load_all_with(text: &str, numbers: Numbers) -> Result<Vec<Json>, LoadError> {
    parse_documents(text)?
        .into_iter()
        .map(|doc| to_json(doc, numbers))
        .collect()
}

/// The first document of `text` (what `yaml.Unmarshal` reads); null when there is none.
pub fn load(text: &str) -> Result<Json, LoadError> {
    load_with(text, Numbers::Float64)
}

/// [`load`] with numbers as `numbers` says (every document is still read, so a bad later one
/// is an error too).
pub fn load_with(text: &str, numbers: Numbers) -> Result<Json, LoadError> {
    Ok(load_all_with(text, numbers)?
        .into_iter()
        .next()
        .unwrap_or(Json::Null))
}

/// A values file as Helm 4 loads it: every document, merged in order (later keys win, maps merge
/// key by key); no documents or only nulls is an empty map; anything but a map is an error.
pub fn load_values(text: &str) -> Result<Map<String, Json>, LoadError> {
    let mut out = Map::new();
    for doc in load_all(text)? {
        match doc {
            Json::Null => {}
            Json::Object(m) => merge_into(&mut out, m),
            other => {
                return Err(LoadError {
                    line: 0,
                    column: 0,
                    message: format!(
                        "error unmarshaling JSON: while decoding JSON: json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                        json_kind(&other)
                    ),
                })
            }
        }
    }
    Ok(out)
}

/// `over` merged into `base`: maps key by key, anything else replaced.
pub fn merge_into(base: &mut Map<String, Json>, over: Map<String, Json>) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(Json::Object(b)), Json::Object(o)) => merge_into(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// Go's name of a JSON value's kind, as `encoding/json` words type errors.
pub fn json_kind(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "bool",
        Json::Number(_) => "number",
        Json::String(_) => "string",
        Json::Array(_) => "array",
        Json::Object(_) => "object",
    }
}

fn error_at(line: usize, column: usize, message: impl Into<String>) -> LoadError {
    LoadError {
        line,
        column,
        message: message.into(),
    }
}

fn parse_documents(text: &str) -> Result<Vec<Node>, LoadError> {
    let mut parser = Parser::new_from_str(text);
    let mut docs = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Node> = HashMap::new();
    let mut copied = 0usize;
    let mut done: Option<Node> = None;
    loop {
        let (event, mark) = parser.next_token().map_err(|e| {
            // go-yaml words errors with libyaml's problem only (not its context), on a line that
            // exists.
            let info = e.info();
            let problem = info
                .strip_prefix("while parsing ")
                .and_then(|rest| rest.split_once(", "))
                .map_or(info, |(_, p)| p);
            let problem = match problem.strip_prefix("expected ") {
                Some(rest) => format!("did not find expected {rest}"),
                None => problem.to_string(),
            };
            let lines = text.lines().count().max(1);
            error_at(e.marker().line().min(lines), e.marker().col() + 1, problem)
        })?;
        let (line, column) = (mark.line(), mark.col() + 1);
        let node = match event {
            Event::StreamEnd => break,
            Event::DocumentStart => {
                anchors.clear();
                copied = 0;
                continue;
            }
            Event::DocumentEnd => {
                docs.push(done.take().unwrap_or(Node::Null));
                continue;
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(error_at(
                        line,
                        column,
                        format!("the document nests more than {MAX_DEPTH} levels deep"),
                    ));
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
                _ => return Err(error_at(line, column, "unbalanced sequence")),
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map(entries, _, anchor)) => {
                    remember(&mut anchors, anchor, Node::Map(entries))
                }
                _ => return Err(error_at(line, column, "unbalanced mapping")),
            },
            Event::Alias(id) => {
                let node = anchors
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| error_at(line, column, "unknown anchor referenced"))?;
                copied += node.size();
                if copied > MAX_ALIAS_NODES {
                    return Err(error_at(
                        line,
                        column,
                        format!(
                            "aliases expand the document past {MAX_ALIAS_NODES} nodes: refused"
                        ),
                    ));
                }
                node
            }
            Event::Scalar(mut value, style, anchor, tag) => {
                if empty_block_scalar(text, mark.index(), style, &value) {
                    value.clear();
                }
                let node = scalar(value, style, tag.as_ref())
                    .map_err(|e| error_at(line, column, e.to_string()))?;
                remember(&mut anchors, anchor, node)
            }
            Event::Nothing | Event::StreamStart => continue,
        };
        match stack.last_mut() {
            None => done = Some(node),
            Some(Frame::Seq(items, _)) => items.push(node),
            Some(Frame::Map(entries, key, _)) => match key.take() {
                None => *key = Some(node),
                Some(k) => entries.push((k, node)),
            },
        }
    }
    Ok(docs)
}

/// A block scalar with no content but line breaks (`key: |` then blank lines, or the end of
/// the text), clipped or stripped: YAML (and go-yaml) make it "", where the scanner keeps a
/// line break. Only a keep indicator (`|+`) keeps them.
fn empty_block_scalar(text: &str, at: usize, style: TScalarStyle, value: &str) -> bool {
    if !matches!(style, TScalarStyle::Literal | TScalarStyle::Folded)
        || value.is_empty()
        || value.bytes().any(|b| b != b'\n')
    {
        return false;
    }
    let header = text
        .get(at..)
        .and_then(|rest| rest.lines().next())
        .unwrap_or_default();
    let header = header.split('#').next().unwrap_or_default();
    (header.starts_with('|') || header.starts_with('>')) && !header.contains('+')
}

fn remember(anchors: &mut HashMap<usize, Node>, anchor: usize, node: Node) -> Node {
    if anchor > 0 {
        anchors.insert(anchor, node.clone());
    }
    node
}

/// A tagged scalar whose text its tag cannot hold, worded as go-yaml words it.
#[derive(Debug, thiserror::Error)]
enum ScalarError {
    #[error("!!binary value contains invalid base64 data: {0}")]
    Binary(base64::DecodeError),
    #[error("cannot decode !!str `{value}` as a !!{want}")]
    Tagged { value: String, want: String },
}

/// A scalar as go-yaml v2 resolves it: quoted and block scalars are strings; plain ones are
/// YAML 1.1 nulls, booleans, integers, floats, the merge key, or strings.
fn scalar(value: String, style: TScalarStyle, tag: Option<&Tag>) -> Result<Node, ScalarError> {
    let core = tag
        .filter(|t| t.handle == "tag:yaml.org,2002:")
        .map(|t| t.suffix.as_str());
    match core {
        Some("str") => return Ok(Node::Str(value)),
        Some("binary") => {
            use base64::Engine as _;
            let cleaned: String = value.split_whitespace().collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(cleaned.as_bytes())
                .map_err(ScalarError::Binary)?;
            return Ok(Node::Str(String::from_utf8_lossy(&bytes).into_owned()));
        }
        Some(want @ ("int" | "float" | "bool" | "null")) => {
            let node = resolve_plain(&value);
            let ok = matches!(
                (want, &node),
                ("int", Node::Int(_) | Node::Uint(_))
                    | ("float", Node::Float(_) | Node::Int(_) | Node::Uint(_))
                    | ("bool", Node::Bool(_))
                    | ("null", Node::Null)
            );
            return if ok {
                Ok(match (want, node) {
                    ("float", Node::Int(i)) => Node::Float(i as f64),
                    ("float", Node::Uint(u)) => Node::Float(u as f64),
                    (_, n) => n,
                })
            } else {
                Err(ScalarError::Tagged {
                    value,
                    want: want.to_string(),
                })
            };
        }
        _ => {}
    }
    if style != TScalarStyle::Plain {
        return Ok(Node::Str(value));
    }
    Ok(resolve_plain(&value))
}

/// go-yaml v2's resolver for plain scalars.
fn resolve_plain(s: &str) -> Node {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Node::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "true" | "True" | "TRUE" => {
            return Node::Bool(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "off" | "Off" | "OFF" | "false" | "False" | "FALSE" => {
            return Node::Bool(false)
        }
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Node::Float(f64::INFINITY)
        }
        "-.inf" | "-.Inf" | "-.INF" => return Node::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Node::Float(f64::NAN),
        "<<" => return Node::Merge,
        _ => {}
    }
    let first = s.as_bytes()[0];
    if first == b'.' {
        // Not a special float: maybe a plain one (`.5`).
        if let Some(f) = go_parse_float(s) {
            return Node::Float(f);
        }
        return Node::Str(s.to_string());
    }
    if !(first.is_ascii_digit() || first == b'+' || first == b'-') {
        return Node::Str(s.to_string());
    }
    // Timestamps stay strings when decoded into interface{} (go-yaml v2's compatibility rule).
    let plain = s.replace('_', "");
    if let Some(i) = go_parse_int(&plain) {
        return Node::Int(i);
    }
    if let Some(u) = go_parse_uint(&plain) {
        return Node::Uint(u);
    }
    if yaml_style_float(&plain) {
        if let Some(f) = go_parse_float(&plain) {
            return Node::Float(f);
        }
    }
    let (negative, digits) = match plain.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, plain.as_str()),
    };
    if let Some(bits) = digits.strip_prefix("0b") {
        if let Ok(v) = i64::from_str_radix(bits, 2) {
            return Node::Int(if negative { -v } else { v });
        }
        if !negative {
            if let Ok(v) = u64::from_str_radix(bits, 2) {
                return Node::Uint(v);
            }
        }
    }
    Node::Str(s.to_string())
}

/// Go's `strconv.ParseInt(s, 0, 64)`: sign, then `0x`, `0o`, `0b` or a leading `0` (octal).
fn go_parse_int(s: &str) -> Option<i64> {
    let (negative, body) = split_sign(s);
    let magnitude = parse_prefixed(body)?;
    if negative {
        if magnitude <= i64::MAX as u64 + 1 {
            Some((magnitude as i64).wrapping_neg())
        } else {
            None
        }
    } else {
        i64::try_from(magnitude).ok()
    }
}

/// Go's `strconv.ParseUint(s, 0, 64)` (no sign allowed).
fn go_parse_uint(s: &str) -> Option<u64> {
    if s.starts_with(['+', '-']) {
        return None;
    }
    parse_prefixed(s)
}

fn split_sign(s: &str) -> (bool, &str) {
    match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    }
}

fn parse_prefixed(body: &str) -> Option<u64> {
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if let Some(h) = lower.strip_prefix("0x") {
        (16, h)
    } else if let Some(o) = lower.strip_prefix("0o") {
        (8, o)
    } else if let Some(b) = lower.strip_prefix("0b") {
        (2, b)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    if digits.is_empty() || digits.starts_with(['+', '-']) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

/// go-yaml v2's `yamlStyleFloat`: `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn yaml_style_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if i < b.len() && b[i] == b'.' {
            i += 1;
            digits(&mut i);
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Go's `strconv.ParseFloat(s, 64)` for the forms the resolver passes (out of range fails).
fn go_parse_float(s: &str) -> Option<f64> {
    let f: f64 = s.parse().ok()?;
    f.is_finite().then_some(f)
}

/// The JSON step: keys become strings (as sigs.k8s.io/yaml words them), merge keys are applied,
/// numbers become float64 (json.Unmarshal into interface{}), and infinities are errors. The
/// nodes are consumed: their strings become the JSON's without a copy.
fn to_json(node: Node, numbers: Numbers) -> Result<Json, LoadError> {
    crate::with_stack(|| to_json_inner(node, numbers))
}

fn to_json_inner(node: Node, numbers: Numbers) -> Result<Json, LoadError> {
    let unsupported = |what: &str| LoadError {
        line: 0,
        column: 0,
        message: format!("error converting YAML to JSON: json: unsupported value: {what}"),
    };
    Ok(match node {
        Node::Null => Json::Null,
        Node::Bool(b) => Json::Bool(b),
        Node::Int(i) if numbers == Numbers::AsWritten => Json::from(i),
        Node::Uint(u) if numbers == Numbers::AsWritten => Json::from(u),
        Node::Int(i) => float(i as f64),
        Node::Uint(u) => float(u as f64),
        Node::Float(f) if f.is_nan() => return Err(unsupported("NaN")),
        Node::Float(f) if f.is_infinite() => {
            return Err(unsupported(if f > 0.0 { "+Inf" } else { "-Inf" }))
        }
        Node::Float(f) => float(f),
        Node::Str(s) => Json::String(s),
        Node::Merge => Json::String("<<".into()),
        Node::Seq(items) => Json::Array(
            items
                .into_iter()
                .map(|x| to_json(x, numbers))
                .collect::<Result<_, _>>()?,
        ),
        Node::Map(entries) => {
            let mut out = Map::new();
            apply_entries(entries, &mut out, numbers)?;
            Json::Object(out)
        }
    })
}

/// A map's entries in order, as go-yaml v2 sets them: a merge key copies the merged map's
/// entries (the earlier of several merged maps wins), later keys overwrite earlier ones.
fn apply_entries(
    entries: Vec<(Node, Node)>,
    out: &mut Map<String, Json>,
    numbers: Numbers,
) -> Result<(), LoadError> {
    for (k, v) in entries {
        if matches!(k, Node::Merge) {
            let merged: Vec<Node> = match v {
                Node::Map(_) => vec![v],
                Node::Seq(items) if items.iter().all(|x| matches!(x, Node::Map(_))) => {
                    items.into_iter().rev().collect()
                }
                _ => {
                    return Err(error_at(
                        0,
                        0,
                        "map merge requires map or sequence of maps as the value",
                    ))
                }
            };
            for m in merged {
                if let Node::Map(inner) = m {
                    crate::with_stack(|| apply_entries(inner, out, numbers))?;
                }
            }
            continue;
        }
        out.insert(key_string(k, &v)?, to_json(v, numbers)?);
    }
    Ok(())
}

fn key_string(k: Node, v: &Node) -> Result<String, LoadError> {
    Ok(match k {
        Node::Str(s) => s,
        Node::Bool(b) => b.to_string(),
        Node::Int(i) => i.to_string(),
        Node::Uint(u) => u.to_string(),
        Node::Float(f) => crate::value::format_float_g(f),
        Node::Merge => "<<".into(),
        other => {
            let kind = match other {
                Node::Null => "%!s(<nil>)",
                Node::Seq(_) => "[]interface {}",
                _ => "map[interface {}]interface {}",
            };
            let value = match v {
                Node::Str(s) => format!("{s:?}"),
                _ => "…".into(),
            };
            return Err(error_at(
                0,
                0,
                format!("error converting YAML to JSON: unsupported map key of type: {kind}, value: {value}"),
            ));
        }
    })
}

fn float(f: f64) -> Json {
    Number::from_f64(f).map_or(Json::Null, Json::Number)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn yaml_1_1_scalars_resolve_as_go_yaml_v2_and_numbers_become_floats() {
        let v = load("a: yes\nb: on\ny: 1\nn: 0777\nhex: 0x1F\nu: 1_000\nbin: -0b11\nts: 2001-12-14\nq: \"yes\"\nf: .5\nbig: 1e400\nnothing: ~\n")
            .expect("loads");
        assert_eq!(
            v,
            json!({"a": true, "b": true, "true": 1.0, "false": 511.0, "hex": 31.0, "u": 1000.0,
                   "bin": -3.0, "ts": "2001-12-14", "q": "yes", "f": 0.5, "big": "1e400", "nothing": null})
        );
        assert!(
            v["true"].is_f64(),
            "every number is a float64, as after json.Unmarshal"
        );
    }

    #[test]
    fn merge_keys_and_anchors_apply_in_go_yaml_v2_order() {
        let v =
            load("base: &b {x: 1, k: 2}\nm:\n  <<: *b\n  k: 3\nl:\n  <<: [{p: 1}, {p: 2, q: 3}]\n")
                .expect("loads");
        assert_eq!(v["m"], json!({"x": 1.0, "k": 3.0}));
        assert_eq!(v["l"], json!({"p": 1.0, "q": 3.0}));
    }

    #[test]
    fn values_documents_merge_and_non_maps_are_errors() {
        let v = load_values("a: 1\n---\na: 2\nb: {c: 1}\n---\nb: {d: 2}\n").expect("loads");
        assert_eq!(
            Json::Object(v),
            json!({"a": 2.0, "b": {"c": 1.0, "d": 2.0}})
        );
        assert!(load_values("").expect("empty").is_empty());
        let err = load_values("- 1\n").expect_err("a list");
        assert!(err.message.contains("cannot unmarshal array"), "{err}");
        let err = load_values("a: .inf\n").expect_err("infinity");
        assert!(err.message.ends_with("unsupported value: +Inf"), "{err}");
        let err = load_values("a: [1, 2\n").expect_err("syntax");
        // As go-yaml words it (Helm 4 printed the same).
        assert_eq!(
            err.to_string(),
            "yaml: line 1: did not find expected ',' or ']'"
        );
    }

    #[test]
    fn tags_and_keys_convert_as_sigs_yaml_does() {
        let v = load("s: !!str 12\nb: !!binary aGVsbG8=\ni: !!int \"12\"\nk:\n  1.5: a\n  0x10: d\n  true: c\n")
            .expect("loads");
        assert_eq!(
            v,
            json!({"s": "12", "b": "hello", "i": 12.0, "k": {"1.5": "a", "16": "d", "true": "c"}})
        );
        let err = load("k:\n  null: c\n").expect_err("null key");
        assert!(err.message.contains("unsupported map key"), "{err}");
    }

    #[test]
    fn alias_bombs_and_deep_nesting_are_refused() {
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 0..9 {
            let prev = if i == 0 {
                "a".to_string()
            } else {
                format!("l{}", i - 1)
            };
            bomb.push_str(&format!(
                "l{i}: &l{i} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
            ));
        }
        let err = load(&bomb).expect_err("bomb");
        assert!(err.message.contains("past 1000000 nodes"), "{err}");
        let nested = |levels: usize| {
            (0..levels)
                .map(|i| format!("{}k:\n", " ".repeat(i)))
                .collect::<String>()
        };
        load(&nested(999)).expect("999 levels are fine");
        let err = load(&nested(1001)).expect_err("deep");
        assert!(err.message.contains("nests more than 1000"), "{err}");
        let flow = format!("{}{}", "[".repeat(300), "]".repeat(300));
        let err = load(&flow).expect_err("deep flow");
        assert_eq!(err.line, 1, "{err}");
    }

    #[test]
    fn fuzz_index_yaml() {
        // A chart repository's index, as `werf helm dependency` reads it: never a panic.
        let index = b"apiVersion: v1\nentries:\n  app:\n  - name: app\n    version: 1.2.3\n    digest: abc\n    urls:\n    - app-1.2.3.tgz\n    created: 2024-01-01T00:00:00Z\n  lib: [{name: lib, version: '0.1.0', urls: [https://x/lib.tgz]}]\ngenerated: 2024-01-01T00:00:00Z\n";
        let anchors =
            b"a: &x [1, 2, {b: *x}]\nc: !!str 3\nd: |\n  text\n---\n- ? complex\n  : key\n";
        werf_fuzz::run("index-yaml", &[index, anchors], |input| {
            let text = String::from_utf8_lossy(input);
            let _ = load_all_with(&text, Numbers::AsWritten);
            let _ = load_all_with(&text, Numbers::Float64);
        });
    }
}
