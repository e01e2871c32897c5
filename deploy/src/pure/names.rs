//! Release and namespace names as werf computes them: werf.yaml's `deploy.helmRelease` and
//! `deploy.namespace` templates (`[[ ]]` delimiters, Sprig, `project`, `env`, and `namespace`
//! in the release template), then werf's slug rules (`helmReleaseSlug`/`namespaceSlug`, on by
//! default): a valid name stays, any other becomes its slug plus a MurmurHash3 of the original.
//! `--release`/`--namespace` win and are validated, not slugged.

use gotemplate::Value;

/// Helm release names: a DNS-1123 subdomain of at most 53 characters.
const RELEASE_MAX: usize = 53;
/// Namespaces: a DNS-1123 label (63 characters).
const NAMESPACE_MAX: usize = 63;

/// Why a name could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot render the {what} template `{template}`")]
    Template {
        what: &'static str,
        template: String,
        #[source]
        source: gotemplate::Error,
    },
    #[error("the {what} template `{template}` renders to nothing: the name cannot be empty")]
    Empty {
        what: &'static str,
        template: String,
    },
    #[error("bad {what} `{name}`: {reason}")]
    Invalid {
        what: &'static str,
        name: String,
        reason: String,
    },
}

/// MurmurHash3 (x86, 32-bit, seed 0), as werf's `LegacyMurmurHash` uses it.
pub fn murmur3_32(data: &[u8]) -> u32 {
    const C1: u32 = 0xcc9e_2d51;
    const C2: u32 = 0x1b87_3593;
    let mut h: u32 = 0;
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
        h ^= k;
        h = h.rotate_left(13).wrapping_mul(5).wrapping_add(0xe654_6b64);
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        let mut k: u32 = 0;
        for (i, b) in tail.iter().enumerate() {
            k |= u32::from(*b) << (8 * i);
        }
        h ^= k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
    }
    h ^= data.len() as u32;
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^= h >> 16;
    h
}

/// One character as werf's slug transliterates it (ASCII: letters lowercased, digits kept, the
/// usual separators a dash; anything else dropped).
fn transliterate(c: char) -> Option<char> {
    match c {
        'a'..='z' | '0'..='9' => Some(c),
        'A'..='Z' => Some(c.to_ascii_lowercase()),
        '&' | '(' | ')' | '{' | '}' | '[' | ']' | '-' | '_' | ',' | '.' | ';' | ':' | '=' | '+'
        | '<' | '>' | '~' | '/' | ' ' => Some('-'),
        _ => None,
    }
}

/// werf's `slugify`: transliterated, dashes never leading, doubled or trailing.
pub fn slugify(data: &str) -> String {
    let mut out = String::new();
    for c in data.chars().filter_map(transliterate) {
        if c == '-' && (out.is_empty() || out.ends_with('-')) {
            continue;
        }
        out.push(c);
    }
    if out.ends_with('-') {
        out.pop();
    }
    out
}

/// werf's `slug`: the slugified text cropped to leave room for `-HASH` (kept with werf's legacy
/// quirk on a crop ending in a dash), then the hash of the original.
fn slug(data: &str, max: usize) -> String {
    let hash = format!("{:x}", murmur3_32(data.as_bytes()));
    let slugged = slugify(data);
    if slugged.is_empty() {
        return hash;
    }
    let room = max.saturating_sub(hash.len() + 1);
    let mut cropped = slugged[..slugged.len().min(room)].to_string();
    if cropped.starts_with('-') {
        cropped.pop();
    }
    format!("{cropped}-{hash}")
}

fn is_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// Why `name` is not a valid release name (a DNS-1123 subdomain of at most 53 characters).
fn release_problem(name: &str) -> Option<String> {
    if name.len() > RELEASE_MAX {
        return Some(format!(
            "a release name is at most {RELEASE_MAX} characters, this one is {}",
            name.len()
        ));
    }
    (!name.split('.').all(is_label)).then(|| {
        "a release name must be a DNS-1123 subdomain: lowercase letters, digits, `-` and `.`, starting and ending with a letter or digit".to_string()
    })
}

/// Why `name` is not a valid namespace (a DNS-1123 label).
fn namespace_problem(name: &str) -> Option<String> {
    if name.len() > NAMESPACE_MAX {
        return Some(format!(
            "a namespace is at most {NAMESPACE_MAX} characters, this one is {}",
            name.len()
        ));
    }
    (!is_label(name)).then(|| {
        "a namespace must be a DNS-1123 label: lowercase letters, digits and `-`, starting and ending with a letter or digit".to_string()
    })
}

/// werf's `HelmRelease` slug.
pub fn release_slug(name: &str) -> String {
    if name.is_empty() || release_problem(name).is_none() {
        name.to_string()
    } else {
        slug(name, RELEASE_MAX)
    }
}

/// werf's `KubernetesNamespace` slug.
pub fn namespace_slug(name: &str) -> String {
    if name.is_empty() || namespace_problem(name).is_none() {
        name.to_string()
    } else {
        slug(name, NAMESPACE_MAX)
    }
}

/// Renders a werf.yaml name template (`[[ project ]]-[[ env ]]`).
fn render(
    what: &'static str,
    template: &str,
    project: &str,
    env: &str,
    namespace: Option<&str>,
) -> Result<String, Error> {
    let mut funcs = (**gotemplate::helm::shared()).clone();
    let fixed = |s: &str| {
        let v = Value::Str(s.to_string());
        move |_: &mut gotemplate::exec::Exec<'_>, _: &[Value]| Ok(v.clone())
    };
    funcs.insert_context("project", fixed(project));
    funcs.insert_context("env", fixed(env));
    if let Some(ns) = namespace {
        funcs.insert_context("namespace", fixed(ns));
    }
    let funcs = std::sync::Arc::new(funcs);
    let text = template.replace("[[", "{{").replace("]]", "}}");
    let err = |source| Error::Template {
        what,
        template: template.to_string(),
        source,
    };
    let mut set = gotemplate::Set::with_functions(funcs.clone());
    set.parse(what, &text).map_err(err)?;
    gotemplate::exec::Exec::new(&set, &funcs)
        .render(what, &Value::Nil)
        .map_err(err)
}

/// What werf.yaml says about the names.
#[derive(Clone, Debug, Default)]
pub struct Settings<'a> {
    pub project: &'a str,
    pub env: Option<&'a str>,
    pub release_template: Option<&'a str>,
    pub release_slug: Option<bool>,
    pub namespace_template: Option<&'a str>,
    pub namespace_slug: Option<bool>,
}

fn default_template(env: Option<&str>) -> &'static str {
    match env {
        Some(e) if !e.is_empty() => "[[ project ]]-[[ env ]]",
        _ => "[[ project ]]",
    }
}

/// The namespace: `--namespace` (validated), else the template, slugged unless turned off.
pub fn namespace(option: Option<&str>, s: &Settings<'_>) -> Result<String, Error> {
    if let Some(ns) = option.filter(|n| !n.is_empty()) {
        return match namespace_problem(ns) {
            None => Ok(ns.to_string()),
            Some(reason) => Err(Error::Invalid {
                what: "namespace",
                name: ns.to_string(),
                reason,
            }),
        };
    }
    let template = s
        .namespace_template
        .unwrap_or_else(|| default_template(s.env));
    let rendered = render("namespace", template, s.project, s.env.unwrap_or(""), None)?;
    if rendered.is_empty() {
        return Err(Error::Empty {
            what: "namespace",
            template: template.to_string(),
        });
    }
    if s.namespace_slug.unwrap_or(true) {
        return Ok(namespace_slug(&rendered));
    }
    match namespace_problem(&rendered) {
        None => Ok(rendered),
        Some(reason) => Err(Error::Invalid {
            what: "namespace",
            name: rendered,
            reason,
        }),
    }
}

/// The release: `--release` (validated), else the template (which may use `namespace`), slugged
/// unless turned off.
pub fn release(option: Option<&str>, namespace: &str, s: &Settings<'_>) -> Result<String, Error> {
    if let Some(r) = option.filter(|n| !n.is_empty()) {
        return match release_problem(r) {
            None => Ok(r.to_string()),
            Some(reason) => Err(Error::Invalid {
                what: "release",
                name: r.to_string(),
                reason,
            }),
        };
    }
    let template = s
        .release_template
        .unwrap_or_else(|| default_template(s.env));
    let rendered = render(
        "release",
        template,
        s.project,
        s.env.unwrap_or(""),
        Some(namespace),
    )?;
    if rendered.is_empty() {
        return Err(Error::Empty {
            what: "release",
            template: template.to_string(),
        });
    }
    if s.release_slug.unwrap_or(true) {
        return Ok(release_slug(&rendered));
    }
    match release_problem(&rendered) {
        None => Ok(rendered),
        Some(reason) => Err(Error::Invalid {
            what: "release",
            name: rendered,
            reason,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur3_matches_the_reference_vectors() {
        assert_eq!(murmur3_32(b""), 0);
        assert_eq!(murmur3_32(b"hello"), 0x248b_fa47);
        assert_eq!(
            murmur3_32(b"The quick brown fox jumps over the lazy dog"),
            0x2e4f_f723
        );
    }

    #[test]
    fn slugs_are_werf_s() {
        // Expected values from werf's own slug tests.
        assert_eq!(release_slug("data"), "data");
        assert_eq!(release_slug("release.name"), "release.name");
        assert_eq!(release_slug("-data"), "data-a871d86e");
        assert_eq!(release_slug("da/ta"), "da-ta-afa96f8");
        assert_eq!(
            release_slug(&"x".repeat(54)),
            format!("{}-18c5dfb9", "x".repeat(53 - 9))
        );
        assert_eq!(namespace_slug("da_ta"), "da-ta-3b339d14");
        assert_eq!(
            namespace_slug("kubernetes.namespace"),
            "kubernetes-namespace-1507f75c"
        );
        assert_eq!(
            namespace_slug(&"x".repeat(64)),
            format!("{}-afd4efcd", "x".repeat(63 - 9))
        );
        // Idempotent.
        for s in ["-data", "da/ta", "Shop_Prod"] {
            assert_eq!(release_slug(&release_slug(s)), release_slug(s));
            assert_eq!(namespace_slug(&namespace_slug(s)), namespace_slug(s));
        }
    }

    #[test]
    fn templates_defaults_options_and_slug_settings() {
        let s = Settings {
            project: "shop",
            env: Some("Prod_EU"),
            ..Default::default()
        };
        let ns = namespace(None, &s).expect("namespace");
        assert_eq!(ns, namespace_slug("shop-Prod_EU"));
        assert!(ns.starts_with("shop-prod-eu-"), "{ns}");
        assert_eq!(
            release(None, &ns, &s).expect("release"),
            release_slug("shop-Prod_EU")
        );
        let plain = Settings {
            project: "shop",
            ..Default::default()
        };
        assert_eq!(namespace(None, &plain).expect("ns"), "shop");
        let custom = Settings {
            project: "shop",
            env: Some("stage"),
            release_template: Some("[[ namespace ]]-[[ project | upper | lower ]]-app"),
            namespace_template: Some("team-[[ env ]]"),
            ..Default::default()
        };
        let ns = namespace(None, &custom).expect("ns");
        assert_eq!(ns, "team-stage");
        assert_eq!(
            release(None, &ns, &custom).expect("release"),
            "team-stage-shop-app"
        );
        // Options win and are validated, never slugged.
        assert_eq!(namespace(Some("given"), &custom).expect("ns"), "given");
        let e = release(Some("Bad_Name"), "ns", &custom).unwrap_err();
        assert!(e.to_string().starts_with("bad release `Bad_Name`: "), "{e}");
        // Slug turned off: an invalid rendered name is an error.
        let strict = Settings {
            project: "Shop",
            namespace_slug: Some(false),
            ..Default::default()
        };
        let e = namespace(None, &strict).unwrap_err();
        assert!(e.to_string().starts_with("bad namespace `Shop`"), "{e}");
        let empty = Settings {
            project: "shop",
            namespace_template: Some("[[ if false ]]x[[ end ]]"),
            ..Default::default()
        };
        assert!(matches!(namespace(None, &empty), Err(Error::Empty { .. })));
        let broken = Settings {
            project: "shop",
            namespace_template: Some("[[ nosuch ]]"),
            ..Default::default()
        };
        assert!(matches!(
            namespace(None, &broken),
            Err(Error::Template { .. })
        ));
    }
}
