//! Sprig's `semverCompare` and `semver`: Masterminds semver 3 versions and constraints
//! (`>=1.2 <2`, `~1.2`, `^0.3`, `1.2.x`, `1 - 2`, `||`), prerelease rules included, and the
//! `*semver.Version` object with its methods (`Major`, `IncMinor`, `LessThan`, ...).

use std::cmp::Ordering;
use std::collections::BTreeMap;

use crate::value::{Value, OBJECT_KIND};

/// The kind of the object `semver` returns (Go's type name, as `typeOf` prints it).
pub const KIND: &str = "*semver.Version";

#[derive(Clone, Debug, PartialEq, Eq)]
struct Version {
    nums: [u64; 3],
    pre: Vec<String>,
}

impl Version {
    fn parse(s: &str) -> Option<Version> {
        let s = s.trim();
        let s = s.strip_prefix('v').unwrap_or(s);
        let s = s.split_once('+').map_or(s, |(v, _)| v);
        let (core, pre) = match s.split_once('-') {
            Some((c, p)) => (c, p.split('.').map(str::to_string).collect()),
            None => (s, Vec::new()),
        };
        let mut nums = [0u64; 3];
        let parts: Vec<&str> = core.split('.').collect();
        if parts.is_empty() || parts.len() > 3 {
            return None;
        }
        for (i, p) in parts.iter().enumerate() {
            nums[i] = p.parse().ok()?;
        }
        Some(Version { nums, pre })
    }

    fn cmp(&self, other: &Version) -> Ordering {
        self.nums
            .cmp(&other.nums)
            .then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => {
                    for (a, b) in self.pre.iter().zip(&other.pre) {
                        let o = match (a.parse::<u64>(), b.parse::<u64>()) {
                            (Ok(x), Ok(y)) => x.cmp(&y),
                            (Ok(_), Err(_)) => Ordering::Less,
                            (Err(_), Ok(_)) => Ordering::Greater,
                            (Err(_), Err(_)) => a.cmp(b),
                        };
                        if o != Ordering::Equal {
                            return o;
                        }
                    }
                    self.pre.len().cmp(&other.pre.len())
                }
            })
    }
}

/// Masterminds' semver errors, worded as it words them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// `matches` with a version that does not parse.
    #[error("Invalid Semantic Version")]
    Version,
    /// `semver` with text that does not parse.
    #[error("invalid semantic version")]
    Object,
    /// A constraint that does not parse.
    #[error("improper constraint: {0}")]
    Constraint(String),
    /// A comparison method given something other than a version object.
    #[error("wrong type for value; expected *semver.Version; method {0}")]
    Argument(String),
}

/// One `op version` term; `wild` is how many leading numbers were given (the rest were `x`/absent).
struct Term {
    op: String,
    v: Version,
    given: usize,
}

fn term(text: &str) -> Result<Term, Error> {
    let text = text.trim();
    let split = text
        .find(|c: char| c.is_ascii_alphanumeric() || c == '*')
        .ok_or_else(|| Error::Constraint(text.to_string()))?;
    let (op, rest) = text.split_at(split);
    let rest = rest.strip_prefix('v').unwrap_or(rest);
    let (core, tail) = match rest.find(['-', '+']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let mut given = 0;
    let mut nums = Vec::new();
    for p in core.split('.') {
        if matches!(p, "x" | "X" | "*") {
            break;
        }
        nums.push(p);
        given += 1;
    }
    let padded = format!(
        "{}{}",
        (0..3)
            .map(|i| nums.get(i).copied().unwrap_or("0"))
            .collect::<Vec<_>>()
            .join("."),
        tail
    );
    let v = Version::parse(&padded).ok_or_else(|| Error::Constraint(text.to_string()))?;
    let op = op.trim().to_string();
    if !matches!(
        op.as_str(),
        "" | "=" | "!=" | ">" | "<" | ">=" | "=>" | "<=" | "=<" | "~" | "~>" | "^"
    ) {
        return Err(Error::Constraint(text.to_string()));
    }
    Ok(Term { op, v, given })
}

/// The version after the last given number (`1.2` → `1.3.0`), for ranges of wildcards.
fn bump(v: &Version, at: usize) -> Version {
    let mut nums = v.nums;
    nums[at] += 1;
    for n in nums.iter_mut().skip(at + 1) {
        *n = 0;
    }
    Version {
        nums,
        pre: Vec::new(),
    }
}

fn check(t: &Term, v: &Version) -> bool {
    // A prerelease only satisfies terms that mention a prerelease themselves.
    if !v.pre.is_empty() && t.v.pre.is_empty() {
        return false;
    }
    let ge = |x: &Version| v.cmp(x) != Ordering::Less;
    let lt = |x: &Version| v.cmp(x) == Ordering::Less;
    let within = |upper_at: usize| ge(&t.v) && lt(&bump(&t.v, upper_at));
    match t.op.as_str() {
        "" | "=" if t.given < 3 => t.given == 0 || within(t.given - 1),
        "" | "=" => v.cmp(&t.v) == Ordering::Equal,
        "!=" if t.given < 3 => !(t.given == 0 || within(t.given - 1)),
        "!=" => v.cmp(&t.v) != Ordering::Equal,
        ">" if t.given < 3 => t.given > 0 && !lt(&bump(&t.v, t.given - 1)),
        ">" => v.cmp(&t.v) == Ordering::Greater,
        "<" => lt(&t.v),
        ">=" | "=>" => ge(&t.v),
        "<=" | "=<" if t.given < 3 => t.given == 0 || lt(&bump(&t.v, t.given - 1)),
        "<=" | "=<" => v.cmp(&t.v) != Ordering::Greater,
        "~" | "~>" => within(if t.given <= 1 { 0 } else { 1 }),
        "^" => {
            let at = match (t.v.nums, t.given) {
                ([0, 0, _], g) if g >= 3 => 2,
                ([0, _, _], g) if g >= 2 => 1,
                _ => 0,
            };
            within(at)
        }
        _ => false,
    }
}

/// A version with what Masterminds keeps besides the comparison fields.
struct Full {
    v: Version,
    metadata: String,
    original: String,
}

impl Full {
    fn parse(text: &str) -> Option<Full> {
        let v = Version::parse(text)?;
        let metadata = text
            .split_once('+')
            .map(|(_, m)| m.to_string())
            .unwrap_or_default();
        Some(Full {
            v,
            metadata,
            original: text.to_string(),
        })
    }

    /// `String()`: `MAJOR.MINOR.PATCH[-PRE][+META]`.
    fn text(&self) -> String {
        let [a, b, c] = self.v.nums;
        let mut s = format!("{a}.{b}.{c}");
        if !self.v.pre.is_empty() {
            s.push('-');
            s.push_str(&self.v.pre.join("."));
        }
        if !self.metadata.is_empty() {
            s.push('+');
            s.push_str(&self.metadata);
        }
        s
    }

    fn to_value(&self) -> Value {
        let mut m = BTreeMap::new();
        m.insert(OBJECT_KIND.to_string(), Value::Str(KIND.into()));
        m.insert("text".into(), Value::Str(self.text()));
        m.insert("original".into(), Value::Str(self.original.clone()));
        Value::map(m)
    }

    fn from_value(v: &Value) -> Option<Full> {
        let Value::Map(m) = v else { return None };
        if m.get(OBJECT_KIND) != Some(&Value::Str(KIND.into())) {
            return None;
        }
        let text = |k: &str| match m.get(k) {
            Some(Value::Str(s)) => s.clone(),
            _ => String::new(),
        };
        let mut full = Full::parse(&text("text"))?;
        full.original = text("original");
        Some(full)
    }

    /// A new version from these numbers, no prerelease or metadata (what `Inc*` return).
    fn bumped(&self, nums: [u64; 3]) -> Value {
        let text = format!("{}.{}.{}", nums[0], nums[1], nums[2]);
        Full {
            v: Version {
                nums,
                pre: Vec::new(),
            },
            metadata: String::new(),
            original: text,
        }
        .to_value()
    }
}

/// How two versions order (`None` when either does not parse).
pub fn compare(a: &str, b: &str) -> Option<Ordering> {
    Some(Version::parse(a)?.cmp(&Version::parse(b)?))
}

/// Sprig's `semver`: the version object, or Masterminds' error.
pub fn object(text: &str) -> Result<Value, Error> {
    Full::parse(text).map(|f| f.to_value()).ok_or(Error::Object)
}

/// What `%v` and JSON show of a version object: its `String()`.
pub fn display(v: &Value) -> Option<String> {
    Full::from_value(v).map(|f| f.text())
}

/// A method of a version object.
pub fn method(receiver: &Value, name: &str, args: &[Value]) -> Option<Result<Value, Error>> {
    let me = Full::from_value(receiver)?;
    let other = || {
        args.first()
            .and_then(Full::from_value)
            .ok_or_else(|| Error::Argument(name.to_string()))
    };
    let [major, minor, patch] = me.v.nums;
    Some(match name {
        "Major" => Ok(Value::Int64(major as i64)),
        "Minor" => Ok(Value::Int64(minor as i64)),
        "Patch" => Ok(Value::Int64(patch as i64)),
        "Prerelease" => Ok(Value::Str(me.v.pre.join("."))),
        "Metadata" => Ok(Value::Str(me.metadata.clone())),
        "Original" => Ok(Value::Str(me.original.clone())),
        "String" => Ok(Value::Str(me.text())),
        "Compare" => other().map(|o| {
            Value::Int(match me.v.cmp(&o.v) {
                Ordering::Less => -1,
                Ordering::Equal => 0,
                Ordering::Greater => 1,
            })
        }),
        "LessThan" => other().map(|o| Value::Bool(me.v.cmp(&o.v) == Ordering::Less)),
        "GreaterThan" => other().map(|o| Value::Bool(me.v.cmp(&o.v) == Ordering::Greater)),
        "Equal" => other().map(|o| Value::Bool(me.v.cmp(&o.v) == Ordering::Equal)),
        // A prerelease `IncPatch` only drops the prerelease, as Masterminds does.
        "IncPatch" if !me.v.pre.is_empty() => Ok(me.bumped(me.v.nums)),
        "IncPatch" => Ok(me.bumped([major, minor, patch + 1])),
        "IncMinor" => Ok(me.bumped([major, minor + 1, 0])),
        "IncMajor" => Ok(me.bumped([major + 1, 0, 0])),
        _ => return None,
    })
}

/// Whether `version` satisfies `constraint`, with Masterminds' errors for bad input.
pub fn matches(constraint: &str, version: &str) -> Result<bool, Error> {
    let v = Version::parse(version).ok_or(Error::Version)?;
    for group in constraint.split("||") {
        let mut ok = true;
        let text = group.replace(',', " ");
        let tokens: Vec<&str> = text.split_whitespace().collect();
        let mut i = 0;
        let mut terms = Vec::new();
        while i < tokens.len() {
            // Operators may stand apart from their versions (`>= 1.2`); hyphen ranges join two.
            let mut t = tokens[i].to_string();
            if t.chars().all(|c| "<>=!~^".contains(c)) && i + 1 < tokens.len() {
                i += 1;
                t.push_str(tokens[i]);
            }
            if tokens.get(i + 1) == Some(&"-") && i + 2 < tokens.len() {
                let upper = term(tokens[i + 2])?;
                terms.push(term(&format!(">={t}"))?);
                terms.push(Term {
                    op: "<=".into(),
                    ..upper
                });
                i += 3;
                continue;
            }
            terms.push(term(&t)?);
            i += 1;
        }
        if terms.is_empty() {
            return Err(Error::Constraint(constraint.to_string()));
        }
        for t in &terms {
            ok &= check(t, &v);
        }
        if ok {
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn masterminds_cases() {
        let yes = [
            (">=1.19-0", "v1.20.2"),
            ("^1.2.3", "1.9.0"),
            ("~1.2.3", "1.2.9"),
            ("1.2.x", "1.2.7"),
            ("1.2 - 1.4.5", "1.4.5"),
            (">1.0 <2.0", "1.5.0"),
            ("<1 || >=3", "3.1.0"),
            ("^0.2.3", "0.2.9"),
            ("*", "4.0.0"),
            ("!=1.2.3", "1.2.4"),
            ("<=1.2", "1.2.9"),
        ];
        for (c, v) in yes {
            assert_eq!(matches(c, v), Ok(true), "{c} {v}");
        }
        let no = [
            (">=1.19", "1.20.0-rc.1"),
            ("^1.2.3", "2.0.0"),
            ("~1.2.3", "1.3.0"),
            ("^0.2.3", "0.3.0"),
            ("1.2.x", "1.3.0"),
            (">1.2", "1.2.5"),
        ];
        for (c, v) in no {
            assert_eq!(matches(c, v), Ok(false), "{c} {v}");
        }
        assert_eq!(matches(">=1", "banana"), Err(super::Error::Version));
        assert_eq!(
            matches(">=?", "1.0.0"),
            Err(super::Error::Constraint(">=?".into()))
        );
    }
}

#[cfg(test)]
mod object_tests {
    #[test]
    fn the_version_object_answers_as_masterminds_does() {
        // Printed by Helm 4 for the same template.
        let template = r#"{{ push (list 1) 2 }}|{{ (semver "1.2.3").Original }}|{{ (semver "v1.2").String }}|{{ (semver "1.2.3-a+b").Metadata }}|{{ (semver "1.2.3").LessThan (semver "1.3.0") }}|{{ ((semver "1.2.3").IncPatch) }}|{{ semver "1.2.3" | toJson }}|{{ semver "1.2.3-beta.1+build" }}|{{ (semver "1.2.3").Major }}|{{ (semver "v1.2").Minor }}|{{ (semver "1.2.3").Prerelease }}|{{ semver "1.2.3" | typeOf }}|{{ (semver "1.2.3").Compare (semver "1.3.0") }}|{{ ((semver "1.2.3").IncMinor).String }}"#;
        assert_eq!(
            crate::render("t", template, &crate::Value::Nil).expect("renders"),
            r#"[1 2]|1.2.3|1.2.0|b|true|1.2.4|"1.2.3"|1.2.3-beta.1+build|1|2||*semver.Version|-1|1.3.0"#
        );
        let e = crate::render("t", r#"{{ semver "nope" }}"#, &crate::Value::Nil).expect_err("bad");
        assert_eq!(e.message, "error calling semver: invalid semantic version");
        let e = crate::render("t", r#"{{ call "x" 1 }}"#, &crate::Value::Nil).expect_err("call");
        assert_eq!(
            e.message,
            r#"error calling call: non-function "x" of type string"#
        );
    }
}
