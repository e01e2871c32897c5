//! werf.yaml's documents: the file split on `---` lines, each with its first line, and YAML
//! errors placed in the file.

use crate::error::{Error, Location};

/// One YAML document of a multi-document file.
#[derive(Debug, PartialEq, Eq)]
pub struct Document<'a> {
    /// 1-based line of the document's first line in the file.
    pub first_line: usize,
    pub text: &'a str,
}

/// Splits a file on `---` lines; documents holding only comments and blank lines are dropped.
pub fn split_documents(text: &str) -> Vec<Document<'_>> {
    let mut docs = Vec::new();
    let mut start = 0usize;
    let mut start_line = 1usize;
    let mut offset = 0usize;
    fn push<'a>(
        text: &'a str,
        from: usize,
        to: usize,
        first_line: usize,
        docs: &mut Vec<Document<'a>>,
    ) {
        let body = &text[from..to];
        let has_content = body.lines().any(|l| {
            let t = l.trim();
            !t.is_empty() && !t.starts_with('#')
        });
        if has_content {
            docs.push(Document {
                first_line,
                text: body,
            });
        }
    }
    for (line_no, line) in (1usize..).zip(text.split_inclusive('\n')) {
        let trimmed = line.trim_end();
        if trimmed == "---" || trimmed.starts_with("--- ") {
            push(text, start, offset, start_line, &mut docs);
            start = offset + line.len();
            start_line = line_no + 1;
        }
        offset += line.len();
    }
    push(text, start, text.len(), start_line, &mut docs);
    docs
}

pub(crate) fn yaml_error(file: &str, doc: &Document<'_>, err: serde_yaml_ng::Error) -> Error {
    let (line, column) = err
        .location()
        .map(|l| (l.line() + doc.first_line - 1, l.column()))
        .unwrap_or((doc.first_line, 0));
    // Positions inside the message are relative to the document: make them file lines, and drop
    // a trailing one that repeats the reported location.
    let mut message = shift_line_numbers(&err.to_string(), doc.first_line - 1);
    let suffix = format!(" at line {line} column {column}");
    if let Some(stripped) = message.strip_suffix(&suffix) {
        message = stripped.to_string();
    }
    Error::Config {
        at: Location {
            file: file.to_string(),
            line,
            column,
        },
        message,
    }
}

/// Adds `offset` to every `line N` in a parser message.
fn shift_line_numbers(message: &str, offset: usize) -> String {
    let mut out = String::new();
    let mut rest = message;
    while let Some(i) = rest.find("line ") {
        out.push_str(&rest[..i + 5]);
        rest = &rest[i + 5..];
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        match rest[..digits].parse::<usize>() {
            Ok(n) => out.push_str(&(n + offset).to_string()),
            Err(_) => out.push_str(&rest[..digits]),
        }
        rest = &rest[digits..];
    }
    out.push_str(rest);
    out
}

/// The line of a top-level `key:` inside a document (the document's first line if not found).
pub(crate) fn key_line(doc: &Document<'_>, key: &str) -> usize {
    doc.text
        .lines()
        .position(|l| {
            l.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with(':'))
        })
        .map(|i| doc.first_line + i)
        .unwrap_or(doc.first_line)
}
