//! `toYaml` and `toYamlPretty`: the value through JSON, then emitted the way go-yaml v2 (or v3)
//! emits it (key order, YAML 1.1 quoting, literal blocks for multi-line strings), byte for byte.

use std::cmp::Ordering;

use crate::funcs::to_json;
use crate::value::{format_float_g, Value};

/// `toYaml` without the trailing newline (as Helm trims it).
pub fn to_yaml(v: &Value) -> String {
    emit(v, Style::V2)
}

/// Helm 4's `toYamlPretty`: go-yaml v3 with an indent of two, so a list under a key is indented
/// below it; without the trailing newline.
pub fn to_yaml_pretty(v: &Value) -> String {
    emit(v, Style::Pretty)
}

/// Where a list under a key starts: at the key's column (go-yaml v2) or two further (v3).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Style {
    V2,
    Pretty,
}

fn emit(v: &Value, style: Style) -> String {
    let mut out = String::new();
    match v {
        Value::Map(m) if !m.is_empty() => emit_map(&mut out, v, 0, style),
        Value::List(l) if !l.is_empty() => emit_list(&mut out, v, 0, style),
        other => {
            out.push_str(&scalar(other, 0));
            out.push('\n');
        }
    }
    out.trim_end_matches('\n').to_string()
}

/// go-yaml v2's key order: letters after other characters, digit runs compared as numbers.
fn key_cmp(a: &str, b: &str) -> Ordering {
    let (ar, br): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut i = 0;
    while i < ar.len() && i < br.len() {
        if ar[i] == br[i] {
            i += 1;
            continue;
        }
        let (al, bl) = (ar[i].is_alphabetic(), br[i].is_alphabetic());
        if al && bl {
            return ar[i].cmp(&br[i]);
        }
        if al || bl {
            return if bl {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
        let (mut an, mut bn) = (0i64, 0i64);
        if ar[i] == '0' || br[i] == '0' {
            let mut j = i;
            while j > 0 && ar[j - 1].is_ascii_digit() {
                j -= 1;
                if ar[j] != '0' {
                    an = 1;
                    bn = 1;
                    break;
                }
            }
        }
        let (ai, an) = digits(&ar, i, an);
        let (bi, bn) = digits(&br, i, bn);
        if an != bn {
            return an.cmp(&bn);
        }
        if ai != bi {
            return ai.cmp(&bi);
        }
        return ar[i].cmp(&br[i]);
    }
    ar.len().cmp(&br.len())
}

/// The digits of `chars` from `i` read onto `n` (saturating), and where they end.
fn digits(chars: &[char], mut i: usize, mut n: i64) -> (usize, i64) {
    while i < chars.len() && chars[i].is_ascii_digit() {
        n = n
            .saturating_mul(10)
            .saturating_add(chars[i] as i64 - '0' as i64);
        i += 1;
    }
    (i, n)
}

fn sorted(m: &std::collections::BTreeMap<String, Value>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<(&String, &Value)> =
        m.iter().filter(|(k, _)| !crate::value::hidden(k)).collect();
    entries.sort_by(|a, b| key_cmp(a.0, b.0));
    entries
}

fn pad(n: usize) -> String {
    " ".repeat(n)
}

fn emit_map(out: &mut String, v: &Value, indent: usize, style: Style) {
    crate::with_stack(|| emit_map_inner(out, v, indent, style))
}

fn emit_map_inner(out: &mut String, v: &Value, indent: usize, style: Style) {
    let Value::Map(m) = v else { return };
    for (i, (k, x)) in sorted(m).into_iter().enumerate() {
        if i > 0 {
            out.push_str(&pad(indent));
        }
        out.push_str(&string_scalar(k, indent));
        out.push(':');
        emit_after_key(out, x, indent, style);
    }
}

fn emit_after_key(out: &mut String, x: &Value, indent: usize, style: Style) {
    match x {
        Value::Map(m) if !m.is_empty() => {
            out.push('\n');
            out.push_str(&pad(indent + 2));
            emit_map(out, x, indent + 2, style);
        }
        Value::List(l) if !l.is_empty() => {
            let at = if style == Style::Pretty {
                indent + 2
            } else {
                indent
            };
            out.push('\n');
            out.push_str(&pad(at));
            emit_list(out, x, at, style);
        }
        other => {
            out.push(' ');
            out.push_str(&scalar(other, indent + 2));
            out.push('\n');
        }
    }
}

fn emit_list(out: &mut String, v: &Value, indent: usize, style: Style) {
    crate::with_stack(|| emit_list_inner(out, v, indent, style))
}

fn emit_list_inner(out: &mut String, v: &Value, indent: usize, style: Style) {
    let Value::List(l) = v else { return };
    for (i, x) in l.iter().enumerate() {
        if i > 0 {
            out.push_str(&pad(indent));
        }
        out.push_str("- ");
        match x {
            Value::Map(m) if !m.is_empty() => emit_map(out, x, indent + 2, style),
            Value::List(inner) if !inner.is_empty() => emit_list(out, x, indent + 2, style),
            other => {
                out.push_str(&scalar(other, indent + 2));
                out.push('\n');
            }
        }
    }
}

fn scalar(v: &Value, indent: usize) -> String {
    match v {
        Value::Nil => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) | Value::Int64(i) => i.to_string(),
        Value::Bytes(_) | Value::Time(_) => match v.to_json() {
            serde_json::Value::String(s) => string_scalar(&s, indent),
            _ => String::new(),
        },
        Value::Float(f) => {
            // Through JSON: integral values come back as YAML integers.
            let j = to_json(&Value::Float(*f));
            if j.contains(['.', 'e', 'E']) {
                format_float_g(*f)
            } else {
                j
            }
        }
        Value::Str(s) => string_scalar(s, indent),
        Value::Map(_) => "{}".into(),
        Value::List(_) => "[]".into(),
    }
}

/// Whether YAML 1.1 (go-yaml v2's resolver) reads `s` as something other than a string.
fn resolves_to_non_string(s: &str) -> bool {
    const SPECIAL: &[&str] = &[
        "", "~", "null", "Null", "NULL", "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
        "true", "True", "TRUE", "false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF",
        ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", ".nan",
        ".NaN", ".NAN", "<<",
    ];
    if SPECIAL.contains(&s) {
        return true;
    }
    let plain = s.replace('_', "");
    let body = plain.strip_prefix(['+', '-']).unwrap_or(&plain);
    if body.is_empty() {
        return false;
    }
    let is_int = body.chars().all(|c| c.is_ascii_digit())
        || body
            .strip_prefix("0x")
            .is_some_and(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_hexdigit()))
        || body
            .strip_prefix("0b")
            .is_some_and(|h| !h.is_empty() && h.chars().all(|c| c == '0' || c == '1'));
    let is_float = body.parse::<f64>().is_ok()
        && body.chars().any(|c| c.is_ascii_digit())
        && !body.contains(['i', 'I', 'n', 'N']);
    let base60 = body.contains(':')
        && body
            .split(':')
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit() || c == '.'));
    let timestamp = s.len() >= 10
        && s.as_bytes()[4] == b'-'
        && s.as_bytes()[7] == b'-'
        && s[..4].chars().all(|c| c.is_ascii_digit());
    is_int || is_float || base60 || timestamp
}

fn printable(c: char) -> bool {
    c == '\n'
        || (c >= ' ' && c != '\u{7f}' && !('\u{80}'..'\u{a0}').contains(&c) && c != '\u{feff}')
}

fn string_scalar(s: &str, indent: usize) -> String {
    if s.contains('\n') && s.chars().all(printable) {
        return literal(s, indent);
    }
    if resolves_to_non_string(s) || !s.chars().all(printable) || s.contains('\n') {
        return double_quoted(s);
    }
    if plain_allowed(s) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "''"))
    }
}

/// libyaml's analysis for the block context.
fn plain_allowed(s: &str) -> bool {
    if s.starts_with(' ') || s.ends_with(' ') || s.starts_with("---") || s.starts_with("...") {
        return false;
    }
    let chars: Vec<char> = s.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let next_space = chars.get(i + 1).is_none_or(|n| *n == ' ');
        if i == 0 {
            match c {
                '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\'' | '"'
                | '%' | '@' | '`' => return false,
                '?' | ':' | '-' if next_space => return false,
                _ => {}
            }
        } else {
            if c == ':' && next_space {
                return false;
            }
            if c == '#' && chars[i - 1] == ' ' {
                return false;
            }
        }
    }
    true
}

fn double_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            c if !printable(c) => out.push_str(&format!("\\x{:02X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn literal(s: &str, indent: usize) -> String {
    let chomp = if !s.ends_with('\n') {
        "-"
    } else if s.ends_with("\n\n") {
        "+"
    } else {
        ""
    };
    let indicator = if s.starts_with(' ') { "2" } else { "" };
    let body = s.strip_suffix('\n').unwrap_or(s);
    let mut out = format!("|{indicator}{chomp}");
    for line in body.split('\n') {
        out.push('\n');
        if !line.is_empty() {
            out.push_str(&pad(indent));
            out.push_str(line);
        }
    }
    out
}
