//! Lexing and parsing Go `text/template` source into trees (one per template name).

use std::collections::HashMap;
use std::sync::Arc;

use crate::Error;

/// A line and column (1-based) in a template.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

/// An operand of a command.
#[derive(Clone, Debug, PartialEq)]
pub enum Arg {
    Dot,
    /// `.a.b`
    Field(Vec<String>),
    /// `$x.a.b` (`$` alone is the root)
    Var(String, Vec<String>),
    /// A function name.
    Ident(String),
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Nil,
    /// `(pipeline).a.b`
    Sub(Box<Pipe>, Vec<String>),
}

/// One command of a pipeline: a function and its arguments, or a single operand.
#[derive(Clone, Debug, PartialEq)]
pub struct Cmd {
    pub args: Vec<Arg>,
    /// Where each argument is, as Go places its node (a field chain at its second field).
    pub pos: Vec<Pos>,
}

/// A pipeline with optional variable declarations (`$x :=`) or assignment (`$x =`).
#[derive(Clone, Debug, PartialEq)]
pub struct Pipe {
    pub pos: Pos,
    pub decl: Vec<String>,
    pub assign: bool,
    pub cmds: Vec<Cmd>,
}

/// A node of a template tree.
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    Text(String),
    Action(Pipe),
    If(Pipe, Vec<Node>, Option<Vec<Node>>),
    Range(Pipe, Vec<Node>, Option<Vec<Node>>),
    With(Pipe, Vec<Node>, Option<Vec<Node>>),
    Template(Pos, String, Option<Pipe>),
    Break(Pos),
    Continue(Pos),
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Text(String),
    Open,
    Close,
    Ident(String),
    Field(String),
    Dot,
    Var(String),
    Str(String),
    Char(char),
    Num(String),
    LParen,
    RParen,
    Pipe,
    Declare,
    Assign,
    Comma,
}

#[derive(Clone, Debug)]
struct Item {
    tok: Tok,
    pos: Pos,
    /// Whitespace came right before this token (fields attach only when it did not).
    spaced: bool,
}

/// The most deeply nested a template may be (control structures, parentheses, `define` bodies
/// together). Go allows more, but no real chart comes near it, and a limit keeps recursion off
/// the end of the stack for hostile input.
pub const MAX_DEPTH: usize = 200;

/// Where each line starts: byte offsets become line and column in `O(log n)`, so positioning
/// every token of a large template stays linear overall.
struct Lines {
    starts: Vec<usize>,
}

impl Lines {
    fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Lines { starts }
    }

    fn pos(&self, offset: usize) -> Pos {
        let line = self.starts.partition_point(|&s| s <= offset);
        let start = self.starts[line.saturating_sub(1)];
        Pos {
            line,
            col: offset - start + 1,
        }
    }
}

/// The character at byte `j` of `text` (`j` on a character boundary).
fn char_at(text: &str, j: usize) -> char {
    text[j..].chars().next().unwrap_or('\0')
}

fn lex(name: &str, text: &str) -> Result<Vec<Item>, Error> {
    let lines = Lines::new(text);
    let pos_at = |_: &str, offset: usize| lines.pos(offset);
    let err = |offset: usize, msg: String| Error::at(name, pos_at(text, offset), msg);
    let mut items: Vec<Item> = Vec::new();
    let mut i = 0;
    let mut trim_next = false;
    let bytes = text.as_bytes();
    while i < text.len() {
        let open = text[i..].find("{{").map(|o| o + i);
        let end = open.unwrap_or(text.len());
        let mut chunk = &text[i..end];
        if trim_next {
            chunk = chunk.trim_start_matches([' ', '\t', '\r', '\n']);
            trim_next = false;
        }
        let trim_left = open.is_some_and(|o| {
            text[o + 2..].starts_with("- ")
                || text[o + 2..].starts_with("-\t")
                || text[o + 2..].starts_with("-\n")
                || text[o + 2..].starts_with("-\r")
        });
        if trim_left {
            chunk = chunk.trim_end_matches([' ', '\t', '\r', '\n']);
        }
        if !chunk.is_empty() {
            items.push(Item {
                tok: Tok::Text(chunk.to_string()),
                pos: pos_at(text, i),
                spaced: false,
            });
        }
        let Some(o) = open else { break };
        let mut j = o + 2 + if trim_left { 2 } else { 0 };
        // Comments: {{/* ... */}} with optional trim markers.
        let rest = text[j..].trim_start_matches([' ', '\t', '\r', '\n']);
        if rest.starts_with("/*") && (trim_left || j == o + 2) {
            let start = j + (text[j..].len() - rest.len());
            let close = text[start..]
                .find("*/")
                .ok_or_else(|| err(o, "unclosed comment".into()))?
                + start
                + 2;
            let after = &text[close..];
            let (trim_right, skip) = if after.starts_with(" -}}") {
                (true, 4)
            } else if after.starts_with("}}") {
                (false, 2)
            } else {
                return Err(err(close, "comment ends before closing delimiter".into()));
            };
            trim_next = trim_right;
            i = close + skip;
            continue;
        }
        items.push(Item {
            tok: Tok::Open,
            pos: pos_at(text, o),
            spaced: false,
        });
        let mut spaced = true;
        loop {
            if j >= text.len() {
                return Err(err(o, "unclosed action".into()));
            }
            let c = char_at(text, j);
            if text[j..].starts_with(" -}}") {
                items.push(Item {
                    tok: Tok::Close,
                    pos: pos_at(text, j),
                    spaced: true,
                });
                trim_next = true;
                j += 4;
                break;
            }
            if text[j..].starts_with("}}") {
                items.push(Item {
                    tok: Tok::Close,
                    pos: pos_at(text, j),
                    spaced,
                });
                j += 2;
                break;
            }
            if c.is_whitespace() {
                spaced = true;
                j += c.len_utf8();
                continue;
            }
            let start = j;
            let pos = pos_at(text, j);
            let tok = match c {
                '(' => {
                    j += 1;
                    Tok::LParen
                }
                ')' => {
                    j += 1;
                    Tok::RParen
                }
                '|' => {
                    j += 1;
                    Tok::Pipe
                }
                ',' => {
                    j += 1;
                    Tok::Comma
                }
                '=' => {
                    j += 1;
                    Tok::Assign
                }
                ':' if text[j..].starts_with(":=") => {
                    j += 2;
                    Tok::Declare
                }
                '"' => {
                    let (s, len) = lex_string(&text[j..])
                        .ok_or_else(|| err(j, "unterminated quoted string".into()))?;
                    j += len;
                    Tok::Str(s)
                }
                '`' => {
                    let close = text[j + 1..]
                        .find('`')
                        .ok_or_else(|| err(j, "unterminated raw quoted string".into()))?;
                    let s = text[j + 1..j + 1 + close].to_string();
                    j += close + 2;
                    Tok::Str(s)
                }
                '\'' => {
                    let close = text[j + 1..]
                        .find('\'')
                        .ok_or_else(|| err(j, "unterminated character constant".into()))?;
                    let inner = &text[j + 1..j + 1 + close];
                    let ch = match inner {
                        "\\n" => '\n',
                        "\\t" => '\t',
                        "\\\\" => '\\',
                        "\\'" => '\'',
                        s => s
                            .chars()
                            .next()
                            .ok_or_else(|| err(j, "empty character constant".into()))?,
                    };
                    j += close + 2;
                    Tok::Char(ch)
                }
                '$' => {
                    j += 1;
                    while j < text.len() && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_') {
                        j += 1;
                    }
                    Tok::Var(text[start..j].to_string())
                }
                '.' if j + 1 < text.len()
                    && (bytes[j + 1].is_ascii_alphabetic() || bytes[j + 1] == b'_') =>
                {
                    j += 1;
                    while j < text.len() && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_') {
                        j += 1;
                    }
                    Tok::Field(text[start + 1..j].to_string())
                }
                '.' if !(j + 1 < text.len() && bytes[j + 1].is_ascii_digit()) => {
                    j += 1;
                    Tok::Dot
                }
                c if c.is_ascii_digit()
                    || c == '.'
                    || ((c == '-' || c == '+')
                        && j + 1 < text.len()
                        && (bytes[j + 1].is_ascii_digit() || bytes[j + 1] == b'.')) =>
                {
                    j += 1;
                    while j < text.len() {
                        let d = bytes[j] as char;
                        let exp_sign = (d == '-' || d == '+')
                            && matches!(bytes[j - 1], b'e' | b'E')
                            && !text[start..j].starts_with("0x");
                        if d.is_ascii_alphanumeric() || d == '.' || d == '_' || exp_sign {
                            j += 1;
                        } else {
                            break;
                        }
                    }
                    Tok::Num(text[start..j].to_string())
                }
                c if c.is_alphabetic() || c == '_' => {
                    while j < text.len() {
                        let d = char_at(text, j);
                        if !(d.is_alphanumeric() || d == '_') {
                            break;
                        }
                        j += d.len_utf8();
                    }
                    Tok::Ident(text[start..j].to_string())
                }
                other => return Err(err(j, format!("unexpected {other:?} in command"))),
            };
            items.push(Item { tok, pos, spaced });
            spaced = false;
        }
        i = j;
    }
    Ok(items)
}

/// A Go interpreted string literal at the start of `s`: its value and length in bytes.
fn lex_string(s: &str) -> Option<(String, usize)> {
    let mut out = String::new();
    let mut chars = s.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, i + 1)),
            '\n' => return None,
            '\\' => {
                let (_, e) = chars.next()?;
                match e {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    '"' => out.push('"'),
                    '\\' => out.push('\\'),
                    '\'' => out.push('\''),
                    'a' => out.push('\x07'),
                    'b' => out.push('\x08'),
                    'f' => out.push('\x0c'),
                    'v' => out.push('\x0b'),
                    'x' | 'u' | 'U' => {
                        let n = match e {
                            'x' => 2,
                            'u' => 4,
                            _ => 8,
                        };
                        let hex: String = (0..n)
                            .filter_map(|_| chars.next().map(|(_, h)| h))
                            .collect();
                        out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                    }
                    _ => return None,
                }
            }
            c => out.push(c),
        }
    }
    None
}

/// Parsed templates by name.
/// Which function names a set's templates may call.
pub type KnownFunctions = Arc<dyn Fn(&str) -> bool + Send + Sync>;

#[derive(Clone, Default)]
pub struct Set {
    pub trees: HashMap<String, Arc<Vec<Node>>>,
    /// When set, a call of a function outside it is a parse error, as in Go (`Funcs` before
    /// `Parse`); the executor's own `and` and `or` are always known.
    pub functions: Option<KnownFunctions>,
}

impl Set {
    /// A set whose templates may call only `funcs` (checked when parsing, as Go does).
    pub fn with_functions(funcs: Arc<crate::funcs::Funcs>) -> Self {
        Set {
            trees: HashMap::new(),
            functions: Some(Arc::new(move |f: &str| funcs.contains(f))),
        }
    }
}

impl std::fmt::Debug for Set {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Set")
            .field("trees", &self.trees.len())
            .finish()
    }
}

/// The first call of an unknown function in `nodes`, with the pipeline's position.
fn unknown_function(nodes: &[Node], known: &dyn Fn(&str) -> bool) -> Option<(Pos, String)> {
    fn in_pipe(p: &Pipe, known: &dyn Fn(&str) -> bool) -> Option<(Pos, String)> {
        for c in &p.cmds {
            for a in &c.args {
                match a {
                    Arg::Ident(f) if !matches!(f.as_str(), "and" | "or") && !known(f) => {
                        return Some((p.pos, f.clone()))
                    }
                    Arg::Sub(inner, _) => {
                        if let Some(hit) = in_pipe(inner, known) {
                            return Some(hit);
                        }
                    }
                    _ => {}
                }
            }
        }
        None
    }
    for n in nodes {
        let hit = match n {
            Node::Action(p) => in_pipe(p, known),
            Node::If(p, a, b) | Node::Range(p, a, b) | Node::With(p, a, b) => in_pipe(p, known)
                .or_else(|| unknown_function(a, known))
                .or_else(|| b.as_deref().and_then(|b| unknown_function(b, known))),
            Node::Template(_, _, Some(p)) => in_pipe(p, known),
            _ => None,
        };
        if hit.is_some() {
            return hit;
        }
    }
    None
}

/// The keyword that ended a list (`end` or `else`) and where.
type Terminator = (String, Pos);

struct Parser<'a> {
    name: &'a str,
    items: Vec<Item>,
    i: usize,
    defines: Vec<(String, Vec<Node>)>,
    /// Current nesting, bounded by [`MAX_DEPTH`].
    depth: usize,
}

impl Set {
    /// Parses `text` as template `name`; its `define`/`block` templates join the set too.
    pub fn parse(&mut self, name: &str, text: &str) -> Result<(), Error> {
        self.parse_tree(name, text).map_err(|mut e| {
            e.parse = true;
            e
        })
    }

    fn parse_tree(&mut self, name: &str, text: &str) -> Result<(), Error> {
        let items = lex(name, text)?;
        let mut p = Parser {
            name,
            items,
            i: 0,
            defines: Vec::new(),
            depth: 0,
        };
        let (nodes, end) = p.list()?;
        if let Some((kw, pos)) = end {
            return Err(Error::at(name, pos, format!("unexpected {{{{{kw}}}}}")));
        }
        if let Some(known) = &self.functions {
            let trees = std::iter::once(&nodes).chain(p.defines.iter().map(|(_, t)| t));
            for tree in trees {
                if let Some((pos, f)) = unknown_function(tree, &**known) {
                    return Err(Error::at(name, pos, format!("function {f:?} not defined")));
                }
            }
        }
        for (n, tree) in p.defines {
            self.trees.insert(n, Arc::new(tree));
        }
        // A file made only of definitions does not replace an earlier template of its name.
        let only_defines = nodes
            .iter()
            .all(|n| matches!(n, Node::Text(t) if t.trim().is_empty()));
        if !only_defines || !self.trees.contains_key(name) {
            self.trees.insert(name.to_string(), Arc::new(nodes));
        }
        Ok(())
    }
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Item> {
        self.items.get(self.i)
    }

    fn next(&mut self) -> Option<Item> {
        let it = self.items.get(self.i).cloned();
        self.i += 1;
        it
    }

    fn err(&self, pos: Pos, msg: impl Into<String>) -> Error {
        Error::at(self.name, pos, msg.into())
    }

    fn here(&self) -> Pos {
        self.peek().map(|i| i.pos).unwrap_or_default()
    }

    /// Runs `f` one level deeper, failing past [`MAX_DEPTH`].
    fn nested<T>(
        &mut self,
        pos: Pos,
        f: impl FnOnce(&mut Self) -> Result<T, Error>,
    ) -> Result<T, Error> {
        if self.depth >= MAX_DEPTH {
            return Err(self.err(
                pos,
                format!(
                    "max expression depth exceeded (templates nest at most {MAX_DEPTH} levels)"
                ),
            ));
        }
        self.depth += 1;
        let out = crate::with_stack(|| f(self));
        self.depth -= 1;
        out
    }

    /// Nodes until `{{end}}`/`{{else}}` (returned) or the end of input.
    fn list(&mut self) -> Result<(Vec<Node>, Option<Terminator>), Error> {
        let mut nodes = Vec::new();
        while let Some(item) = self.next() {
            match item.tok {
                Tok::Text(t) => nodes.push(Node::Text(t)),
                Tok::Open => {
                    let kw = match self.peek() {
                        Some(Item {
                            tok: Tok::Ident(k), ..
                        }) => k.clone(),
                        _ => String::new(),
                    };
                    let pos = self.here();
                    match kw.as_str() {
                        "end" => {
                            self.i += 1;
                            self.close(pos)?;
                            return Ok((nodes, Some((kw, pos))));
                        }
                        "else" => {
                            self.i += 1;
                            return Ok((nodes, Some((kw, pos))));
                        }
                        "if" | "range" | "with" => {
                            self.i += 1;
                            nodes.push(self.nested(pos, |p| p.control(&kw, pos))?);
                        }
                        "define" => {
                            self.i += 1;
                            let name = self.string_arg(pos, "define")?;
                            self.close(pos)?;
                            let (body, end) = self.nested(pos, Self::list)?;
                            self.expect_end(end, pos, "define")?;
                            self.defines.push((name, body));
                        }
                        "template" | "block" => {
                            self.i += 1;
                            let name = self.string_arg(pos, &kw)?;
                            let pipe = if matches!(
                                self.peek(),
                                Some(Item {
                                    tok: Tok::Close,
                                    ..
                                })
                            ) {
                                None
                            } else {
                                Some(self.pipeline(false)?)
                            };
                            self.close(pos)?;
                            if kw == "block" {
                                let (body, end) = self.nested(pos, Self::list)?;
                                self.expect_end(end, pos, "block")?;
                                self.defines.push((name.clone(), body));
                            }
                            nodes.push(Node::Template(pos, name, pipe));
                        }
                        "break" | "continue" => {
                            self.i += 1;
                            self.close(pos)?;
                            nodes.push(if kw == "break" {
                                Node::Break(pos)
                            } else {
                                Node::Continue(pos)
                            });
                        }
                        _ => {
                            let pipe = self.pipeline(true)?;
                            self.close(pos)?;
                            nodes.push(Node::Action(pipe));
                        }
                    }
                }
                other => return Err(self.err(item.pos, format!("unexpected {other:?}"))),
            }
        }
        Ok((nodes, None))
    }

    fn expect_end(&self, end: Option<Terminator>, pos: Pos, what: &str) -> Result<(), Error> {
        match end {
            Some((kw, _)) if kw == "end" => Ok(()),
            Some((kw, p)) => Err(self.err(p, format!("unexpected {{{{{kw}}}}} in {what}"))),
            None => Err(self.err(
                pos,
                format!("unexpected EOF: {{{{{what}}}}} has no {{{{end}}}}"),
            )),
        }
    }

    fn close(&mut self, pos: Pos) -> Result<(), Error> {
        match self.next() {
            Some(Item {
                tok: Tok::Close, ..
            }) => Ok(()),
            Some(it) => Err(self.err(it.pos, format!("unexpected {:?} in action", it.tok))),
            None => Err(self.err(pos, "unclosed action")),
        }
    }

    fn string_arg(&mut self, pos: Pos, what: &str) -> Result<String, Error> {
        match self.next() {
            Some(Item {
                tok: Tok::Str(s), ..
            }) => Ok(s),
            _ => Err(self.err(pos, format!("{what} needs a quoted template name"))),
        }
    }

    fn control(&mut self, kw: &str, pos: Pos) -> Result<Node, Error> {
        let pipe = self.pipeline(true)?;
        if pipe.cmds.is_empty() {
            return Err(self.err(pos, format!("missing value for {kw}")));
        }
        self.close(pos)?;
        let (body, end) = self.list()?;
        let else_list = match end {
            Some((k, _)) if k == "end" => None,
            Some((k, p)) if k == "else" => {
                // `{{else if ...}}` / `{{else with ...}}` chain into a nested node.
                let chained = match self.peek() {
                    Some(Item {
                        tok: Tok::Ident(n), ..
                    }) if (n == "if" || n == "with") && n == kw => Some(n.clone()),
                    _ => None,
                };
                if let Some(n) = chained {
                    self.i += 1;
                    let nested = self.nested(p, |parser| parser.control(&n, p))?;
                    Some(vec![nested])
                } else {
                    self.close(p)?;
                    let (els, end) = self.list()?;
                    self.expect_end(end, pos, kw)?;
                    Some(els)
                }
            }
            Some((k, p)) => return Err(self.err(p, format!("unexpected {{{{{k}}}}}"))),
            None => {
                return Err(self.err(
                    pos,
                    format!("unexpected EOF: {{{{{kw}}}}} has no {{{{end}}}}"),
                ))
            }
        };
        Ok(match kw {
            "if" => Node::If(pipe, body, else_list),
            "range" => Node::Range(pipe, body, else_list),
            _ => Node::With(pipe, body, else_list),
        })
    }

    /// `[$x [, $y] (:= | =)] command (| command)*`, up to `}}` or `)`.
    fn pipeline(&mut self, allow_decl: bool) -> Result<Pipe, Error> {
        let pos = self.here();
        let mut decl = Vec::new();
        let mut assign = false;
        if allow_decl {
            let save = self.i;
            let mut vars = Vec::new();
            while let Some(Item {
                tok: Tok::Var(v), ..
            }) = self.peek().cloned()
            {
                self.i += 1;
                vars.push(v);
                match self.peek().map(|i| i.tok.clone()) {
                    Some(Tok::Comma) => {
                        self.i += 1;
                    }
                    Some(Tok::Declare) => {
                        self.i += 1;
                        decl = vars.clone();
                        break;
                    }
                    Some(Tok::Assign) => {
                        self.i += 1;
                        decl = vars.clone();
                        assign = true;
                        break;
                    }
                    _ => break,
                }
            }
            if decl.is_empty() {
                self.i = save;
            }
        }
        let mut cmds = Vec::new();
        loop {
            let cmd = self.command()?;
            if cmd.args.is_empty() {
                if !cmds.is_empty() {
                    return Err(self.err(self.here(), "missing command after `|`"));
                }
                break;
            }
            cmds.push(cmd);
            if matches!(self.peek(), Some(Item { tok: Tok::Pipe, .. })) {
                self.i += 1;
            } else {
                break;
            }
        }
        if !decl.is_empty() && cmds.is_empty() {
            return Err(self.err(pos, "missing value for declaration"));
        }
        Ok(Pipe {
            pos,
            decl,
            assign,
            cmds,
        })
    }

    fn command(&mut self) -> Result<Cmd, Error> {
        let mut args = Vec::new();
        let mut pos: Vec<Pos> = Vec::new();
        let mut chained: Vec<bool> = Vec::new();
        while let Some(item) = self.peek().cloned() {
            let arg = match item.tok {
                Tok::Close | Tok::RParen | Tok::Pipe => break,
                Tok::Field(f) if !item.spaced && !args.is_empty() => {
                    // `.a` right after an operand: a field of it.
                    self.i += 1;
                    let last = args.pop().expect("an operand precedes");
                    args.push(attach(last, f));
                    // Go places a chain at its first attached field.
                    if chained.last() == Some(&false) {
                        if let (Some(p), Some(c)) = (pos.last_mut(), chained.last_mut()) {
                            *p = item.pos;
                            *c = true;
                        }
                    }
                    continue;
                }
                Tok::Dot => {
                    self.i += 1;
                    Arg::Dot
                }
                Tok::Field(f) => {
                    self.i += 1;
                    Arg::Field(vec![f])
                }
                Tok::Var(v) => {
                    self.i += 1;
                    Arg::Var(v, Vec::new())
                }
                Tok::Str(s) => {
                    self.i += 1;
                    Arg::Str(s)
                }
                Tok::Char(c) => {
                    self.i += 1;
                    Arg::Int(c as i64)
                }
                Tok::Num(n) => {
                    self.i += 1;
                    parse_number(&n)
                        .ok_or_else(|| self.err(item.pos, format!("bad number syntax: {n:?}")))?
                }
                Tok::Ident(id) => {
                    self.i += 1;
                    match id.as_str() {
                        "true" => Arg::Bool(true),
                        "false" => Arg::Bool(false),
                        "nil" => Arg::Nil,
                        _ => Arg::Ident(id),
                    }
                }
                Tok::LParen => {
                    self.i += 1;
                    let inner = self.nested(item.pos, |p| p.pipeline(false))?;
                    match self.next() {
                        Some(Item {
                            tok: Tok::RParen, ..
                        }) => {}
                        _ => return Err(self.err(item.pos, "unclosed left paren")),
                    }
                    Arg::Sub(Box::new(inner), Vec::new())
                }
                other => return Err(self.err(item.pos, format!("unexpected {other:?} in operand"))),
            };
            args.push(arg);
            pos.push(item.pos);
            chained.push(false);
        }
        Ok(Cmd { args, pos })
    }
}

fn attach(arg: Arg, field: String) -> Arg {
    match arg {
        Arg::Field(mut f) => {
            f.push(field);
            Arg::Field(f)
        }
        Arg::Var(v, mut f) => {
            f.push(field);
            Arg::Var(v, f)
        }
        Arg::Sub(p, mut f) => {
            f.push(field);
            Arg::Sub(p, f)
        }
        Arg::Dot => Arg::Field(vec![field]),
        other => Arg::Sub(
            Box::new(Pipe {
                pos: Pos::default(),
                decl: vec![],
                assign: false,
                cmds: vec![Cmd {
                    args: vec![other],
                    pos: vec![Pos::default()],
                }],
            }),
            vec![field],
        ),
    }
}

fn parse_number(n: &str) -> Option<Arg> {
    let clean = n.replace('_', "");
    let (neg, body) = match clean.strip_prefix('-') {
        Some(b) => (true, b.to_string()),
        None => (false, clean.trim_start_matches('+').to_string()),
    };
    let int = if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        i64::from_str_radix(h, 16).ok()
    } else if let Some(o) = body.strip_prefix("0o") {
        i64::from_str_radix(o, 8).ok()
    } else if body.contains(['.', 'e', 'E']) {
        None
    } else {
        body.parse::<i64>().ok()
    };
    if let Some(i) = int {
        return Some(Arg::Int(if neg { -i } else { i }));
    }
    let f: f64 = body.parse().ok()?;
    Some(Arg::Float(if neg { -f } else { f }))
}
