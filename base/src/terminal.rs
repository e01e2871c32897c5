//! Text the repository chose (file names, image names), made safe to show on a terminal:
//! control characters (an `ESC` that would retitle the window or clear the screen, a `BEL`, a
//! carriage return) are written as C escapes, as git quotes them (`\033`, `\a`, `\r`), so no
//! committed file name can drive the terminal. Line breaks and tabs stay.

use std::borrow::Cow;

/// `text` with every control character but `\n` and `\t` written as an escape.
pub fn terminal_safe(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if !is_unsafe(c) {
            out.push(c);
            continue;
        }
        match c {
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0b' => out.push_str("\\v"),
            '\x0c' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x80 => out.push_str(&format!("\\{:03o}", c as u32)),
            c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        }
    }
    Cow::Owned(out)
}

fn is_unsafe(c: char) -> bool {
    c.is_control() && c != '\n' && c != '\t'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_become_escapes_and_the_rest_stays() {
        let name = "a\x1b]0;owned\x07\x1b[2J\r\x7f\u{9b}b.txt";
        assert_eq!(
            terminal_safe(name),
            "a\\033]0;owned\\a\\033[2J\\r\\177\\u{9b}b.txt"
        );
        assert!(!terminal_safe(name).contains('\x1b'));
        assert!(matches!(
            terminal_safe("plain\tline\n"),
            Cow::Borrowed("plain\tline\n")
        ));
        assert_eq!(terminal_safe("ünïcödé →"), "ünïcödé →");
    }
}
