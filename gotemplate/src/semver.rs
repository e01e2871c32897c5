//! Sprig's `semverCompare`: Masterminds semver 3 versions and constraints (`>=1.2 <2`, `~1.2`,
//! `^0.3`, `1.2.x`, `1 - 2`, `||`), prerelease rules included.

use std::cmp::Ordering;

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

/// One `op version` term; `wild` is how many leading numbers were given (the rest were `x`/absent).
struct Term {
    op: String,
    v: Version,
    given: usize,
}

fn term(text: &str) -> Result<Term, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| c.is_ascii_alphanumeric() || c == '*')
        .ok_or_else(|| format!("improper constraint: {text}"))?;
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
    let v = Version::parse(&padded).ok_or_else(|| format!("improper constraint: {text}"))?;
    let op = op.trim().to_string();
    if !matches!(
        op.as_str(),
        "" | "=" | "!=" | ">" | "<" | ">=" | "=>" | "<=" | "=<" | "~" | "~>" | "^"
    ) {
        return Err(format!("improper constraint: {text}"));
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

/// Whether `version` satisfies `constraint`, with Masterminds' errors for bad input.
pub fn matches(constraint: &str, version: &str) -> Result<bool, String> {
    let v = Version::parse(version).ok_or_else(|| "Invalid Semantic Version".to_string())?;
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
            return Err(format!("improper constraint: {constraint}"));
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
        assert!(matches(">=1", "banana").is_err());
        assert!(matches(">=?", "1.0.0").is_err());
    }
}
