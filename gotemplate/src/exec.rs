//! Executing template trees with Go's semantics: dot and variables, field access, pipelines,
//! short-circuit `and`/`or`, `range` over lists and maps (sorted keys), `template`/`include`.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

use crate::funcs::{call, check_depth, CallError, Func, FuncError, Funcs};
use crate::parse::{Arg, Cmd, Node, Pipe, Pos, Set};
use crate::value::Value;
use crate::Error;

enum Flow {
    Normal,
    Break,
    Continue,
}

/// Computes one entry of a lazy map (see [`Exec::lazy`]).
pub type Resolver<'a> = &'a dyn Fn(&str) -> Value;

/// Calls a method (`.Files.Get "a"`) of an object value: receiver kind, receiver, method, args;
/// `None` when the method is unknown.
pub type Methods<'a> = &'a dyn Fn(&str, &Value, &str, &[Value]) -> Option<Result<Value, FuncError>>;

/// Functions the caller answers for one run (before the table): name, arguments; `None` when
/// it does not answer for `name`.
pub type RunFunctions<'a> = &'a dyn Fn(&str, &[Value]) -> Option<Result<Value, FuncError>>;

pub use crate::value::OBJECT_KIND;

/// Maps changed in place by `set`, `unset`, `merge` and `mergeOverwrite`. Go's maps are
/// references, so such a change shows through every path to the map (`set .Values.global.redis
/// "password" $p` then `.Values.global.redis.password`); values here are shared and immutable,
/// so each change is recorded by the address of the map it changed, and every read resolves
/// through the record. The originals are kept so that no address is reused while recorded.
#[derive(Default)]
pub struct Patches {
    by_address: HashMap<usize, (Value, Value)>,
    /// Values with every changed map inside them replaced, by address (the value kept, so
    /// that its address stays its own); cleared by a change.
    deep: HashMap<usize, (Value, Value)>,
}

/// The allocation of a map or list (what Go's reference semantics follow).
fn address(v: &Value) -> Option<usize> {
    match v {
        Value::Map(m) => Some(std::sync::Arc::as_ptr(m) as usize),
        Value::List(l) => Some(std::sync::Arc::as_ptr(l) as usize),
        _ => None,
    }
}

impl Patches {
    fn record(&mut self, before: Value, after: Value) {
        if let Some(at) = address(&before) {
            if address(&after) != Some(at) {
                self.by_address.insert(at, (before, after));
                self.deep.clear();
            }
        }
    }

    /// `v` as it is now, when `v` is a map changed since.
    fn resolve(&self, mut v: Value) -> Value {
        // Each change makes a new map, so the chain of changes ends.
        while let Some((_, after)) = address(&v).and_then(|a| self.by_address.get(&a)) {
            v = after.clone();
        }
        v
    }

    /// `v` with every changed map inside it, at any depth, as it is now.
    fn deep(&mut self, v: Value) -> Value {
        if self.by_address.is_empty() {
            return v;
        }
        crate::with_stack(|| self.deep_inner(v))
    }

    fn deep_inner(&mut self, v: Value) -> Value {
        let v = self.resolve(v);
        let Some(at) = address(&v) else { return v };
        if let Some((_, done)) = self.deep.get(&at) {
            return done.clone();
        }
        let out = match &v {
            Value::Map(m) => {
                let mut changed = false;
                let entries: BTreeMap<String, Value> = m
                    .iter()
                    .map(|(k, x)| {
                        let y = self.deep_inner(x.clone());
                        changed |= address(&y) != address(x);
                        (k.clone(), y)
                    })
                    .collect();
                if changed {
                    Value::map(entries)
                } else {
                    v.clone()
                }
            }
            Value::List(l) => {
                let mut changed = false;
                let items: Vec<Value> = l
                    .iter()
                    .map(|x| {
                        let y = self.deep_inner(x.clone());
                        changed |= address(&y) != address(x);
                        y
                    })
                    .collect();
                if changed {
                    Value::list(items)
                } else {
                    v.clone()
                }
            }
            _ => v.clone(),
        };
        self.deep.insert(at, (v, out.clone()));
        out
    }
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
    /// Maps whose entries are computed only when read (placeholder map, resolver): a template
    /// that reads one entry depends on that entry alone. `containers` are the maps that hold
    /// placeholders (at any depth); any other use of either materializes it whole.
    lazy: Vec<(Value, Resolver<'a>)>,
    containers: Vec<Value>,
    materialized: std::collections::HashMap<usize, Value>,
    /// Maps changed in place, shared with the executors `tpl` starts (see [`Patches`]).
    patches: Rc<RefCell<Patches>>,
    /// Methods of object values (maps with [`OBJECT_KIND`]).
    pub methods: Option<Methods<'a>>,
    /// Functions answered by the caller for this run (Helm's `lookup` against a live cluster).
    pub run_functions: Option<RunFunctions<'a>>,
    /// Where the function being called was called (what a context function's errors name).
    pos: Pos,
    /// The argument evaluated last: Go places an argument's type error there.
    last_arg: Pos,
    /// Where Go checks each argument of the function being called (see `call_function`).
    call_args: Vec<Pos>,
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
            lazy: Vec::new(),
            containers: Vec::new(),
            materialized: Default::default(),
            patches: Default::default(),
            methods: None,
            run_functions: None,
            pos: Pos::default(),
            last_arg: Pos::default(),
            call_args: Vec::new(),
        }
    }

    /// Makes `placeholder` (a map whose keys are known, values not) lazy: reading its entry `k`
    /// calls `resolve(k)`. `containers` are the maps (from the root down) that hold it.
    pub fn lazy(&mut self, placeholder: Value, resolve: Resolver<'a>, containers: &[Value]) {
        self.lazy.push((placeholder, resolve));
        self.containers.extend(containers.iter().cloned());
    }

    fn lazy_resolver(&self, v: &Value) -> Option<Resolver<'a>> {
        self.lazy
            .iter()
            .find(|(p, _)| same_map(p, v))
            .map(|(_, r)| *r)
    }

    /// `v` with every lazy entry inside it computed (a plain value any function may use).
    fn materialize(&mut self, v: Value) -> Value {
        let v = self.patches.borrow_mut().deep(v);
        if self.lazy.is_empty() {
            return v;
        }
        let Some(key) = address(&v) else { return v };
        if let Some(done) = self.materialized.get(&key) {
            return done.clone();
        }
        let is_container = self.containers.iter().any(|c| same_map(c, &v));
        let out = if let Some(resolve) = self.lazy_resolver(&v) {
            let Value::Map(m) = &v else { return v };
            Value::map(m.keys().map(|k| (k.clone(), resolve(k))).collect())
        } else if let (true, Value::List(l)) = (is_container, &v) {
            let items: Vec<Value> = l.to_vec();
            Value::list(items.into_iter().map(|x| self.materialize(x)).collect())
        } else if let (true, Value::Map(m)) = (is_container, &v) {
            let entries: Vec<(String, Value)> =
                m.iter().map(|(k, x)| (k.clone(), x.clone())).collect();
            Value::map(
                entries
                    .into_iter()
                    .map(|(k, x)| (k, self.materialize(x)))
                    .collect(),
            )
        } else {
            return v;
        };
        self.materialized.insert(key, out.clone());
        out
    }

    /// Renders template `name` with `data` as dot and `$`.
    pub fn render(&mut self, name: &str, data: &Value) -> Result<String, Error> {
        crate::with_stack(|| self.render_inner(name, data))
    }

    fn render_inner(&mut self, name: &str, data: &Value) -> Result<String, Error> {
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

    /// This set with `text` parsed into it as template `name` (for Helm's `tpl`), replacing any
    /// template of that name even when `text` is empty (Go keeps an older non-empty definition
    /// over an empty one, which made `tpl ""` inside a `tpl` re-run the outer text); errors are
    /// parse errors.
    pub fn parse_text(&self, name: &str, text: &str) -> Result<Set, Error> {
        let mut set = self.set.clone();
        set.trees.remove(name);
        set.parse(name, text)?;
        Ok(set)
    }

    /// Renders template `name` of `set` (this set with more templates: [`Exec::parse_text`])
    /// with this executor's settings, lazy maps and depth.
    pub fn render_with(&mut self, set: &Set, name: &str, data: &Value) -> Result<String, Error> {
        let mut inner = Exec::new(set, self.funcs);
        inner.depth = self.depth;
        inner.nil_field_is_error = self.nil_field_is_error;
        inner.lazy = self.lazy.clone();
        inner.containers = self.containers.clone();
        inner.methods = self.methods;
        inner.run_functions = self.run_functions;
        inner.patches = self.patches.clone();
        inner.render(name, data)
    }

    /// The template being executed.
    pub fn template_name(&self) -> &str {
        &self.name
    }

    /// Field `path` of `v`, as `.a.b` reads it (lazy entries computed), with errors placed at
    /// the call being made.
    pub fn field_path(&self, v: Value, path: &[String]) -> Result<Value, Error> {
        self.fields(v, path, self.pos)
    }

    /// Entry `key` of `map` when `map` is lazy (see [`Exec::lazy`]): `Some(Nil)` for a key it
    /// does not have, `None` when `map` is not lazy.
    pub fn lazy_entry(&self, map: &Value, key: &str) -> Option<Value> {
        let resolve = self.lazy_resolver(map)?;
        let known = matches!(map, Value::Map(m) if m.contains_key(key));
        Some(if known { resolve(key) } else { Value::Nil })
    }

    /// `v` as a plain value: every lazy entry inside it computed.
    pub fn plain(&mut self, v: Value) -> Value {
        self.materialize(v)
    }

    /// A function's error: an argument's type error at that argument (its index over the call's
    /// values; unknown, the argument evaluated last), any other at the call.
    fn call_err(&self, pos: Pos, e: FuncError) -> Error {
        match e {
            FuncError::ArgType { index, message } => {
                let at = index
                    .and_then(|i| self.call_args.get(i).copied())
                    .unwrap_or(self.last_arg);
                self.err(at, message)
            }
            FuncError::Call(m) => self.err(pos, m),
        }
    }

    fn err(&self, pos: Pos, msg: impl Into<String>) -> Error {
        Error::at(&self.name, pos, msg.into())
    }

    fn walk(&mut self, out: &mut String, dot: &Value, nodes: &[Node]) -> Result<Flow, Error> {
        crate::with_stack(|| self.walk_inner(out, dot, nodes))
    }

    fn walk_inner(&mut self, out: &mut String, dot: &Value, nodes: &[Node]) -> Result<Flow, Error> {
        for node in nodes {
            match node {
                Node::Text(t) => out.push_str(t),
                Node::Action(pipe) => {
                    let v = self.pipe(dot, pipe)?;
                    if pipe.decl.is_empty() {
                        match self.materialize(v) {
                            Value::Nil => out.push_str("<no value>"),
                            v => out.push_str(&v.to_action_string()),
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
                    let items: Vec<(Value, Value)> = match self.materialize(v) {
                        Value::List(l) => l
                            .iter()
                            .cloned()
                            .enumerate()
                            .map(|(i, x)| (Value::Int(i as i64), x))
                            .collect(),
                        Value::Map(m) => m
                            .iter()
                            .filter(|(k, _)| !crate::value::hidden(k))
                            .map(|(k, x)| (Value::Str(k.clone()), x.clone()))
                            .collect(),
                        Value::Nil => Vec::new(),
                        Value::Int(n) | Value::Int64(n) if n >= 0 => {
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
        crate::with_stack(|| self.pipe_inner(dot, pipe))
    }

    fn pipe_inner(&mut self, dot: &Value, pipe: &Pipe) -> Result<Value, Error> {
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
        if let Arg::Nil = first {
            return Err(self.err(pos, "nil is not a command"));
        }
        if let Arg::Ident(name) = first {
            return self.call_function(dot, name, &cmd.args[1..], &cmd.pos[1..], piped, pos);
        }
        if let Some(v) = self.method_call(dot, first, &cmd.args[1..], piped.clone(), pos)? {
            return Ok(v);
        }
        if cmd.args.len() > 1 || piped.is_some() {
            return Err(self.err(
                pos,
                format!("can't give argument to non-function {}", describe(first)),
            ));
        }
        let at = cmd.pos.first().copied().unwrap_or(pos);
        self.arg(dot, first, at)
    }

    /// `.Files.Get "x"`: a field path whose last element is a method of an object value.
    fn method_call(
        &mut self,
        dot: &Value,
        first: &Arg,
        args: &[Arg],
        piped: Option<Value>,
        pos: Pos,
    ) -> Result<Option<Value>, Error> {
        let (receiver, method) = match first {
            Arg::Field(path) if !path.is_empty() => {
                let (m, init) = path.split_last().expect("path is not empty");
                (self.fields(dot.clone(), init, pos)?, m)
            }
            Arg::Var(name, path) if !path.is_empty() => {
                let (m, init) = path.split_last().expect("path is not empty");
                let v = self.arg(dot, &Arg::Var(name.clone(), Vec::new()), pos)?;
                (self.fields_of_result(v, init, pos)?, m)
            }
            Arg::Sub(p, path) if !path.is_empty() => {
                let (m, init) = path.split_last().expect("path is not empty");
                let v = self.pipe(dot, p)?;
                (self.fields_of_result(v, init, sub_pos(p, pos))?, m)
            }
            _ => return Ok(None),
        };
        let kind = match &receiver {
            Value::Map(m) => match m.get(OBJECT_KIND) {
                Some(Value::Str(k)) => k.clone(),
                _ => return Ok(None),
            },
            // A list may be an object too (`.Capabilities.APIVersions.Has`): the caller knows.
            Value::List(_) => "list".to_string(),
            _ => return Ok(None),
        };
        let mut values = Vec::with_capacity(args.len() + 1);
        for a in args {
            let v = self.arg(dot, a, pos)?;
            values.push(self.materialize(v));
        }
        values.extend(piped);
        match self.call_method(&kind, &receiver, method, &values) {
            Some(r) => r
                .map(Some)
                .map_err(|m| self.err(pos, format!("error calling {method}: {m}"))),
            // A plain list: the usual field error follows.
            None if kind == "list" => Ok(None),
            None => Err(self.err(pos, format!("can't evaluate field {method} in type {kind}"))),
        }
    }

    /// A method of an object value: the engine's own objects (`*semver.Version`), then the
    /// caller's ([`Exec::methods`]).
    fn call_method(
        &self,
        kind: &str,
        receiver: &Value,
        method: &str,
        args: &[Value],
    ) -> Option<Result<Value, FuncError>> {
        if kind == crate::semver::KIND {
            return crate::semver::method(receiver, method, args).map(|r| r.map_err(Into::into));
        }
        self.methods.and_then(|m| m(kind, receiver, method, args))
    }

    fn call_function(
        &mut self,
        dot: &Value,
        name: &str,
        args: &[Arg],
        arg_pos: &[Pos],
        piped: Option<Value>,
        pos: Pos,
    ) -> Result<Value, Error> {
        self.last_arg = pos;
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
        // Where Go would be when it checks each argument's type: at the last node it evaluated
        // for it (inside a parenthesized pipeline, its last node).
        let mut checked_at = Vec::with_capacity(args.len() + 1);
        for (i, a) in args.iter().enumerate() {
            let at = arg_pos.get(i).copied().unwrap_or(pos);
            self.last_arg = at;
            values.push(self.arg(dot, a, at)?);
            checked_at.push(self.last_arg);
        }
        // The map a changing function changes: the first operand as the template reached it.
        let target = values
            .first()
            .filter(|v| matches!(v, Value::Map(_)))
            .cloned();
        if let Some(p) = piped {
            values.push(p);
        }
        checked_at.resize(values.len(), self.last_arg);
        self.call_args = checked_at;
        // Go's `call`: there are no function values here, so it fails, naming its first operand
        // as Go prints the node.
        if name == "call" {
            let message = match (values.first(), args.first()) {
                (None | Some(Value::Nil), _) => "call of nil".to_string(),
                (Some(v), Some(node)) => format!(
                    "non-function {} of type {}",
                    describe(node),
                    crate::sprig::go_type(v)
                ),
                (Some(v), None) => format!(
                    "non-function {} of type {}",
                    v.to_go_string(),
                    crate::sprig::go_type(v)
                ),
            };
            return Err(self.err(pos, format!("error calling call: {message}")));
        }
        // Context functions take their arguments as they are (lazy maps stay lazy: `include`
        // passes them on, `werf_image` reads one entry).
        if let Some(Func::Context(f)) = self.funcs.get(name) {
            let f = f.clone();
            let saved = std::mem::replace(&mut self.pos, pos);
            let r = f(self, &values);
            self.pos = saved;
            return match r {
                Ok(v) => check_depth(name, v).map_err(|e| self.err(pos, e.to_string())),
                Err(CallError::Message(m)) => {
                    Err(self.err(pos, format!("error calling {name}: {m}")))
                }
                Err(CallError::Template(e)) => Err(e),
            };
        }
        // Lazy maps pass through the calls that only pass data on or read one entry; what
        // `tuple`/`list`/`dict` wrap around one becomes a container of it.
        match name {
            "tuple" | "list" | "dict" if !self.lazy.is_empty() => {
                let holds = values.iter().any(|v| {
                    self.lazy_resolver(v).is_some()
                        || self.containers.iter().any(|c| same_map(c, v))
                });
                let result = call(self.funcs, name, &values).map_err(|m| self.call_err(pos, m))?;
                if holds {
                    self.containers.push(result.clone());
                }
                return Ok(result);
            }
            "index" if values.len() == 2 => {
                if let (Some(resolve), Value::Str(k)) = (self.lazy_resolver(&values[0]), &values[1])
                {
                    let known = matches!(&values[0], Value::Map(m) if m.contains_key(k));
                    return Ok(if known { resolve(k) } else { Value::Nil });
                }
            }
            _ => {
                for v in values.iter_mut() {
                    *v = self.materialize(std::mem::replace(v, Value::Nil));
                }
            }
        }
        if let Some(answer) = self.run_functions.and_then(|f| f(name, &values)) {
            return answer.map_err(|m| self.err(pos, format!("error calling {name}: {m}")));
        }
        let result = call(self.funcs, name, &values).map_err(|m| self.call_err(pos, m))?;
        // Go maps are references: `set`, `unset`, `merge` and `mergeOverwrite` change their first
        // argument in place, and every path to that map sees the change.
        if let (true, Some(target)) = (
            matches!(name, "set" | "unset" | "merge" | "mergeOverwrite"),
            target,
        ) {
            self.patches.borrow_mut().record(target, result.clone());
        }
        Ok(result)
    }

    fn arg(&mut self, dot: &Value, arg: &Arg, pos: Pos) -> Result<Value, Error> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err(pos, "expression too deep"));
        }
        let r = match arg {
            Arg::Dot => Ok(self.patches.borrow().resolve(dot.clone())),
            Arg::Field(path) => self.fields(dot.clone(), path, pos),
            Arg::Var(name, path) => {
                let v = self
                    .vars
                    .iter()
                    .rev()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.clone())
                    .ok_or_else(|| self.err(pos, format!("undefined variable: {name}")))?;
                let v = self.patches.borrow().resolve(v);
                self.fields_of_result(v, path, pos)
            }
            Arg::Ident(name) => self.call_function(dot, name, &[], &[], None, pos),
            Arg::Str(s) => Ok(Value::Str(s.clone())),
            Arg::Int(i) => Ok(Value::Int(*i)),
            Arg::Float(f) => Ok(Value::Float(*f)),
            Arg::Bool(b) => Ok(Value::Bool(*b)),
            // `nil` is a value as an argument; as a command it is an error (see `cmd`).
            Arg::Nil => Ok(Value::Nil),
            Arg::Sub(p, path) => {
                let v = self.pipe(dot, p)?;
                self.fields_of_result(v, path, sub_pos(p, pos))
            }
        };
        self.depth -= 1;
        r
    }

    /// Fields of a pipeline's result or a variable (`(.a.b).c`, `$x.c`). Go unwraps such a value
    /// out of its interface, so a nil there is no value at all, and each field of it is nil
    /// again, never an error (Helm 4 renders `(.Values.resources.limits).cpu` with no limits).
    fn fields_of_result(&self, v: Value, path: &[String], pos: Pos) -> Result<Value, Error> {
        if matches!(v, Value::Nil) {
            return Ok(Value::Nil);
        }
        self.fields(v, path, pos)
    }

    fn fields(&self, mut v: Value, path: &[String], pos: Pos) -> Result<Value, Error> {
        let patches = self.patches.borrow();
        v = patches.resolve(v);
        for f in path {
            if let Some(resolve) = self.lazy_resolver(&v) {
                let known = matches!(&v, Value::Map(m) if m.contains_key(f));
                v = if known { resolve(f) } else { Value::Nil };
                continue;
            }
            // A method without arguments (`(.Files.Glob "x").AsConfig`).
            if let Value::List(_) = &v {
                if let Some(r) = self.call_method("list", &v, f, &[]) {
                    v = r.map_err(|m| self.err(pos, format!("error calling {f}: {m}")))?;
                    continue;
                }
            }
            if let Value::Map(m) = &v {
                if let (Some(Value::Str(kind)), false) = (m.get(OBJECT_KIND), m.contains_key(f)) {
                    v = match self.call_method(kind, &v, f, &[]) {
                        Some(r) => {
                            r.map_err(|m| self.err(pos, format!("error calling {f}: {m}")))?
                        }
                        None => {
                            return Err(
                                self.err(pos, format!("can't evaluate field {f} in type {kind}"))
                            )
                        }
                    };
                    continue;
                }
            }
            v = match v {
                Value::Map(m) => patches.resolve(m.get(f).cloned().unwrap_or(Value::Nil)),
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

/// Where Go places an error in the fields of `(pipeline).a.b`: at the pipeline's first operand.
fn sub_pos(p: &Pipe, fallback: Pos) -> Pos {
    p.cmds
        .first()
        .and_then(|c| c.pos.first())
        .copied()
        .filter(|p| p.line > 0)
        .unwrap_or(fallback)
}

/// Whether `a` and `b` are the same map or list (not equal ones: the same allocation).
fn same_map(a: &Value, b: &Value) -> bool {
    address(a).is_some() && address(a) == address(b)
}

fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Str(_) => "string",
        Value::Int(_) => "int",
        Value::Int64(_) => "int64",
        Value::Bytes(_) => "[]uint8",
        Value::Time(_) => "time.Time",
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
