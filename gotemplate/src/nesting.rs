//! A cheap pre-scan of YAML nesting: flow collections (`[`, `{`) nested deeper than the
//! deserializer's limit are refused, naming the line, before the parser reads (and buffers the
//! events of) the whole text. Block nesting needs indentation, so its depth is bounded by the
//! text's size, and the deserializer's own limit stops it.

/// The deepest flow nesting accepted (serde's deserializers stop at 128 anyway).
pub const MAX_FLOW_DEPTH: usize = 128;

/// `Err((line, message))` when flow collections in `text` nest deeper than [`MAX_FLOW_DEPTH`].
pub fn check_yaml(text: &str) -> Result<(), (usize, String)> {
    let mut depth = 0usize;
    let mut line = 1usize;
    let mut chars = text.chars().peekable();
    let mut prev = '\n';
    while let Some(c) = chars.next() {
        match c {
            '\n' => line += 1,
            '#' if prev.is_whitespace() => {
                // A comment runs to the end of the line.
                for n in chars.by_ref() {
                    if n == '\n' {
                        line += 1;
                        break;
                    }
                }
                prev = '\n';
                continue;
            }
            '"' => {
                while let Some(n) = chars.next() {
                    match n {
                        '\\' => {
                            chars.next();
                        }
                        '"' => break,
                        '\n' => line += 1,
                        _ => {}
                    }
                }
            }
            '\'' if !prev.is_alphanumeric() => {
                for n in chars.by_ref() {
                    match n {
                        '\'' => break,
                        '\n' => line += 1,
                        _ => {}
                    }
                }
            }
            '[' | '{' => {
                depth += 1;
                if depth > MAX_FLOW_DEPTH {
                    return Err((
                        line,
                        format!("collections nest more than {MAX_FLOW_DEPTH} levels deep"),
                    ));
                }
            }
            ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        prev = c;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_flow_nesting_is_refused_with_its_line() {
        let deep = format!("a: 1\nb: {}{}\n", "[".repeat(10_000), "]".repeat(10_000));
        assert_eq!(
            check_yaml(&deep),
            Err((2, "collections nest more than 128 levels deep".into()))
        );
        assert!(check_yaml("a: [[1, 2], {b: [3]}]\nc: \"[[[[\" # [[[[\n").is_ok());
        assert!(check_yaml(&format!("s: '{}'\n", "[".repeat(1000))).is_ok());
    }
}
