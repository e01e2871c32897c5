//! Settings: the command line and its `WERF_*` variables resolved once into typed values
//! (durations, names, the repository, the cluster target, the builder), as uv's `settings.rs`
//! does. This is the one place where clap's types become settings: `project`, `pipeline` and
//! `dev` take these and never see a flag.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, Context as _, Result};

use crate::cli;
use crate::kubernetes::Target;
use crate::net::Timeouts;

/// What every command runs with.
#[derive(Clone, Debug)]
pub struct GlobalSettings {
    /// `--dir`: the project folder (`None`: the current folder).
    pub dir: Option<PathBuf>,
    /// The werf-rs home (`--home-dir`, `$WERF_HOME`, else `~/.werf-rs`).
    pub home: PathBuf,
    /// `--dev`: the work tree as it is instead of a commit.
    pub dev: bool,
    /// `--commit`: the commit to read (`None`: `HEAD`).
    pub commit: Option<String>,
    /// `--config`: the config file as given (checked when the project is loaded).
    pub config: Option<PathBuf>,
    /// `--config-templates-dir`: werf.yaml's partials, project-relative.
    pub config_templates_dir: Option<String>,
    /// `--env`.
    pub env: Option<String>,
    /// `--connect-timeout`, `--read-timeout`.
    pub timeouts: Timeouts,
    /// Whether the home folder is trimmed at the end (not `--disable-auto-host-cleanup`).
    pub auto_host_cleanup: bool,
    /// `--log-verbose`.
    pub log_verbose: bool,
    /// `--platform`: the platforms every image builds for (empty: werf.yaml's).
    pub platforms: Vec<String>,
}

impl GlobalSettings {
    pub fn resolve(global: &cli::Global) -> Self {
        GlobalSettings {
            dir: global.dir.clone(),
            home: crate::store::home(global.home_dir.as_deref()),
            dev: global.dev,
            commit: global.commit.clone(),
            config: global.config.clone(),
            config_templates_dir: global.config_templates_dir.clone(),
            env: global.env.clone(),
            timeouts: Timeouts {
                connect: global.connect_timeout,
                read: global.read_timeout,
            },
            auto_host_cleanup: !global.disable_auto_host_cleanup,
            log_verbose: global.log_verbose,
            platforms: global
                .platform
                .iter()
                .map(|p| p.trim().to_string())
                .filter(|p| !p.is_empty())
                .collect(),
        }
    }
}

/// What a render reads from the command line: the repository, the names asked for, values.
#[derive(Clone, Debug)]
pub struct RenderSettings {
    /// `--repo`: where the images are (`None`: no image values).
    pub repo: Option<String>,
    /// `--release` (`None`: werf.yaml's `deploy.helmRelease`, else werf's default).
    pub release: Option<String>,
    /// `--namespace` (`None`: werf.yaml's `deploy.namespace`, else werf's default).
    pub namespace: Option<String>,
    /// `--values`, in order.
    pub values: Vec<PathBuf>,
    /// `--secret-values`, in order.
    pub secret_values: Vec<PathBuf>,
    /// The `--set` families' expressions, in the order they apply.
    pub set: Vec<(String, werf_graph::chart::SetKind)>,
    /// Annotations and labels for every deployed object (deploy commands only).
    pub metadata: crate::deploy::metadata::Extra,
    /// `--use-custom-tag`: the tag the chart references images by (their content tags when
    /// `None`).
    pub use_custom_tag: Option<crate::build::custom_tag::Template>,
    /// Whether a failed object's report shows its containers' last log lines (not
    /// `--no-pod-logs`).
    pub pod_logs: bool,
}

impl RenderSettings {
    /// The render flags, after werf's variable families (`WERF_VALUES_*`,
    /// `WERF_SECRET_VALUES_*`, `WERF_SET_*`, `WERF_SET_STRING_*`, `WERF_SET_JSON_*`,
    /// `WERF_SET_FILE_*`, `WERF_SET_LITERAL_*`; each family's variables in the order of their
    /// names) from `vars`; `--set-file` files are read here. The families apply in Helm's
    /// order: JSON, typed, string, file, literal.
    pub fn resolve(
        args: &cli::RenderArgs,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self> {
        use werf_graph::chart::SetKind;
        let families = Families::read(vars)?;
        let with = |family: &[String], flags: &[String]| -> Vec<String> {
            family.iter().chain(flags).cloned().collect()
        };
        let mut set: Vec<(String, SetKind)> = Vec::new();
        set.extend(
            with(&families.json, &args.set_json)
                .into_iter()
                .map(|e| (e, SetKind::Json)),
        );
        set.extend(
            with(&families.typed, &args.set)
                .into_iter()
                .map(|e| (e, SetKind::Typed)),
        );
        set.extend(
            with(&families.string, &args.set_string)
                .into_iter()
                .map(|e| (e, SetKind::String)),
        );
        for expr in with(&families.file, &args.set_file) {
            for (key, path) in set_file_pairs(&expr)? {
                let text = std::fs::read_to_string(&path).with_context(|| {
                    format!("`--set-file {expr}`: cannot read `{path}` for `{key}`")
                })?;
                set.push((format!("{key}={text}"), SetKind::Literal));
            }
        }
        set.extend(
            with(&families.literal, &args.set_literal)
                .into_iter()
                .map(|e| (e, SetKind::Literal)),
        );
        let paths = |family: &[String], flags: &[PathBuf]| -> Vec<PathBuf> {
            family
                .iter()
                .map(PathBuf::from)
                .chain(flags.iter().cloned())
                .collect()
        };
        Ok(RenderSettings {
            repo: args.repo.clone(),
            release: args.release.clone(),
            namespace: args.namespace.clone(),
            values: paths(&families.values, &args.values),
            secret_values: paths(&families.secret_values, &args.secret_values),
            set,
            metadata: Default::default(),
            use_custom_tag: None,
            pod_logs: true,
        })
    }

    /// With `--no-pod-logs` as given.
    pub fn with_pod_logs(mut self, no_pod_logs: bool) -> Self {
        self.pod_logs = !no_pod_logs;
        self
    }

    /// With the chart referencing images by `tags.referenced`.
    pub fn with_custom_tag(mut self, tags: &CustomTags) -> Self {
        self.use_custom_tag = tags.referenced.clone();
        self
    }

    /// With the annotations and labels of `args` and of the variables `vars`
    /// (`WERF_ADD_ANNOTATION_*`, `WERF_ADD_LABEL_*`, in the order of their names).
    pub fn with_metadata(
        mut self,
        args: &cli::MetadataArgs,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self> {
        self.metadata = metadata(args, vars)?;
        Ok(self)
    }
}

/// The annotations and labels of `args` and of the variables `vars` (`WERF_ADD_ANNOTATION_*`,
/// `WERF_ADD_LABEL_*`, in the order of their names; the flags after them).
pub fn metadata(
    args: &cli::MetadataArgs,
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<crate::deploy::metadata::Extra> {
    use crate::deploy::metadata::Kind;
    let mut vars: Vec<(String, String)> = vars.into_iter().collect();
    vars.sort();
    let mut extra = crate::deploy::metadata::Extra::default();
    for (name, value) in &vars {
        // `WERF_ADD_ANNOTATION` and `WERF_ADD_LABEL` themselves are the flags' variables.
        if name.starts_with("WERF_ADD_ANNOTATION_") {
            extra.add(Kind::Annotation, value, name)?;
        } else if name.starts_with("WERF_ADD_LABEL_") {
            extra.add(Kind::Label, value, name)?;
        }
    }
    for a in &args.add_annotation {
        extra.add(Kind::Annotation, a, "--add-annotation")?;
    }
    for l in &args.add_label {
        extra.add(Kind::Label, l, "--add-label")?;
    }
    Ok(extra)
}

/// werf's variable families of values: each variable whose name starts with the family's
/// prefix adds one, in the order of the names.
#[derive(Default)]
struct Families {
    values: Vec<String>,
    secret_values: Vec<String>,
    typed: Vec<String>,
    string: Vec<String>,
    json: Vec<String>,
    file: Vec<String>,
    literal: Vec<String>,
}

impl Families {
    fn read(vars: impl IntoIterator<Item = (String, String)>) -> Result<Self> {
        let mut vars: Vec<(String, String)> = vars.into_iter().collect();
        vars.sort();
        let mut f = Families::default();
        for (name, value) in vars {
            // Longest prefixes first: `WERF_SET_STRING_X` is not a `WERF_SET_` variable.
            let family = if name.starts_with("WERF_SET_RUNTIME_JSON_")
                || name == "WERF_SET_DOCKER_CONFIG_JSON_VALUE"
            {
                return Err(anyhow!(
                    "`{name}`: werf's runtime values are not supported by werf-rs (unset it, or set the value with `WERF_SET_JSON_*`)"
                ));
            } else if name.starts_with("WERF_SET_STRING_") {
                &mut f.string
            } else if name.starts_with("WERF_SET_JSON_") {
                &mut f.json
            } else if name.starts_with("WERF_SET_FILE_") {
                &mut f.file
            } else if name.starts_with("WERF_SET_LITERAL_") {
                &mut f.literal
            } else if name.starts_with("WERF_SET_") {
                &mut f.typed
            } else if name.starts_with("WERF_SECRET_VALUES_") {
                &mut f.secret_values
            } else if name.starts_with("WERF_VALUES_") {
                &mut f.values
            } else {
                continue;
            };
            family.push(value);
        }
        Ok(f)
    }
}

/// The `key=path` pairs of a `--set-file` expression (`a=x.txt,b.c=y.txt`).
fn set_file_pairs(expr: &str) -> Result<Vec<(String, String)>> {
    expr.split(',')
        .map(|pair| {
            pair.split_once('=')
                .map(|(k, p)| (k.to_string(), p.to_string()))
                .ok_or_else(|| anyhow!("`--set-file {expr}`: expected `key=path` in `{pair}`"))
        })
        .collect()
}

/// The process's environment as text (a variable that is not UTF-8 is read lossily).
pub fn environment() -> Vec<(String, String)> {
    std::env::vars_os()
        .map(|(k, v)| {
            (
                k.to_string_lossy().into_owned(),
                v.to_string_lossy().into_owned(),
            )
        })
        .collect()
}

/// Custom tags: the templates pushed (`--add-custom-tag`, every `WERF_ADD_CUSTOM_TAG_*` in the
/// order of their names, and `--use-custom-tag`) and the one the chart references.
#[derive(Clone, Debug, Default)]
pub struct CustomTags {
    pub add: Vec<crate::build::custom_tag::Template>,
    /// `--use-custom-tag` (`WERF_USE_CUSTOM_TAG`; empty is none, as in werf).
    pub referenced: Option<crate::build::custom_tag::Template>,
}

impl CustomTags {
    pub fn resolve(
        add: &[String],
        referenced: Option<&str>,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self> {
        use crate::build::custom_tag::Template;
        let mut vars: Vec<(String, String)> = vars
            .into_iter()
            .filter(|(name, _)| name.starts_with("WERF_ADD_CUSTOM_TAG_"))
            .collect();
        vars.sort();
        let mut templates = Vec::new();
        for (name, value) in &vars {
            templates.push(Template::parse(value).with_context(|| format!("`{name}`"))?);
        }
        for a in add {
            templates.push(Template::parse(a).context("`--add-custom-tag`")?);
        }
        let referenced = match referenced.filter(|t| !t.is_empty()) {
            Some(t) => Some(Template::parse(t).context("`--use-custom-tag`")?),
            None => None,
        };
        Ok(CustomTags {
            add: templates,
            referenced,
        })
    }

    /// Only `--use-custom-tag` (`render`, `plan`: they push nothing).
    pub fn referenced(referenced: Option<&str>) -> Result<Self> {
        Self::resolve(&[], referenced, [])
    }

    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.referenced.is_none()
    }

    /// Every template to push: the added ones, then the referenced one, each once.
    pub fn pushed(&self) -> Vec<&crate::build::custom_tag::Template> {
        let mut out: Vec<&crate::build::custom_tag::Template> = Vec::new();
        for t in self.add.iter().chain(&self.referenced) {
            if !out.iter().any(|o| o.text() == t.text()) {
                out.push(t);
            }
        }
        out
    }
}

/// `--kube-api-server`, `--kube-token`, `--kube-ca-path`, `--skip-tls-verify-kube`.
pub fn kube_overrides(args: &cli::KubeAccessArgs) -> crate::kubernetes::source::Overrides {
    crate::kubernetes::source::Overrides {
        api_server: args.kube_api_server.clone().filter(|s| !s.is_empty()),
        token: args.kube_token.clone().filter(|s| !s.is_empty()),
        ca_path: args.kube_ca_path.clone(),
        skip_tls_verify: args.skip_tls_verify_kube,
    }
}

/// Which cluster, and how objects of others are treated.
#[derive(Clone, Debug)]
pub struct KubeSettings {
    pub target: Target,
    /// `--force-adoption`.
    pub force_adoption: bool,
    /// The file `--kube-config-base64` was decoded into (readable by its owner only), removed
    /// when the settings go.
    _decoded: Option<std::sync::Arc<tempfile::NamedTempFile>>,
}

impl KubeSettings {
    pub fn resolve(args: &cli::KubeArgs) -> Result<Self> {
        use base64::Engine as _;
        let decoded = match &args.kube_config_base64 {
            Some(text) => {
                // The value is a secret: the error names the flag, never the text.
                let config = base64::engine::general_purpose::STANDARD
                    .decode(text.trim())
                    .map_err(|_| {
                        anyhow!("`--kube-config-base64` (`WERF_KUBE_CONFIG_BASE64`) is not base64")
                    })?;
                let mut file = tempfile::NamedTempFile::new()
                    .context("cannot make a file for `--kube-config-base64`")?;
                std::io::Write::write_all(&mut file, &config)
                    .context("cannot write the kubeconfig of `--kube-config-base64`")?;
                Some(std::sync::Arc::new(file))
            }
            None => None,
        };
        Ok(KubeSettings {
            target: Target {
                kubeconfig: decoded
                    .as_ref()
                    .map(|f| f.path().to_path_buf())
                    .or_else(|| args.kube_config.clone()),
                context: args.kube_context.clone(),
                overrides: kube_overrides(&args.access),
            },
            force_adoption: args.force_adoption,
            _decoded: decoded,
        })
    }

    /// Whether a cluster was named at all (`werf dev` deploys only then).
    pub fn named(&self) -> bool {
        self.target.kubeconfig.is_some()
            || self.target.context.is_some()
            || self.target.overrides.api_server.is_some()
    }
}

/// What builds images with `RUN`.
#[derive(Clone, Debug)]
pub enum Builder {
    /// No `--backend`: images with `RUN` go to what answers here (see
    /// [`crate::pipeline::builder`]), the rest build natively.
    Auto {
        buildah_root: PathBuf,
        keepalive: Duration,
        /// `WERF_BUILDAH_MODE` (empty is unset).
        buildah_mode: Option<String>,
        /// `DOCKER_HOST`: where the Docker daemon is asked.
        docker_host: Option<String>,
    },
    /// The native builder only (an image with `RUN` fails, naming the way around).
    Native,
    /// buildah, with its storage under the home folder.
    Buildah { root: PathBuf },
    /// BuildKit daemons.
    Buildkit(BuildkitSettings),
}

/// The BuildKit daemons and how they are reached.
#[derive(Clone, Debug)]
pub struct BuildkitSettings {
    /// `--buildkit-addr`, as written (buildx's spellings).
    pub addresses: Vec<String>,
    pub tls_ca: Option<PathBuf>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub tls_server_name: Option<String>,
    /// `--buildkit-keepalive`.
    pub keepalive: Duration,
}

/// How registries are reached.
#[derive(Clone, Debug, Default)]
pub struct RegistrySettings {
    /// `--insecure-registry`: the registry of `--repo` over plain HTTP.
    pub insecure_repo: bool,
    /// `--insecure-registry-host`: more hosts over plain HTTP.
    pub insecure_hosts: Vec<String>,
    /// `--skip-tls-verify-registry`.
    pub skip_tls_verify: bool,
}

impl RegistrySettings {
    pub fn resolve(args: &cli::RegistryAccessArgs) -> Self {
        RegistrySettings {
            insecure_repo: args.insecure_registry,
            insecure_hosts: args.insecure_registry_host.clone(),
            skip_tls_verify: args.skip_tls_verify_registry,
        }
    }

    /// The client for `repo` (and the registries of `also`, base images' among them).
    pub fn client(
        &self,
        repo: Option<&str>,
        also: &[&str],
        timeouts: Timeouts,
    ) -> Result<crate::registry::Registry> {
        let mut plain = self.insecure_hosts.clone();
        let mut hosts: Vec<&str> = also.to_vec();
        if let Some(repo) = repo {
            let host = crate::registry::host_of(repo);
            hosts.push(host);
            if self.insecure_repo {
                plain.push(host.to_string());
            }
        }
        Ok(crate::registry::Registry::connect(
            &crate::registry::Access {
                plain_http: plain,
                skip_tls_verify: self.skip_tls_verify,
            },
            &hosts,
            timeouts,
        )?)
    }
}

/// Where and how images are built and published.
#[derive(Clone, Debug)]
pub struct PublishSettings {
    pub registry: RegistrySettings,
    /// How many images are built at once: `--parallel` and `--parallel-tasks-limit` (default:
    /// the machine's cores).
    pub parallel: usize,
    pub builder: Builder,
}

impl PublishSettings {
    pub fn resolve(flags: &cli::PublishFlags, global: &GlobalSettings) -> Self {
        let builder = match flags.backend {
            None => {
                let var = |name: &str| {
                    std::env::var_os(name)
                        .map(|v| v.to_string_lossy().into_owned())
                        .filter(|v| !v.is_empty())
                };
                Builder::Auto {
                    buildah_root: global.home.join("buildah"),
                    keepalive: Duration::from_secs(flags.buildkit_keepalive),
                    buildah_mode: var("WERF_BUILDAH_MODE"),
                    docker_host: var("DOCKER_HOST"),
                }
            }
            Some(cli::Backend::Native) => Builder::Native,
            Some(cli::Backend::Buildah) => Builder::Buildah {
                root: global.home.join("buildah"),
            },
            Some(cli::Backend::Buildkit) => Builder::Buildkit(BuildkitSettings {
                addresses: flags.buildkit_addr.clone(),
                tls_ca: flags.buildkit_tls_ca.clone(),
                tls_cert: flags.buildkit_tls_cert.clone(),
                tls_key: flags.buildkit_tls_key.clone(),
                tls_server_name: flags.buildkit_tls_server_name.clone(),
                keepalive: Duration::from_secs(flags.buildkit_keepalive),
            }),
        };
        let cores = || {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
        };
        PublishSettings {
            registry: RegistrySettings::resolve(&flags.registry),
            parallel: match (flags.parallel, flags.parallel_tasks_limit) {
                (false, _) => 1,
                (true, Some(cli::ParallelLimit::At(n))) => n,
                (true, Some(cli::ParallelLimit::None)) => cli::MAX_PARALLEL,
                (true, None) => cores(),
            },
            builder,
        }
    }
}

/// `--timeout`: how long a deploy may take.
pub fn timeout(text: &str) -> Result<Duration> {
    werf_base::duration::parse(text).map_err(|e| anyhow!("`--timeout`: {e}"))
}

/// How a release is converged.
#[derive(Clone, Debug)]
pub struct DeploySettings {
    /// `--timeout`.
    pub timeout: Duration,
    /// `--auto-rollback`.
    pub auto_rollback: bool,
    /// `--releases-history-max`.
    pub history_max: usize,
}

/// `werf dev`'s settings.
#[derive(Clone, Debug)]
pub struct DevSettings {
    pub render: RenderSettings,
    pub kube: KubeSettings,
    pub publish: PublishSettings,
    pub deploy: DeploySettings,
    /// `--debounce-ms`.
    pub debounce: Duration,
    /// `--verbose`: which queries re-ran.
    pub verbose: bool,
}

impl DevSettings {
    pub fn resolve(args: &cli::DevArgs, global: &GlobalSettings) -> Result<Self> {
        Ok(DevSettings {
            render: RenderSettings::resolve(&args.render, environment())?
                .with_metadata(&args.metadata, environment())?
                .with_pod_logs(args.no_pod_logs),
            kube: KubeSettings::resolve(&args.kube)?,
            publish: PublishSettings::resolve(&args.publish, global),
            deploy: DeploySettings {
                timeout: timeout(&args.timeout)?,
                auto_rollback: false,
                history_max: args.history.max,
            },
            debounce: Duration::from_millis(args.debounce_ms),
            verbose: args.verbose,
        })
    }
}
