//! Sprig's `urlParse` and `urlJoin`, over a port of Go's `net/url` parsing and printing rules
//! (scheme, opaque, authority, user info, escaping per component), and Helm's offline
//! `getHostByName` (empty: Helm resolves names only with `--enable-dns`).

use std::collections::BTreeMap;

use crate::funcs::{arity, strval, FuncError, Funcs};
use crate::value::Value;

pub fn register(f: &mut Funcs) {
    f.insert("urlParse", |a| {
        arity(a, 1)?;
        let u = Url::parse(&strval(&a[0])).map_err(|e| format!("unable to parse url: {e}"))?;
        let mut m = BTreeMap::new();
        let s = |x: &str| Value::Str(x.to_string());
        m.insert("scheme".into(), s(&u.scheme));
        m.insert("host".into(), s(&u.host));
        m.insert("hostname".into(), s(&u.hostname()));
        m.insert("path".into(), s(&u.path));
        m.insert("query".into(), s(&u.raw_query));
        m.insert("opaque".into(), s(&u.opaque));
        m.insert("fragment".into(), s(&u.fragment));
        m.insert(
            "userinfo".into(),
            s(&u.user.as_ref().map(User::to_text).unwrap_or_default()),
        );
        Ok(Value::map(m))
    });
    f.insert("urlJoin", |a| {
        arity(a, 1)?;
        let Value::Map(d) = &a[0] else {
            return Err(FuncError::arg_type(
                "map[string]interface {}",
                crate::sprig::go_type(&a[0]),
            )
            .at(0));
        };
        let field = |k: &str| d.get(k).map(strval).unwrap_or_default();
        let userinfo = field("userinfo");
        let user = if userinfo.is_empty() {
            None
        } else {
            Url::parse(&format!("proto://{userinfo}@host"))
                .map_err(|e| format!("unable to parse userinfo in dict: {e}"))?
                .user
        };
        let u = Url {
            scheme: field("scheme"),
            host: field("host"),
            path: field("path"),
            raw_query: field("query"),
            opaque: field("opaque"),
            fragment: field("fragment"),
            user,
            ..Url::default()
        };
        Ok(Value::Str(u.to_text()))
    });
    // Helm 4 without `--enable-dns` answers every name with "".
    f.insert("getHostByName", |a| {
        arity(a, 1)?;
        Ok(Value::Str(String::new()))
    });
}

#[derive(Clone, Debug, Default, PartialEq)]
struct User {
    name: String,
    password: Option<String>,
}

impl User {
    fn to_text(&self) -> String {
        let mut s = escape(&self.name, Mode::UserPassword);
        if let Some(p) = &self.password {
            s.push(':');
            s.push_str(&escape(p, Mode::UserPassword));
        }
        s
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
struct Url {
    scheme: String,
    opaque: String,
    user: Option<User>,
    host: String,
    path: String,
    raw_path: String,
    omit_host: bool,
    force_query: bool,
    raw_query: String,
    fragment: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Path,
    Host,
    UserPassword,
    Fragment,
}

/// Go's `shouldEscape`.
fn should_escape(c: u8, mode: Mode) -> bool {
    if c.is_ascii_alphanumeric() {
        return false;
    }
    if mode == Mode::Host
        && matches!(
            c,
            b'!' | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'['
                | b']'
                | b'<'
                | b'>'
                | b'"'
        )
    {
        return false;
    }
    match c {
        b'-' | b'_' | b'.' | b'~' => return false,
        b'$' | b'&' | b'+' | b',' | b'/' | b':' | b';' | b'=' | b'?' | b'@' => {
            return match mode {
                Mode::Path => c == b'?',
                Mode::UserPassword => matches!(c, b'@' | b'/' | b'?' | b':'),
                Mode::Fragment => false,
                Mode::Host => true,
            }
        }
        _ => {}
    }
    if mode == Mode::Fragment && matches!(c, b'!' | b'(' | b')' | b'*') {
        return false;
    }
    true
}

fn escape(s: &str, mode: Mode) -> String {
    let mut out = String::with_capacity(s.len());
    for &c in s.as_bytes() {
        if should_escape(c, mode) {
            out.push_str(&format!("%{c:02X}"));
        } else {
            out.push(c as char);
        }
    }
    out
}

/// Go's `url.Error` from `url.Parse`: the URL and what is wrong with it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("parse {}: {problem}", crate::value::go_quote(url))]
struct UrlError {
    url: String,
    problem: Problem,
}

/// What `url.Parse` found wrong, worded as Go words it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
enum Problem {
    #[error("invalid URL escape {}", crate::value::go_quote(.0))]
    Escape(String),
    #[error("invalid character {} in host name", crate::value::go_quote(&.0.to_string()))]
    HostCharacter(char),
    #[error("net/url: invalid control character in URL")]
    ControlCharacter,
    #[error("first path segment in URL cannot contain colon")]
    ColonInFirstSegment,
    #[error("missing protocol scheme")]
    MissingScheme,
}

/// Go's `unescape` for one component; `%` must start a valid escape.
fn unescape(s: &str, mode: Mode) -> Result<String, Problem> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .filter(|h| h.bytes().all(|c| c.is_ascii_hexdigit()));
            let Some(hex) = hex else {
                let bad: String = s[i..].chars().take(3).collect();
                return Err(Problem::Escape(bad));
            };
            let v = u8::from_str_radix(hex, 16).map_err(|_| Problem::Escape(format!("%{hex}")))?;
            if mode == Mode::Host && v < 0x80 && hex != "25" {
                // Go allows only %25 (in zones) and non-ASCII escapes in hosts.
                return Err(Problem::Escape(s[i..i + 3].to_string()));
            }
            out.push(v);
            i += 3;
        } else {
            if mode == Mode::Host && b[i] < 0x80 && should_escape(b[i], Mode::Host) {
                return Err(Problem::HostCharacter(b[i] as char));
            }
            out.push(b[i]);
            i += 1;
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

impl Url {
    /// Go's `url.Parse`.
    fn parse(raw: &str) -> Result<Url, UrlError> {
        let (rest, frag) = match raw.split_once('#') {
            Some((r, f)) => (r, Some(f)),
            None => (raw, None),
        };
        let wrap = |problem: Problem| UrlError {
            url: raw.to_string(),
            problem,
        };
        let mut u = Url::parse_without_fragment(rest).map_err(wrap)?;
        if let Some(f) = frag {
            u.fragment = unescape(f, Mode::Fragment).map_err(wrap)?;
        }
        Ok(u)
    }

    fn parse_without_fragment(raw: &str) -> Result<Url, Problem> {
        if raw.bytes().any(|c| c < 0x20 || c == 0x7f) {
            return Err(Problem::ControlCharacter);
        }
        let mut u = Url::default();
        if raw == "*" {
            u.path = "*".into();
            return Ok(u);
        }
        let (scheme, mut rest) = scheme_of(raw)?;
        u.scheme = scheme.to_ascii_lowercase();
        if rest.ends_with('?') && rest.matches('?').count() == 1 {
            u.force_query = true;
            rest = &rest[..rest.len() - 1];
        } else if let Some((r, q)) = rest.split_once('?') {
            u.raw_query = q.to_string();
            rest = r;
        }
        if !rest.starts_with('/') {
            if !u.scheme.is_empty() {
                u.opaque = rest.to_string();
                return Ok(u);
            }
            let segment = rest.split('/').next().unwrap_or("");
            if segment.contains(':') {
                return Err(Problem::ColonInFirstSegment);
            }
        }
        if (!u.scheme.is_empty() || !rest.starts_with("///")) && rest.starts_with("//") {
            let after = &rest[2..];
            let (authority, path) = match after.find('/') {
                Some(i) => (&after[..i], &after[i..]),
                None => (after, ""),
            };
            let (user, host) = parse_authority(authority)?;
            u.user = user;
            u.host = host;
            rest = path;
        } else if !u.scheme.is_empty() && rest.starts_with('/') {
            u.omit_host = true;
        }
        u.path = unescape(rest, Mode::Path)?;
        if escape(&u.path, Mode::Path) != rest {
            u.raw_path = rest.to_string();
        }
        Ok(u)
    }

    /// Go's `u.Hostname()`: the host without its port and brackets.
    fn hostname(&self) -> String {
        let h = &self.host;
        if let Some(inner) = h.strip_prefix('[') {
            return inner.split(']').next().unwrap_or("").to_string();
        }
        match h.rfind(':') {
            Some(i) => h[..i].to_string(),
            None => h.clone(),
        }
    }

    fn escaped_path(&self) -> String {
        if !self.raw_path.is_empty()
            && unescape(&self.raw_path, Mode::Path).as_deref() == Ok(self.path.as_str())
        {
            return self.raw_path.clone();
        }
        if self.path == "*" {
            return "*".into();
        }
        escape(&self.path, Mode::Path)
    }

    /// Go's `u.String()`.
    fn to_text(&self) -> String {
        let mut buf = String::new();
        if !self.scheme.is_empty() {
            buf.push_str(&self.scheme);
            buf.push(':');
        }
        if !self.opaque.is_empty() {
            buf.push_str(&self.opaque);
        } else {
            let has_authority =
                !self.scheme.is_empty() || !self.host.is_empty() || self.user.is_some();
            let host_omitted = self.omit_host && self.host.is_empty() && self.user.is_none();
            if has_authority && !host_omitted {
                if !self.host.is_empty() || !self.path.is_empty() || self.user.is_some() {
                    buf.push_str("//");
                }
                if let Some(user) = &self.user {
                    buf.push_str(&user.to_text());
                    buf.push('@');
                }
                buf.push_str(&escape(&self.host, Mode::Host));
            }
            let path = self.escaped_path();
            if !path.is_empty() && !path.starts_with('/') && !self.host.is_empty() {
                buf.push('/');
            }
            if buf.is_empty() && path.split('/').next().unwrap_or("").contains(':') {
                buf.push_str("./");
            }
            buf.push_str(&path);
        }
        if self.force_query || !self.raw_query.is_empty() {
            buf.push('?');
            buf.push_str(&self.raw_query);
        }
        if !self.fragment.is_empty() {
            buf.push('#');
            buf.push_str(&escape(&self.fragment, Mode::Fragment));
        }
        buf
    }
}

/// Go's `getScheme`: `(scheme, rest)`; no scheme when a non-scheme character comes first.
fn scheme_of(raw: &str) -> Result<(&str, &str), Problem> {
    for (i, c) in raw.bytes().enumerate() {
        match c {
            b'a'..=b'z' | b'A'..=b'Z' => {}
            b'0'..=b'9' | b'+' | b'-' | b'.' if i > 0 => {}
            b':' if i == 0 => return Err(Problem::MissingScheme),
            b':' => return Ok((&raw[..i], &raw[i + 1..])),
            _ => return Ok(("", raw)),
        }
    }
    Ok(("", raw))
}

fn parse_authority(authority: &str) -> Result<(Option<User>, String), Problem> {
    let (userinfo, host) = match authority.rfind('@') {
        Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
        None => (None, authority),
    };
    let host = unescape(host, Mode::Host)?;
    let Some(userinfo) = userinfo else {
        return Ok((None, host));
    };
    let user = match userinfo.split_once(':') {
        None => User {
            name: unescape(userinfo, Mode::UserPassword)?,
            password: None,
        },
        Some((name, password)) => User {
            name: unescape(name, Mode::UserPassword)?,
            password: Some(unescape(password, Mode::UserPassword)?),
        },
    };
    Ok((Some(user), host))
}

#[cfg(test)]
mod tests {
    #[test]
    fn urls_parse_and_join_as_go_does() {
        // Printed by Helm 4 for the same template.
        let template = r#"{{ urlParse "https://user:pw@host.example:8080/a%20b/c?x=1&y=2#frag%20x" | toJson }}|{{ urlJoin (dict "scheme" "http" "host" "h:1" "path" "/a b" "query" "q=1" "fragment" "f g" "userinfo" "u:p") }}|{{ urlParse "mailto:me@x.org" | toJson }}|{{ urlParse "/rel/path" | toJson }}|{{ getHostByName "localhost" }}"#;
        assert_eq!(
            crate::render("t", template, &crate::Value::Nil).expect("renders"),
            r#"{"fragment":"frag x","host":"host.example:8080","hostname":"host.example","opaque":"","path":"/a b/c","query":"x=1\u0026y=2","scheme":"https","userinfo":"user:pw"}|http://u:p@h:1/a%20b?q=1#f%20g|{"fragment":"","host":"","hostname":"","opaque":"me@x.org","path":"","query":"","scheme":"mailto","userinfo":""}|{"fragment":"","host":"","hostname":"","opaque":"","path":"/rel/path","query":"","scheme":"","userinfo":""}|"#
        );
    }
}
