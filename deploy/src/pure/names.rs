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
    werf_base::slug::slug(werf_base::slug::Kind::HelmRelease, name)
}

/// werf's `KubernetesNamespace` slug.
pub fn namespace_slug(name: &str) -> String {
    werf_base::slug::slug(werf_base::slug::Kind::KubernetesNamespace, name)
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
