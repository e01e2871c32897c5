//! Executing template trees with Go's semantics: dot and variables, field access, pipelines,
//! short-circuit `and`/`or`, `range` over lists and maps (sorted keys), `template`/`include`.

use super::funcs::{call, Funcs};
use super::parse::{Arg, Cmd, Node, Pipe, Pos, Set};
use super::value::Value;
use super::Error;

enum Flow {
    Normal,
    Break,
    Continue,
}

/// Executes templates of one set.
pub struct Exec<'a> {
    pub set: &'a Set,
    pub funcs: &'a Funcs,
    pub name: String,
    vars: Vec<(String, Value)>,
    depth: usize,
    /// A field of nil is an error (Helm's `missingkey=zero` behaviour) instead of "no value"
    /// (Go's default).
    pub nil_field_is_error: bool,
}

const MAX_DEPTH: usize = 100_000;

impl<'a> Exec<'a> {
    pub fn new(set: &'a Set, funcs: &'a Funcs) -> Self {
        Exec {
            set,
            funcs,
            name: String::new(),
            vars: Vec::new(),
            depth: 0,
            nil_field_is_error: false,
        }
    }

    /// Renders template `name` with `data` as dot and `$`.
    pub fn render(&mut self, name: &str, data: &Value) -> Result<String, Error> {
        let tree = self.set.trees.get(name).cloned().ok_or_else(|| {
            Error::at(
                name,
                Pos::default(),
                format!("no template {name:?} associated with the set"),
            )
        })?;
        self.depth += 1;
        if self.depth > 1000 {
            return Err(Error::at(
                name,
                Pos::default(),
                "exceeded maximum template depth (1000)".into(),
            ));
        }
        let saved_vars = std::mem::replace(&mut self.vars, vec![("$".into(), data.clone())]);
        let saved_name = std::mem::replace(&mut self.name, name.to_string());
        let mut out = String::new();
        let r = self.walk(&mut out, data, &tree);
        self.vars = saved_vars;
        self.name = saved_name;
        self.depth -= 1;
        r.map(|_| out)
    }

    fn err(&self, pos: Pos, msg: impl Into<String>) -> Error {
        Error::at(&self.name, pos, msg.into())
    }

    fn walk(&mut self, out: &mut String, dot: &Value, nodes: &[Node]) -> Result<Flow, Error> {
        for node in nodes {
            match node {
                Node::Text(t) => out.push_str(t),
                Node::Action(pipe) => {
                    let v = self.pipe(dot, pipe)?;
                    if pipe.decl.is_empty() {
                        match v {
                            Value::Nil => out.push_str("<no value>"),
                            v => out.push_str(&v.to_go_string()),
                        }
                    }
                }
                Node::If(pipe, body, els) | Node::With(pipe, body, els) => {
                    let mark = self.vars.len();
                    let v = self.pipe(dot, pipe)?;
                    let is_with = matches!(node, Node::With(..));
                    let flow = if v.truth() {
                        let new_dot = if is_with { v } else { dot.clone() };
                        self.walk(out, &new_dot, body)?
                    } else if let Some(e) = els {
                        self.walk(out, dot, e)?
                    } else {
                        Flow::Normal
                    };
                    self.vars.truncate(mark);
                    if !matches!(flow, Flow::Normal) {
                        return Ok(flow);
                    }
                }
                Node::Range(pipe, body, els) => {
                    let mark = self.vars.len();
                    let mut p = pipe.clone();
                    let decl = std::mem::take(&mut p.decl);
                    let v = self.pipe(dot, &p)?;
                    let items: Vec<(Value, Value)> = match v {
                        Value::List(l) => l
                            .iter()
                            .cloned()
                            .enumerate()
                            .map(|(i, x)| (Value::Int(i as i64), x))
                            .collect(),
                        Value::Map(m) => m
                            .iter()
                            .map(|(k, x)| (Value::Str(k.clone()), x.clone()))
                            .collect(),
                        Value::Nil => Vec::new(),
                        Value::Int(n) if n >= 0 => {
                            (0..n).map(|i| (Value::Int(i), Value::Int(i))).collect()
                        }
                        other => {
                            return Err(self.err(
                                pipe.pos,
                                format!("range can't iterate over {}", other.to_go_string()),
                            ))
                        }
                    };
                    if items.is_empty() {
                        if let Some(e) = els {
                            self.walk(out, dot, e)?;
                        }
                    }
                    for (k, x) in items {
                        match decl.as_slice() {
                            [] => {}
                            [one] => self.vars.push((one.clone(), x.clone())),
                            [key, val] => {
                                self.vars.push((key.clone(), k));
                                self.vars.push((val.clone(), x.clone()));
                            }
                            _ => return Err(self.err(pipe.pos, "too many declarations in range")),
                        }
                        let flow = self.walk(out, &x, body)?;
                        self.vars.truncate(mark);
                        if matches!(flow, Flow::Break) {
                            break;
                        }
                    }
                    self.vars.truncate(mark);
                }
                Node::Template(pos, name, pipe) => {
                    let data = match pipe {
                        Some(p) => self.pipe(dot, p)?,
                        None => Value::Nil,
                    };
                    let text = self.render(name, &data).map_err(|e| {
                        if e.template.is_empty() {
                            self.err(*pos, e.message)
                        } else {
                            e
                        }
                    })?;
                    out.push_str(&text);
                }
                Node::Break(_) => return Ok(Flow::Break),
                Node::Continue(_) => return Ok(Flow::Continue),
            }
        }
        Ok(Flow::Normal)
    }

    fn pipe(&mut self, dot: &Value, pipe: &Pipe) -> Result<Value, Error> {
        let mut value: Option<Value> = None;
        for cmd in &pipe.cmds {
            value = Some(self.cmd(dot, cmd, value, pipe.pos)?);
        }
        let v = value.unwrap_or(Value::Nil);
        if pipe.assign {
            for name in &pipe.decl {
                match self.vars.iter_mut().rev().find(|(n, _)| n == name) {
                    Some(slot) => slot.1 = v.clone(),
                    None => return Err(self.err(pipe.pos, format!("undefined variable: {name}"))),
                }
            }
        } else {
            for name in &pipe.decl {
                self.vars.push((name.clone(), v.clone()));
            }
        }
        Ok(v)
    }

    fn cmd(
        &mut self,
        dot: &Value,
        cmd: &Cmd,
        piped: Option<Value>,
        pos: Pos,
    ) -> Result<Value, Error> {
        let first = &cmd.args[0];
        if let Arg::Ident(name) = first {
            return self.call_function(dot, name, &cmd.args[1..], piped, pos);
        }
        if cmd.args.len() > 1 || piped.is_some() {
            return Err(self.err(
                pos,
                format!("can't give argument to non-function {}", describe(first)),
            ));
        }
        self.arg(dot, first, pos)
    }

    fn call_function(
        &mut self,
        dot: &Value,
        name: &str,
        args: &[Arg],
        piped: Option<Value>,
        pos: Pos,
    ) -> Result<Value, Error> {
        // `and` and `or` stop at the first argument that decides them, as in Go 1.18+.
        if name == "and" || name == "or" {
            if args.is_empty() && piped.is_none() {
                return Err(self.err(
                    pos,
                    format!("wrong number of args for {name}: want at least 1 got 0"),
                ));
            }
            let mut last = Value::Nil;
            for a in args {
                last = self.arg(dot, a, pos)?;
                if (name == "and") != last.truth() {
                    return Ok(last);
                }
            }
            if let Some(p) = piped {
                last = p;
            }
            return Ok(last);
        }
        let mut values = Vec::with_capacity(args.len() + 1);
        for a in args {
            values.push(self.arg(dot, a, pos)?);
        }
        if let Some(p) = piped {
            values.push(p);
        }
        match name {
            "include" => {
                let Some(Value::Str(t)) = values.first() else {
                    return Err(self.err(
                        pos,
                        "error calling include: the first argument must be a template name",
                    ));
                };
                let data = values.get(1).cloned().unwrap_or(Value::Nil);
                return self.render(t, &data).map(Value::Str);
            }
            "tpl" => {
                let Some(Value::Str(text)) = values.first() else {
                    return Err(self.err(
                        pos,
                        "error calling tpl: the first argument must be a string",
                    ));
                };
                let data = values.get(1).cloned().unwrap_or(Value::Nil);
                let mut set = self.set.clone();
                let tname = format!("{}-tpl", self.name);
                set.parse(&tname, text)?;
                let mut inner = Exec::new(&set, self.funcs);
                inner.depth = self.depth;
                return inner.render(&tname, &data).map(Value::Str);
            }
            _ => {}
        }
        let result = call(self.funcs, name, &values).map_err(|m| self.err(pos, m))?;
        // Go maps are references: `set`, `unset`, `merge` and `mergeOverwrite` change their first
        // argument in place. Values here are shared and immutable, so the changed dict is written
        // back where a variable holds it (`set $d "k" v`, `set $d.inner "k" v`).
        if matches!(name, "set" | "unset" | "merge" | "mergeOverwrite") {
            if let Some(Arg::Var(var, path)) = args.first() {
                if let Some(slot) = self.vars.iter_mut().rev().find(|(n, _)| n == var) {
                    slot.1 = replace_at(&slot.1, path, result.clone());
                }
            }
        }
        Ok(result)
    }

    fn arg(&mut self, dot: &Value, arg: &Arg, pos: Pos) -> Result<Value, Error> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err(pos, "expression too deep"));
        }
        let r = match arg {
            Arg::Dot => Ok(dot.clone()),
            Arg::Field(path) => self.fields(dot.clone(), path, pos),
            Arg::Var(name, path) => {
                let v = self
                    .vars
                    .iter()
                    .rev()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.clone())
                    .ok_or_else(|| self.err(pos, format!("undefined variable: {name}")))?;
                self.fields(v, path, pos)
            }
            Arg::Ident(name) => self.call_function(dot, name, &[], None, pos),
            Arg::Str(s) => Ok(Value::Str(s.clone())),
            Arg::Int(i) => Ok(Value::Int(*i)),
            Arg::Float(f) => Ok(Value::Float(*f)),
            Arg::Bool(b) => Ok(Value::Bool(*b)),
            Arg::Nil => Err(self.err(pos, "nil is not a command")),
            Arg::Sub(p, path) => {
                let v = self.pipe(dot, p)?;
                self.fields(v, path, pos)
            }
        };
        self.depth -= 1;
        r
    }

    fn fields(&self, mut v: Value, path: &[String], pos: Pos) -> Result<Value, Error> {
        for f in path {
            v = match v {
                Value::Map(m) => m.get(f).cloned().unwrap_or(Value::Nil),
                Value::Nil if self.nil_field_is_error => {
                    return Err(self.err(pos, format!("nil pointer evaluating interface {{}}.{f}")));
                }
                Value::Nil => Value::Nil,
                other => {
                    return Err(self.err(
                        pos,
                        format!("can't evaluate field {f} in type {}", go_type(&other)),
                    ));
                }
            };
        }
        Ok(v)
    }
}

/// `root` with the value at `path` (map keys) replaced by `new`.
fn replace_at(root: &Value, path: &[String], new: Value) -> Value {
    let Some((first, rest)) = path.split_first() else {
        return new;
    };
    match root {
        Value::Map(m) => {
            let mut m = (**m).clone();
            let inner = replace_at(m.get(first).unwrap_or(&Value::Nil), rest, new);
            m.insert(first.clone(), inner);
            Value::map(m)
        }
        other => other.clone(),
    }
}

fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Str(_) => "string",
        Value::Int(_) => "int",
        Value::Float(_) => "float64",
        Value::Bool(_) => "bool",
        Value::List(_) => "[]interface {}",
        Value::Map(_) => "map[string]interface {}",
        Value::Nil => "interface {}",
    }
}

fn describe(a: &Arg) -> String {
    match a {
        Arg::Field(p) => format!(".{}", p.join(".")),
        Arg::Var(v, p) if p.is_empty() => v.clone(),
        Arg::Var(v, p) => format!("{v}.{}", p.join(".")),
        Arg::Str(s) => format!("{s:?}"),
        Arg::Int(i) => i.to_string(),
        Arg::Float(f) => f.to_string(),
        Arg::Bool(b) => b.to_string(),
        Arg::Dot => ".".into(),
        Arg::Nil => "nil".into(),
        Arg::Ident(i) => i.clone(),
        Arg::Sub(..) => "(...)".into(),
    }
}
