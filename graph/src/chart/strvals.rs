//! `--set` and `--set-string` read as Helm's `strvals` reads them: `a.b=c,d[0].e=f`, lists in
//! braces (`x={a,b}`), `\` escaping the next character in keys and values, Helm's typing of
//! `--set` values (`true`/`false`/`null` in any case, integers not starting with `0`, else
//! strings), a key whose value is neither a map nor a list refusing to become one, at most
//! [`MAX_NESTED`] dotted levels and list indices up to [`MAX_INDEX`]. An empty key sets nothing,
//! as in Helm.

use serde_json::{Map, Value as Json};

/// Helm's `MaxNestedNameLevel`.
pub const MAX_NESTED: usize = 30;
/// Helm's `MaxIndex`.
pub const MAX_INDEX: usize = 65_536;
/// Lists nested in lists (`a[0][0]...`): Helm has no bound (Go's stacks grow); werf-rs refuses
/// past this many rather than recurse without end.
pub const MAX_NESTED_INDICES: usize = 100;

/// Why an expression was refused (worded after Helm's messages).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StrvalsError {
    #[error("key `{0}` has no value")]
    NoValue(String),
    #[error("key `{0}` has no value (cannot end with `,`)")]
    TrailingComma(String),
    #[error("key map `{0}` has no value")]
    EmptyMap(String),
    #[error("error parsing index: `{0}` is not a number")]
    BadIndex(String),
    #[error("negative {0} index not allowed")]
    NegativeIndex(i64),
    #[error("index of {0} is greater than maximum supported index of {MAX_INDEX}")]
    IndexTooLarge(i64),
    #[error("unexpected data at end of array index: `{0}`")]
    AfterIndex(String),
    #[error("list must terminate with `}}`")]
    UnterminatedList,
    #[error(
        "value name nested level is greater than maximum supported nested level of {MAX_NESTED}"
    )]
    TooDeep,
    #[error("lists nest more than {MAX_NESTED_INDICES} levels (`[0][0]...`)")]
    TooManyIndices,
    #[error("`{key}` is {is}, not a {wanted}")]
    NotA {
        key: String,
        is: &'static str,
        wanted: &'static str,
    },
}

type Result<T> = std::result::Result<T, StrvalsError>;

/// What ended a scan: a stop character, or the end of the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    Stop(char),
    Eof,
}

struct Parser {
    chars: Vec<char>,
    at: usize,
    /// `--set-string`: every value a string.
    strings: bool,
}

fn kind(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "a list",
        Json::Object(_) => "a map",
    }
}

/// Helm's `typedVal`.
fn typed(text: &str, strings: bool) -> Json {
    if strings {
        return Json::String(text.to_string());
    }
    if text.eq_ignore_ascii_case("true") {
        return Json::Bool(true);
    }
    if text.eq_ignore_ascii_case("false") {
        return Json::Bool(false);
    }
    if text.eq_ignore_ascii_case("null") {
        return Json::Null;
    }
    if text == "0" {
        return Json::from(0i64);
    }
    if !text.is_empty() && !text.starts_with('0') {
        if let Ok(i) = parse_go_int(text) {
            return Json::from(i);
        }
    }
    Json::String(text.to_string())
}

/// Go's `strconv.ParseInt(text, 10, 64)`: an optional sign and decimal digits, no more.
fn parse_go_int(text: &str) -> std::result::Result<i64, ()> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(());
    }
    text.trim_start_matches('+').parse::<i64>().map_err(|_| ())
}

impl Parser {
    /// Reads up to one of `stop` (consumed), `\` taking the next character as it is.
    fn until(&mut self, stop: &[char]) -> (String, End) {
        let mut out = String::new();
        while let Some(&c) = self.chars.get(self.at) {
            self.at += 1;
            if stop.contains(&c) {
                return (out, End::Stop(c));
            }
            if c == '\\' {
                match self.chars.get(self.at) {
                    Some(&n) => {
                        self.at += 1;
                        out.push(n);
                    }
                    None => return (out, End::Eof),
                }
            } else {
                out.push(c);
            }
        }
        (out, End::Eof)
    }

    fn eof(&self) -> bool {
        self.at >= self.chars.len()
    }

    /// One `key...=value` into `data`; `Ok(true)` when the text ended.
    fn key(&mut self, data: &mut Map<String, Json>, level: usize) -> Result<bool> {
        let (k, end) = self.until(&['=', '[', ',', '.']);
        match end {
            End::Eof if k.is_empty() => Ok(true),
            End::Eof => Err(StrvalsError::NoValue(k)),
            End::Stop('[') => {
                let i = self.index()?;
                let mut list = match data.get(&k) {
                    None => Vec::new(),
                    Some(Json::Array(l)) => l.clone(),
                    Some(other) => {
                        return Err(StrvalsError::NotA {
                            key: k,
                            is: kind(other),
                            wanted: "list",
                        })
                    }
                };
                let done = self.list_item(&mut list, i, level, 1)?;
                set(data, &k, Json::Array(list));
                Ok(done)
            }
            End::Stop('=') => {
                let (value, done) = self.value()?;
                set(data, &k, value);
                Ok(done)
            }
            End::Stop(',') => {
                set(data, &k, Json::String(String::new()));
                Err(StrvalsError::TrailingComma(k))
            }
            _ => {
                // `.`: a map below.
                let level = level + 1;
                if level > MAX_NESTED {
                    return Err(StrvalsError::TooDeep);
                }
                let mut inner = match data.get(&k) {
                    None => Map::new(),
                    Some(Json::Object(m)) => m.clone(),
                    Some(other) => {
                        return Err(StrvalsError::NotA {
                            key: k,
                            is: kind(other),
                            wanted: "map",
                        })
                    }
                };
                let result = self.key(&mut inner, level);
                if matches!(result, Ok(false)) && inner.is_empty() {
                    return Err(StrvalsError::EmptyMap(k));
                }
                if !inner.is_empty() {
                    set(data, &k, Json::Object(inner));
                }
                result
            }
        }
    }

    /// The index of `[N]` (after its `[`).
    fn index(&mut self) -> Result<i64> {
        let (v, end) = self.until(&[']']);
        if end == End::Eof {
            return Err(StrvalsError::BadIndex(v));
        }
        v.parse::<i64>().map_err(|_| StrvalsError::BadIndex(v))
    }

    /// What follows `[i]`: a value, another index, or a map.
    fn list_item(
        &mut self,
        list: &mut Vec<Json>,
        i: i64,
        level: usize,
        indices: usize,
    ) -> Result<bool> {
        if i < 0 {
            return Err(StrvalsError::NegativeIndex(i));
        }
        if indices > MAX_NESTED_INDICES {
            return Err(StrvalsError::TooManyIndices);
        }
        let (k, end) = self.until(&['[', '.', '=']);
        if !k.is_empty() {
            return Err(StrvalsError::AfterIndex(k));
        }
        match end {
            End::Eof => Ok(true),
            End::Stop('=') => {
                let (value, done) = self.value()?;
                set_index(list, i, value)?;
                Ok(done)
            }
            End::Stop('[') => {
                let next = self.index()?;
                let mut inner = match usize::try_from(i).ok().and_then(|i| list.get(i)) {
                    None | Some(Json::Null) => Vec::new(),
                    Some(Json::Array(l)) => l.clone(),
                    Some(other) => {
                        return Err(StrvalsError::NotA {
                            key: format!("[{i}]"),
                            is: kind(other),
                            wanted: "list",
                        })
                    }
                };
                let done = self.list_item(&mut inner, next, level, indices + 1)?;
                set_index(list, i, Json::Array(inner))?;
                Ok(done)
            }
            _ => {
                // `.`: a map inside the list (replacing whatever was there).
                let mut inner = match usize::try_from(i).ok().and_then(|i| list.get(i)) {
                    Some(Json::Object(m)) => m.clone(),
                    _ => Map::new(),
                };
                let done = self.key(&mut inner, level)?;
                set_index(list, i, Json::Object(inner))?;
                Ok(done)
            }
        }
    }

    /// A value after `=`: a `{...}` list or a scalar up to `,`. `true` only when nothing follows
    /// the `=` (Helm's `io.EOF` there): after a value the next key finds the end, which matters
    /// for `a.=x` (a map key with nothing set in it is refused).
    fn value(&mut self) -> Result<(Json, bool)> {
        if self.eof() {
            return Ok((Json::String(String::new()), true));
        }
        if self.chars[self.at] == '{' {
            self.at += 1;
            let mut list = Vec::new();
            loop {
                let (item, end) = self.until(&[',', '}']);
                match end {
                    End::Eof => return Err(StrvalsError::UnterminatedList),
                    End::Stop('}') => {
                        list.push(typed(&item, self.strings));
                        if self.chars.get(self.at) == Some(&',') {
                            self.at += 1;
                        }
                        return Ok((Json::Array(list), false));
                    }
                    _ => list.push(typed(&item, self.strings)),
                }
            }
        }
        let (text, _) = self.until(&[',']);
        Ok((typed(&text, self.strings), false))
    }
}

/// Helm's `set`: an empty key sets nothing.
fn set(data: &mut Map<String, Json>, key: &str, value: Json) {
    if !key.is_empty() {
        data.insert(key.to_string(), value);
    }
}

/// Helm's `setIndex`: the list grows with nulls up to `index`.
fn set_index(list: &mut Vec<Json>, index: i64, value: Json) -> Result<()> {
    if index < 0 {
        return Err(StrvalsError::NegativeIndex(index));
    }
    if index > MAX_INDEX as i64 {
        return Err(StrvalsError::IndexTooLarge(index));
    }
    let i = index as usize;
    if list.len() <= i {
        list.resize(i + 1, Json::Null);
    }
    list[i] = value;
    Ok(())
}

/// Parses `expr` into `data` as Helm's `strvals.ParseInto` (`strings`: `ParseIntoString`).
pub fn parse_into(expr: &str, data: &mut Map<String, Json>, strings: bool) -> Result<()> {
    let mut p = Parser {
        chars: expr.chars().collect(),
        at: 0,
        strings,
    };
    while !p.key(data, 0)? {}
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(expr: &str, strings: bool) -> Result<Json> {
        let mut m = Map::new();
        parse_into(expr, &mut m, strings).map(|()| Json::Object(m))
    }

    #[test]
    fn helms_examples() {
        let j = |s: &str| serde_json::from_str::<Json>(s).expect("json");
        for (expr, want) in [
            ("name=value", r#"{"name":"value"}"#),
            (
                "long_int_string=1234567890",
                r#"{"long_int_string":1234567890}"#,
            ),
            ("boolean=true,b2=False", r#"{"boolean":true,"b2":false}"#),
            ("leading_zeros=00009", r#"{"leading_zeros":"00009"}"#),
            ("zero=0,neg=-5", r#"{"zero":0,"neg":-5}"#),
            (
                "name1=value1,name2=value2",
                r#"{"name1":"value1","name2":"value2"}"#,
            ),
            (
                "name1=one\\,two,name2=three",
                r#"{"name1":"one,two","name2":"three"}"#,
            ),
            ("outer.inner=value", r#"{"outer":{"inner":"value"}}"#),
            (
                "name1.name2=value1,name1.name3=value2",
                r#"{"name1":{"name2":"value1","name3":"value2"}}"#,
            ),
            ("list={a,b,c}", r#"{"list":["a","b","c"]}"#),
            ("list={1,2},x=y", r#"{"list":[1,2],"x":"y"}"#),
            ("empty={}", r#"{"empty":[""]}"#),
            ("list[0]=foo,list[2]=bar", r#"{"list":["foo",null,"bar"]}"#),
            (
                "list[0].foo=bar,list[0].hello=world",
                r#"{"list":[{"foo":"bar","hello":"world"}]}"#,
            ),
            ("nested[0][0]=1", r#"{"nested":[[1]]}"#),
            ("name=", r#"{"name":""}"#),
            ("name=a=b", r#"{"name":"a=b"}"#),
            ("=value", r#"{}"#),
            ("a.b\\.c=d", r#"{"a":{"b.c":"d"}}"#),
        ] {
            assert_eq!(parse(expr, false), Ok(j(want)), "{expr}");
        }
        assert_eq!(
            parse("list={1,true}", true),
            Ok(j(r#"{"list":["1","true"]}"#))
        );
    }

    #[test]
    fn helms_refusals() {
        for expr in [
            "name",
            "name,",
            "a.=x",
            "list[x]=1",
            "list[-1]=1",
            "list[65537]=1",
            "list[0]x=1",
            "list={a,b",
        ] {
            assert!(parse(expr, false).is_err(), "{expr}");
        }
        let mut m = Map::new();
        parse_into("a=1", &mut m, false).expect("first");
        assert!(matches!(
            parse_into("a.b=2", &mut m, false),
            Err(StrvalsError::NotA { wanted: "map", .. })
        ));
        let deep = format!("{}=1", vec!["k"; 32].join("."));
        assert_eq!(parse(&deep, false), Err(StrvalsError::TooDeep));
        let lists = format!("k{}=1", "[0]".repeat(100_000));
        assert_eq!(parse(&lists, false), Err(StrvalsError::TooManyIndices));
        let ok = format!("k{}=1", "[0]".repeat(MAX_NESTED_INDICES));
        assert!(parse(&ok, false).is_ok());
    }
}
