//! Sprig's text layout functions from goutils: `abbrevboth`, `wrap`, `wrapWith`, and `hello`.
//! goutils works on bytes, so do these (a multi-byte character counts as several).

use crate::funcs::{arity, strval, to_i64, Funcs};
use crate::value::Value;

pub fn register(f: &mut Funcs) {
    f.insert("hello", |a| {
        arity(a, 0)?;
        Ok(Value::Str("Hello!".into()))
    });
    f.insert("abbrevboth", |a| {
        arity(a, 3)?;
        let (left, right, s) = (to_i64(&a[0]), to_i64(&a[1]), strval(&a[2]));
        if right < 4 || (left > 0 && right < 7) {
            return Ok(Value::Str(s));
        }
        Ok(Value::Str(abbreviate_full(s.as_bytes(), left, right)))
    });
    f.insert("wrap", |a| {
        arity(a, 2)?;
        Ok(Value::Str(wrap_custom(
            &strval(&a[1]),
            to_i64(&a[0]),
            "\n",
            false,
        )))
    });
    f.insert("wrapWith", |a| {
        arity(a, 3)?;
        let sep = strval(&a[1]);
        let sep = if sep.is_empty() {
            "\n".to_string()
        } else {
            sep
        };
        Ok(Value::Str(wrap_custom(
            &strval(&a[2]),
            to_i64(&a[0]),
            &sep,
            true,
        )))
    });
}

/// goutils' `AbbreviateFull(str, offset, maxWidth)`.
fn abbreviate_full(s: &[u8], offset: i64, max_width: i64) -> String {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let len = s.len() as i64;
    if s.is_empty() || max_width < 4 {
        return String::new();
    }
    if len <= max_width {
        return text(s);
    }
    let mut offset = offset.min(len);
    if len - offset < max_width - 3 {
        offset = len - (max_width - 3);
    }
    if offset <= 4 {
        return format!("{}...", text(&s[..(max_width - 3) as usize]));
    }
    if max_width < 7 {
        return String::new();
    }
    if offset + max_width - 3 < len {
        return format!(
            "...{}",
            abbreviate_full(&s[offset as usize..], 0, max_width - 3)
        );
    }
    format!("...{}", text(&s[(len - (max_width - 3)) as usize..]))
}

/// goutils' `WrapCustom`: breaks at the last space within `width`; a longer word is cut
/// (`wrap_long_words`) or left whole up to the next space.
fn wrap_custom(s: &str, width: i64, newline: &str, wrap_long_words: bool) -> String {
    let b = s.as_bytes();
    if b.is_empty() {
        return String::new();
    }
    let width = width.max(1) as usize;
    let mut out: Vec<u8> = Vec::with_capacity(b.len());
    let mut offset = 0usize;
    while b.len() - offset > width {
        if b[offset] == b' ' {
            offset += 1;
            continue;
        }
        let end = width + offset + 1;
        match b[offset..end].iter().rposition(|c| *c == b' ') {
            Some(i) => {
                let at = offset + i;
                out.extend_from_slice(&b[offset..at]);
                out.extend_from_slice(newline.as_bytes());
                offset = at + 1;
            }
            None if wrap_long_words => {
                let end = width + offset;
                out.extend_from_slice(&b[offset..end]);
                out.extend_from_slice(newline.as_bytes());
                offset += width;
            }
            None => {
                let end = width + offset;
                match b[end..].iter().position(|c| *c == b' ') {
                    None => {
                        out.extend_from_slice(&b[offset..]);
                        offset = b.len();
                    }
                    Some(i) => {
                        let at = end + i;
                        out.extend_from_slice(&b[offset..at]);
                        out.extend_from_slice(newline.as_bytes());
                        offset = at + 1;
                    }
                }
            }
        }
    }
    out.extend_from_slice(&b[offset..]);
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    #[test]
    fn layout_functions_match_helm_4() {
        // Printed by Helm 4 for the same template.
        let template = r#"{{ wrap 5 "hello world this is long" }}|{{ wrapWith 5 "\t" "helloworld this" }}|{{ abbrevboth 5 10 "1234 5678 9123" }}|{{ abbrev 5 "hello world" }}|{{ hello }}"#;
        assert_eq!(
            crate::render("t", template, &crate::Value::Nil).expect("renders"),
            "hello\nworld\nthis\nis\nlong|hello\tworld\tthis|...5678...|he...|Hello!"
        );
    }
}
