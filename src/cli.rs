//! Command-line interface: every command and flag, with werf's names and `WERF_*` variables.
//!
//! - [`bundle`]: `werf bundle …`'s arguments.

pub mod bundle;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// werf-rs: build, publish and deploy a Git repository's images and chart, converging on change.
#[derive(Debug, Parser)]
#[command(name = "werf", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// The command line as werf reads it: every flag (`--some-flag`) is also `$WERF_SOME_FLAG`
/// unless it names its own variable, and the help says so as werf's does ("default
/// $WERF_SOME_FLAG"); every boolean flag takes werf's forms (`--flag`, `--flag=false`, and
/// `true`/`false`/`1`/`0`/`yes`/`no`/`on`/`off` from its variable).
pub fn command() -> clap::Command {
    with_werf_variables(<Cli as clap::CommandFactory>::command())
}

/// Parses the process's arguments (see [`command`]); bad input exits with clap's message.
pub fn parse() -> Cli {
    let mut matches = command().get_matches();
    <Cli as clap::FromArgMatches>::from_arg_matches_mut(&mut matches)
        .unwrap_or_else(|e| e.format(&mut command()).exit())
}

/// The variable werf reads for `--long`: `WERF_` and the name upper-cased, `-` as `_`.
pub fn variable_of(long: &str) -> String {
    format!("WERF_{}", long.to_ascii_uppercase().replace('-', "_"))
}

fn with_werf_variables(command: clap::Command) -> clap::Command {
    command
        .mut_args(|arg| {
            let Some(long) = arg.get_long() else {
                return arg;
            };
            let variable = match arg.get_env() {
                Some(v) => v.to_string_lossy().into_owned(),
                None => variable_of(long),
            };
            let note = format!("(default ${variable})");
            let help = arg.get_help().map(|h| format!("{h} {note}"));
            let long_help = arg.get_long_help().map(|h| format!("{h}\n\n{note}"));
            let boolean = matches!(arg.get_action(), clap::ArgAction::SetTrue);
            let mut arg = arg.env(variable).hide_env(true);
            if let Some(h) = help {
                arg = arg.help(h);
            }
            if let Some(h) = long_help {
                arg = arg.long_help(h);
            }
            if boolean {
                let default_true = arg.get_default_values().iter().any(|v| v == "true");
                arg = arg
                    .action(clap::ArgAction::Set)
                    .num_args(0..=1)
                    .require_equals(true)
                    .default_missing_value("true")
                    .default_value(if default_true { "true" } else { "false" })
                    .hide_default_value(!default_true)
                    .hide_possible_values(true)
                    .value_name("BOOL")
                    .value_parser(clap::builder::BoolishValueParser::new());
            }
            arg
        })
        .mut_subcommands(with_werf_variables)
}

/// How registries are reached (werf's flags, and werf-rs's list of plain-HTTP hosts).
#[derive(Clone, Debug, Args)]
pub struct RegistryAccessArgs {
    /// Use plain HTTP for the registry of `--repo` (loopback registries always are).
    #[arg(long)]
    pub insecure_registry: bool,

    /// Skip TLS certificate validation when accessing a registry.
    #[arg(long)]
    pub skip_tls_verify_registry: bool,

    /// More registry hosts reached over plain HTTP (werf-rs's own); repeatable, comma-separated.
    #[arg(long, value_name = "HOST", value_delimiter = ',')]
    pub insecure_registry_host: Vec<String>,

    /// werf's choice of registry implementation, as `werf ci-env` writes it. werf-rs reaches
    /// every registry through the registry API alone, so each value works as `default` does (a
    /// registry that refuses deletes is named by cleanup); a name werf does not know is refused.
    #[arg(long, value_enum, value_name = "NAME")]
    pub repo_container_registry: Option<ContainerRegistry>,
}

/// werf's registry implementations (`--repo-container-registry`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ContainerRegistry {
    Default,
    Dockerhub,
    Github,
    Gitlab,
    Harbor,
    Quay,
    Ecr,
    Acr,
    Gcr,
    Selectel,
}

/// Flags every command takes.
#[derive(Clone, Debug, Args)]
pub struct Global {
    /// The project folder (holds werf.yaml); defaults to the current folder.
    #[arg(long, global = true, env = "WERF_DIR", value_name = "DIR")]
    pub dir: Option<PathBuf>,

    /// Where werf-rs keeps its cache across runs (default: `$WERF_HOME` or `~/.werf-rs`).
    #[arg(long, global = true, env = "WERF_HOME", value_name = "DIR")]
    pub home_dir: Option<PathBuf>,

    /// Read the work tree as it is (uncommitted and untracked files included) instead of a commit.
    #[arg(long, global = true, env = "WERF_DEV", conflicts_with = "commit")]
    pub dev: bool,

    /// The commit to read (default `HEAD`).
    #[arg(long, global = true, value_name = "REV")]
    pub commit: Option<String>,

    /// The config file, project-relative (default `werf.yaml`, else `werf.yml`).
    #[arg(long, global = true, env = "WERF_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// The folder of werf.yaml's partials (`*.tmpl`, used with `include`), project-relative
    /// (default `.werf`).
    #[arg(
        long,
        global = true,
        env = "WERF_CONFIG_TEMPLATES_DIR",
        value_name = "DIR"
    )]
    pub config_templates_dir: Option<String>,

    /// The environment: werf.yaml's `.Env`, `.Values.werf.env`, `values-ENV.yaml`, the default
    /// namespace suffix.
    #[arg(long, global = true, env = "WERF_ENV", value_name = "ENV")]
    pub env: Option<String>,

    /// How long connecting to the registry or Kubernetes may take (`10s`, `1m`, seconds).
    #[arg(long, global = true, env = "WERF_CONNECT_TIMEOUT", value_name = "DURATION",
          default_value = "10s", value_parser = werf_base::duration::parse)]
    pub connect_timeout: std::time::Duration,

    /// How long a registry or Kubernetes request may go without an answer before it is retried
    /// (idempotent registry requests: five tries with backoff; Kubernetes reads: three) or fails.
    #[arg(long, global = true, env = "WERF_READ_TIMEOUT", value_name = "DURATION",
          default_value = "60s", value_parser = werf_base::duration::parse)]
    pub read_timeout: std::time::Duration,

    /// The Docker config folder registry credentials are read from (default
    /// `$DOCKER_CONFIG`, else `~/.docker`).
    #[arg(long, global = true, value_name = "DIR")]
    pub docker_config: Option<PathBuf>,

    /// The platforms every image builds for (`OS/ARCH[/VARIANT]`; comma-separated or
    /// repeatable), instead of werf.yaml's `platform` (default `linux/amd64`). More than one
    /// makes each image an OCI index of one manifest per platform. Part of every tag: give the
    /// same to `render`, `plan` and `converge`.
    #[arg(long, global = true, value_name = "PLATFORM", value_delimiter = ',')]
    pub platform: Vec<String>,

    /// Do not trim the home folder at the end of the command (see `werf host cleanup`).
    #[arg(long, global = true, env = "WERF_DISABLE_AUTO_HOST_CLEANUP")]
    pub disable_auto_host_cleanup: bool,

    /// Also log what werf-rs is doing (info level, to stderr).
    #[arg(long, global = true)]
    pub log_verbose: bool,

    /// Log everything werf-rs does (debug level, to stderr; never secrets).
    #[arg(long, global = true)]
    pub log_debug: bool,

    /// Print results and errors only: no progress, no summaries.
    #[arg(long, global = true, conflicts_with_all = ["log_verbose", "log_debug"])]
    pub log_quiet: bool,

    /// werf's color mode: werf-rs prints no colors, so every mode prints the same (accepted so
    /// werf's jobs run unchanged).
    #[arg(long, global = true, value_enum, default_value_t = ColorMode::Auto)]
    pub log_color_mode: ColorMode,
}

/// `--log-color-mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorMode {
    Auto,
    On,
    Off,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Compute every image's tag; with `--dry-run`, print the plan and why each tag is what it is.
    Build(BuildArgs),
    /// Print the dependency graph: config, images, stages, and the Git trees and files they read.
    Graph(GraphArgs),
    /// Render the chart (`.helm/`) with the images' references, as a converge would apply it.
    Render(RenderCommandArgs),
    /// Build and publish what the registry lacks, then deploy the chart with only the needed
    /// changes and wait until everything is up.
    Converge(ConvergeArgs),
    /// Show what `converge` would change in the cluster, object by object.
    Plan(PlanArgs),
    /// Watch the work tree and converge it on every save, in one long-lived process: only the
    /// images whose tags moved are built, only the objects that differ are applied.
    Dev(DevArgs),
    /// Uninstall the release (its objects and records; `--with-namespace` also the namespace).
    Dismiss(DismissArgs),
    /// Deploy an earlier revision of the release again, as its next revision.
    Rollback(RollbackArgs),
    /// Delete the images in `--repo` that no kept Git reference, no Kubernetes workload and no
    /// fresh build needs (tags recomputed from Git history; no metadata tags).
    Cleanup(CleanupArgs),
    /// Delete every werf-rs image tag of `--repo`, with its records and the custom tags they name.
    Purge(PurgeArgs),
    /// Helm's own commands, as werf embeds them.
    #[command(subcommand)]
    Helm(HelmCommand),
    /// Publish once, deploy anywhere: the chart and its images' references as one OCI artifact,
    /// deployed without the Git repository, copied between registries and archives.
    #[command(subcommand)]
    Bundle(bundle::BundleCommand),
    /// Run a one-off pod from a built image (built first if `--repo` lacks it): its log is
    /// followed, the command's exit code is werf's, and the pod is deleted (`--rm=false` keeps it).
    KubeRun(KubeRunArgs),
    /// Publish built images under other references (`--tag REPO:TAG` templates), werf's labels
    /// removed: theirs to own (cleanup never deletes them). Builds what `--repo` lacks first.
    Export(ExportArgs),
    /// This machine's werf-rs files.
    #[command(subcommand)]
    Host(HostCommand),
    /// Print the `WERF_*` variables of a CI job (GitLab CI/CD, GitHub Actions) as a script to
    /// source: `. $(werf ci-env gitlab --as-file)`. The job gets its own Docker config with a
    /// login to the CI registry.
    CiEnv(CiEnvArgs),
    /// Container registry logins, in the Docker config werf-rs and Docker read.
    #[command(subcommand)]
    Cr(CrCommand),
    /// Print the version.
    Version,
    /// Print TEXT as a valid name of the format: unchanged when it already is one, else
    /// transliterated, cropped and ended with a hash of TEXT (werf's slug).
    Slugify(SlugifyArgs),
    /// Print the shell completion script (`source <(werf completion --shell=bash)`).
    Completion(CompletionArgs),
}

/// `werf kube-run`.
#[derive(Debug, Args)]
pub struct KubeRunArgs {
    /// The image of werf.yaml to run (default: the only one).
    pub image: Option<String>,

    /// The command and its arguments, after `--` (they replace the image's entrypoint).
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<String>,

    /// The repository the image is built into (`REGISTRY/PROJECT`).
    #[arg(long, alias = "docker-repo", env = "WERF_REPO", value_name = "REPO")]
    pub repo: Option<String>,

    /// The namespace (default: the release namespace, as `converge` computes it).
    #[arg(long, env = "WERF_NAMESPACE", value_name = "NAMESPACE")]
    pub namespace: Option<String>,

    /// The pod's name (default: `werf-run-` and a random number).
    #[arg(long, env = "WERF_POD", value_name = "NAME")]
    pub pod: Option<String>,

    /// A partial Pod as JSON merged into the one created (maps key by key, containers by name);
    /// `%pod_name%`, `%container_name%` and `%container_image%` are replaced first.
    #[arg(long, env = "WERF_OVERRIDES", value_name = "JSON")]
    pub overrides: Option<String>,

    /// Delete the pod (and its pull Secret) when the command ends (`--rm=false`: keep them).
    #[arg(long, env = "WERF_RM", default_value = "true", num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set, value_name = "BOOL")]
    pub rm: bool,

    /// Delete the namespace too (needs `--rm`).
    #[arg(long, env = "WERF_RM_WITH_NAMESPACE")]
    pub rm_with_namespace: bool,

    /// Create a pull Secret from the Docker config's login to the image's registry, when there
    /// is one (`--auto-pull-secret=false`: never).
    #[arg(long, env = "WERF_AUTO_PULL_SECRET", default_value = "true", num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set, value_name = "BOOL")]
    pub auto_pull_secret: bool,

    /// Build nothing: fail when `--repo` lacks the image.
    #[arg(short = 'Z', long)]
    pub require_built_images: bool,

    /// How long the container may take to start (`20s`, `5m`, or seconds).
    #[arg(
        long,
        env = "WERF_TIMEOUT",
        default_value = "5m",
        value_name = "DURATION"
    )]
    pub timeout: String,

    #[command(flatten)]
    pub kube: KubeArgs,

    #[command(flatten)]
    pub metadata: MetadataArgs,

    #[command(flatten)]
    pub publish: PublishFlags,
}

/// `werf export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The images to export (default: every image of werf.yaml).
    pub images: Vec<String>,

    /// The repository the images are built into (`REGISTRY/PROJECT`).
    #[arg(long, alias = "docker-repo", env = "WERF_REPO", value_name = "REPO")]
    pub repo: Option<String>,

    /// Where each image goes, a full reference `REGISTRY/PATH:TAG` with the shortcuts
    /// `%image%`, `%image_slug%`, `%image_safe_slug%` and `%image_content_based_tag%` (an image
    /// shortcut is needed when more than one image is exported); repeatable.
    #[arg(long = "tag", value_name = "REFERENCE", required = true)]
    pub tags: Vec<String>,

    /// A label `key=value` for the exported images; repeatable. Every variable
    /// `WERF_EXPORT_ADD_LABEL_*` adds one too.
    #[arg(long = "add-label", value_name = "KEY=VALUE")]
    pub add_label: Vec<String>,

    #[command(flatten)]
    pub publish: PublishFlags,
}

/// `werf cr ...`.
#[derive(Debug, Subcommand)]
pub enum CrCommand {
    /// Store a registry's credentials (`auths` of the Docker config, as `docker login`).
    Login(CrLoginArgs),
    /// Remove a registry's credentials.
    Logout(CrLogoutArgs),
}

/// `werf cr login`.
#[derive(Debug, Args)]
pub struct CrLoginArgs {
    /// The registry (`registry.example.com[:PORT]`).
    pub registry: String,

    /// The user name.
    #[arg(short = 'u', long)]
    pub username: String,

    /// The password (prefer `--password-stdin`).
    #[arg(short = 'p', long, conflicts_with = "password_stdin")]
    pub password: Option<String>,

    /// Read the password from standard input.
    #[arg(long)]
    pub password_stdin: bool,
}

/// `werf cr logout`.
#[derive(Debug, Args)]
pub struct CrLogoutArgs {
    /// The registry.
    pub registry: String,
}

/// `werf ci-env`.
#[derive(Debug, Args)]
pub struct CiEnvArgs {
    /// The CI system.
    #[arg(value_enum)]
    pub system: CiSystem,

    /// Write the script to a file and print its path (for `. $(werf ci-env gitlab --as-file)`).
    #[arg(long, conflicts_with = "as_env_file")]
    pub as_file: bool,

    /// Write a `.env` file (`KEY=VALUE` lines) and print its path.
    #[arg(long)]
    pub as_env_file: bool,

    /// With `--as-file` or `--as-env-file`: write to this file, print nothing.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output_file_path: Option<PathBuf>,

    /// The shell the script is for (default: any POSIX shell).
    #[arg(long, value_enum, default_value_t = CiShell::Default)]
    pub shell: CiShell,

    /// Log in to the CI registry in the job's Docker config when the job has a token.
    #[arg(long, default_value = "true")]
    pub login_to_registry: bool,
}

/// The CI systems `werf ci-env` knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CiSystem {
    Gitlab,
    Github,
}

/// The shells `werf ci-env` writes for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CiShell {
    /// Any POSIX shell.
    Default,
    /// Windows' cmd.exe.
    Cmdexe,
    Powershell,
}

/// `werf slugify`.
#[derive(Debug, Args)]
pub struct SlugifyArgs {
    /// What the result must be valid as.
    #[arg(short = 'f', long, value_enum)]
    pub format: SlugFormat,

    /// The text (it may start with `-`).
    #[arg(allow_hyphen_values = true)]
    pub text: String,
}

/// `werf slugify --format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SlugFormat {
    /// A Helm release name (at most 53 characters).
    #[value(alias = "r", alias = "kubernetes-release-name")]
    HelmRelease,
    /// A Kubernetes namespace (a DNS-1123 label).
    #[value(alias = "ns")]
    KubernetesNamespace,
    /// A Docker tag (at most 128 characters).
    #[value(alias = "tag")]
    DockerTag,
}

/// `werf completion`.
#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// The shell.
    #[arg(long, value_enum, default_value_t = CompletionShell::Bash)]
    pub shell: CompletionShell,
}

/// The shells `werf completion` writes for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
}

/// `werf host ...`.
#[derive(Debug, Subcommand)]
pub enum HostCommand {
    /// Bound the home folder (the cache, buildah's storage, temp files of killed runs) by age
    /// and size; runs by itself at the end of a command at most once an hour.
    Cleanup(HostCleanupArgs),
}

/// `werf host cleanup`.
#[derive(Debug, Args)]
pub struct HostCleanupArgs {
    /// Above this percentage of the volume holding the home folder in use, werf-rs's own files
    /// are trimmed until it is the margin below.
    #[arg(long = "allowed-disk-usage-percentage", env = "WERF_ALLOWED_DISK_USAGE_PERCENTAGE",
          value_name = "PERCENT", default_value_t = 70, value_parser = clap::value_parser!(u8).range(1..=100))]
    pub allowed_percentage: u8,

    /// The margin below the allowed percentage to trim down to.
    #[arg(long = "allowed-disk-usage-margin-percentage", value_name = "PERCENT", default_value_t = 5,
          value_parser = clap::value_parser!(u8).range(0..=100))]
    pub margin_percentage: u8,

    /// The home folder may hold at most this much (`500M`, `10G`, bytes).
    #[arg(long = "max-size", env = "WERF_HOST_MAX_SIZE", value_name = "SIZE", value_parser = parse_size)]
    pub max_size: Option<u64>,

    /// Cache records unused for longer than this go (`720h`).
    #[arg(long = "max-age", value_name = "DURATION", default_value = "720h",
          value_parser = werf_base::duration::parse)]
    pub max_age: std::time::Duration,

    /// Print what would be removed, remove nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// A size: bytes, or a number with `K`, `M`, `G` or `T` (powers of 1024).
fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mult) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m: u64 = match c.to_ascii_uppercase() {
                'K' => 1 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                'T' => 1 << 40,
                _ => return Err(format!("`{s}` is not a size (`500M`, `10G`, bytes)")),
            };
            (&t[..i], m)
        }
        _ => (t, 1),
    };
    num.trim()
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| format!("`{s}` is not a size (`500M`, `10G`, bytes)"))
}

/// werf's flags laid over the kubeconfig's context (as kubectl's `--server`, `--token`,
/// `--certificate-authority`, `--insecure-skip-tls-verify`).
#[derive(Clone, Debug, Args)]
pub struct KubeAccessArgs {
    /// The Kubernetes API server's URL (over the context's; with no kubeconfig, the cluster).
    #[arg(long, value_name = "URL")]
    pub kube_api_server: Option<String>,

    /// A bearer token for the API server (over the context's user).
    #[arg(long, value_name = "TOKEN")]
    pub kube_token: Option<String>,

    /// The CA certificate the API server's certificate is checked against.
    #[arg(long, value_name = "FILE", conflicts_with = "skip_tls_verify_kube")]
    pub kube_ca_path: Option<PathBuf>,

    /// Do not check the API server's certificate.
    #[arg(long)]
    pub skip_tls_verify_kube: bool,
}

/// Where a cleanup looks for images in use.
#[derive(Debug, Args)]
pub struct CleanupKubeArgs {
    /// The kubeconfig to read contexts from (default `$KUBECONFIG` or `~/.kube/config`; in a
    /// pod without one, its service account).
    #[arg(long = "kube-config", env = "WERF_KUBE_CONFIG", value_name = "FILE")]
    pub kube_config: Option<PathBuf>,

    #[command(flatten)]
    pub access: KubeAccessArgs,

    /// Scan only this context (repeatable); default: every context of the kubeconfig.
    #[arg(long = "kube-context", value_name = "NAME")]
    pub kube_context: Vec<String>,

    /// Scan only the namespace each context names, not every namespace.
    #[arg(
        long = "scan-context-namespace-only",
        env = "WERF_SCAN_CONTEXT_NAMESPACE_ONLY"
    )]
    pub scan_context_namespace_only: bool,

    /// Do not look at Kubernetes at all (images in use may then be deleted).
    #[arg(long = "without-kube", env = "WERF_WITHOUT_KUBE")]
    pub without_kube: bool,
}

/// `werf cleanup`.
#[derive(Debug, Args)]
pub struct CleanupArgs {
    /// The image repository.
    #[arg(long, alias = "docker-repo", env = "WERF_REPO", value_name = "REPO")]
    pub repo: String,

    /// Print exactly what would be deleted; delete nothing.
    #[arg(long, env = "WERF_DRY_RUN")]
    pub dry_run: bool,

    /// Write every tag with kept/deleted and why, as JSON.
    #[arg(long, value_name = "FILE")]
    pub save_cleanup_report: Option<PathBuf>,

    #[command(flatten)]
    pub kube: CleanupKubeArgs,

    #[command(flatten)]
    pub registry: RegistryAccessArgs,
}

/// `werf purge`.
#[derive(Debug, Args)]
pub struct PurgeArgs {
    /// The image repository.
    #[arg(long, alias = "docker-repo", env = "WERF_REPO", value_name = "REPO")]
    pub repo: String,

    /// Delete even images that workloads in the clusters use.
    #[arg(long)]
    pub force: bool,

    /// Print what would be deleted; delete nothing.
    #[arg(long, env = "WERF_DRY_RUN")]
    pub dry_run: bool,

    #[command(flatten)]
    pub kube: CleanupKubeArgs,

    #[command(flatten)]
    pub registry: RegistryAccessArgs,
}

/// `werf helm ...`.
#[derive(Debug, Subcommand)]
pub enum HelmCommand {
    /// Chart dependencies (`Chart.yaml`'s `dependencies`).
    #[command(subcommand)]
    Dependency(DependencyCommand),
    /// werf's encrypted secrets (secret values files and secret files).
    #[command(subcommand)]
    Secret(SecretCommand),
    /// Named chart repositories, in Helm's own `repositories.yaml` (dependencies reach them as
    /// `@NAME` or `alias:NAME`).
    #[command(subcommand)]
    Repo(RepoCommand),
}

/// `werf helm repo ...`.
#[derive(Debug, Subcommand)]
pub enum RepoCommand {
    /// Add a repository (its `index.yaml` is downloaded to check it).
    Add(RepoAddArgs),
    /// List the repositories (names and URLs).
    #[command(alias = "ls")]
    List,
    /// Remove repositories by name.
    #[command(alias = "rm")]
    Remove(RepoNames),
    /// Download the repositories' indexes again (all, or those named).
    #[command(alias = "up")]
    Update(RepoNames),
}

#[derive(Debug, Args)]
pub struct RepoAddArgs {
    pub name: String,
    pub url: String,
    /// The repository's user name.
    #[arg(long)]
    pub username: Option<String>,
    /// The repository's password (prefer `--password-stdin`).
    #[arg(long)]
    pub password: Option<String>,
    /// Read the password from standard input.
    #[arg(long)]
    pub password_stdin: bool,
    /// Replace a repository of the same name.
    #[arg(long)]
    pub force_update: bool,
    /// Send the credentials to every host, not only the repository's.
    #[arg(long)]
    pub pass_credentials: bool,
}

#[derive(Debug, Args)]
pub struct RepoNames {
    pub names: Vec<String>,
}

/// `werf helm secret ...`.
#[derive(Debug, Subcommand)]
pub enum SecretCommand {
    /// Print a new AES-128 key (32 hex characters) for `WERF_SECRET_KEY` or `.werf_secret_key`.
    GenerateSecretKey,
    /// Secret values files: each value encrypted on its own, keys stay readable.
    #[command(subcommand)]
    Values(SecretAction),
    /// Secret files (`.helm/secret/*`): the whole file encrypted.
    #[command(subcommand)]
    File(SecretAction),
    /// Re-encrypt `.helm/secret-values.yaml`, `.helm/secret/*` and the given values files from
    /// the key in `WERF_OLD_SECRET_KEY` to the current key.
    RotateSecretKey(RotateArgs),
}

/// What to do with a secret.
#[derive(Debug, Subcommand)]
pub enum SecretAction {
    /// Encrypt FILE (or standard input).
    Encrypt(SecretIo),
    /// Decrypt FILE (or standard input).
    Decrypt(SecretIo),
    /// Decrypt FILE into an editor (`$EDITOR`, else `vi`), then encrypt what was saved.
    Edit(SecretEdit),
}

#[derive(Debug, Args)]
pub struct SecretIo {
    /// The input (default: standard input).
    pub file: Option<PathBuf>,
    /// Where the result goes (default: standard output); written whole or not at all.
    #[arg(short = 'o', long = "output-file-path", value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SecretEdit {
    pub file: PathBuf,
}

#[derive(Debug, Args)]
pub struct RotateArgs {
    /// More secret values files to re-encrypt.
    pub files: Vec<PathBuf>,
}

/// `werf helm dependency ...`.
#[derive(Debug, Subcommand)]
pub enum DependencyCommand {
    /// Resolve every dependency's newest allowed version from its repository (`oci://`,
    /// `https://` with `index.yaml`, or `file://`) into `charts/`, and write `Chart.lock`.
    Update(DependencyArgs),
    /// Download the versions `Chart.lock` names (which must match `Chart.yaml`) into `charts/`.
    Build(DependencyArgs),
    /// List the dependencies and whether `charts/` has them (`ok`, `missing`, `wrong version`,
    /// `unpacked`).
    List(DependencyArgs),
}

#[derive(Debug, Args)]
pub struct DependencyArgs {
    /// The chart folder (default: `.helm`).
    pub chart: Option<PathBuf>,

    #[command(flatten)]
    pub registry: RegistryAccessArgs,
}

/// How to reach Kubernetes.
#[derive(Debug, Args)]
pub struct KubeArgs {
    /// The kubeconfig file (default: `KUBECONFIG`, then `~/.kube/config`; in a pod without
    /// either, its service account).
    #[arg(long = "kube-config", env = "WERF_KUBE_CONFIG", value_name = "FILE")]
    pub kube_config: Option<PathBuf>,

    /// The kubeconfig itself, base64-encoded (for CI secrets); instead of `--kube-config`.
    #[arg(long, value_name = "BASE64", conflicts_with = "kube_config")]
    pub kube_config_base64: Option<String>,

    /// The kubeconfig context (default: its current context).
    #[arg(long = "kube-context", env = "WERF_KUBE_CONTEXT", value_name = "NAME")]
    pub kube_context: Option<String>,

    #[command(flatten)]
    pub access: KubeAccessArgs,

    /// Take over existing objects that belong to no release, or to another release (without
    /// it, such an object is an error naming it and its owner).
    #[arg(long, env = "WERF_FORCE_ADOPTION")]
    pub force_adoption: bool,
}

/// What is added to every deployed object.
#[derive(Debug, Args)]
pub struct MetadataArgs {
    /// An annotation `key=value` for every deployed object; repeatable. Every variable
    /// `WERF_ADD_ANNOTATION_*` adds one too.
    #[arg(long = "add-annotation", value_name = "KEY=VALUE")]
    pub add_annotation: Vec<String>,

    /// A label `key=value` for every deployed object; repeatable. Every variable
    /// `WERF_ADD_LABEL_*` adds one too.
    #[arg(long = "add-label", value_name = "KEY=VALUE")]
    pub add_label: Vec<String>,
}

/// Custom tags pushed beside the images' content tags (`build`, `converge`).
#[derive(Debug, Args)]
pub struct AddCustomTagArgs {
    /// Also tag every image TEMPLATE in `--repo` (the same manifest, nothing uploaded again):
    /// `%image%`, `%image_slug%`, `%image_safe_slug%` stand for the image's name,
    /// `%image_content_based_tag%` for its content tag; needs `cli.allowCustomTags` in
    /// werf-giterminism.yaml. Cleanup keeps or deletes a custom tag with its image. Repeatable;
    /// every variable `WERF_ADD_CUSTOM_TAG_*` adds one too.
    #[arg(long = "add-custom-tag", value_name = "TEMPLATE")]
    pub add_custom_tag: Vec<String>,
}

/// Which tags a deploy references, and whether its images must be built already (`render`,
/// `plan`, `converge`).
#[derive(Debug, Args)]
pub struct DeployImagesArgs {
    /// Build and push nothing: fail, naming every image missing from `--repo` (and every
    /// `--use-custom-tag` tag not naming its image), before anything in the cluster changes.
    #[arg(short = 'Z', long)]
    pub require_built_images: bool,

    /// Reference the images by this custom tag instead of their content tags (the shortcuts of
    /// `--add-custom-tag`); `converge` also pushes it. Needs `cli.allowCustomTags`.
    #[arg(long, value_name = "TEMPLATE")]
    pub use_custom_tag: Option<String>,
}

#[derive(Debug, Args)]
pub struct RenderCommandArgs {
    #[command(flatten)]
    pub render: RenderArgs,

    #[command(flatten)]
    pub images: DeployImagesArgs,
}

#[derive(Debug, Args)]
pub struct ConvergeArgs {
    #[command(flatten)]
    pub render: RenderArgs,

    #[command(flatten)]
    pub images: DeployImagesArgs,

    #[command(flatten)]
    pub custom_tags: AddCustomTagArgs,

    #[command(flatten)]
    pub kube: KubeArgs,

    #[command(flatten)]
    pub metadata: MetadataArgs,

    #[command(flatten)]
    pub track: TrackArgs,

    /// Write werf's deploy report (release, namespace, revision, status, objects) after the
    /// deploy, a failed one too.
    #[arg(long)]
    pub save_deploy_report: bool,

    /// Where the deploy report goes (`.json`, or no extension: `.json` is added).
    #[arg(long, value_name = "FILE", default_value = crate::pipeline::deploy_report::DEFAULT_PATH)]
    pub deploy_report_path: PathBuf,

    #[command(flatten)]
    pub publish: PublishFlags,

    #[command(flatten)]
    pub history: HistoryArgs,
}

/// How a deploy waits and recovers (`converge`, `bundle apply`).
#[derive(Debug, Args)]
pub struct TrackArgs {
    /// How long tracking may wait for readiness (`20s`, `5m`, or seconds).
    #[arg(
        long,
        env = "WERF_TIMEOUT",
        default_value = "5m",
        value_name = "DURATION"
    )]
    pub timeout: String,

    /// Do not show the containers' last log lines when a tracked object fails.
    #[arg(long)]
    pub no_pod_logs: bool,

    /// On failure, apply the last deployed revision again and track it.
    #[arg(
        long,
        visible_alias = "atomic",
        short = 'R',
        env = "WERF_AUTO_ROLLBACK"
    )]
    pub auto_rollback: bool,
}

/// How images are built and pushed (`build`, `converge`, `dev`).
#[derive(Debug, Args)]
pub struct PublishFlags {
    #[command(flatten)]
    pub registry: RegistryAccessArgs,

    /// Build images in parallel (`--parallel=false`: one at a time).
    #[arg(short = 'p', long, default_value = "true")]
    pub parallel: bool,

    /// How many images are built at once with `--parallel` (default: the number of cores;
    /// `-1`: as many as there are, at most 256).
    #[arg(long, value_name = "N", value_parser = parallel_tasks, allow_negative_numbers = true)]
    pub parallel_tasks_limit: Option<ParallelLimit>,

    /// What builds images with `RUN`: the native builder (no daemon, no `RUN`), buildah, or
    /// BuildKit daemons (`--buildkit-addr`). Default: images without `RUN` build natively, the
    /// others with BuildKit in the local Docker daemon when it answers, else buildah.
    #[arg(long, value_enum)]
    pub backend: Option<Backend>,

    /// A BuildKit daemon for `--backend buildkit`, as buildx spells it: `unix:///PATH`,
    /// `tcp://HOST:PORT`, `docker://` (dockerd's embedded BuildKit) or
    /// `docker://unix:///PATH`. Repeatable: images are spread over the fleet. Default
    /// `docker://`.
    #[arg(
        long = "buildkit-addr",
        env = "WERF_BUILDKIT_ADDR",
        value_name = "ADDR",
        value_delimiter = ','
    )]
    pub buildkit_addr: Vec<String>,

    /// CA certificate the `tcp://` daemons' certificates are checked against (turns TLS on).
    #[arg(long = "buildkit-tls-ca", value_name = "FILE")]
    pub buildkit_tls_ca: Option<std::path::PathBuf>,

    /// Client certificate for `tcp://` daemons.
    #[arg(
        long = "buildkit-tls-cert",
        value_name = "FILE",
        requires = "buildkit_tls_ca"
    )]
    pub buildkit_tls_cert: Option<std::path::PathBuf>,

    /// Client key for `tcp://` daemons.
    #[arg(
        long = "buildkit-tls-key",
        value_name = "FILE",
        requires = "buildkit_tls_cert"
    )]
    pub buildkit_tls_key: Option<std::path::PathBuf>,

    /// The name the daemons' certificates carry (default: the address's host).
    #[arg(
        long = "buildkit-tls-server-name",
        value_name = "NAME",
        requires = "buildkit_tls_ca"
    )]
    pub buildkit_tls_server_name: Option<String>,

    /// Seconds between HTTP/2 pings to each BuildKit daemon: one that answers none for twice
    /// this long is lost, and its image is built on another.
    #[arg(
        long = "buildkit-keepalive",
        env = "WERF_BUILDKIT_KEEPALIVE",
        value_name = "SECONDS",
        default_value_t = 10,
        value_parser = clap::value_parser!(u64).range(1..=3600)
    )]
    pub buildkit_keepalive: u64,
}

/// How many revisions of a release are kept.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Revisions of the release kept in the cluster (0: all), as Helm's `--history-max`.
    #[arg(
        long = "releases-history-max",
        visible_alias = "history-max",
        env = "WERF_RELEASES_HISTORY_MAX",
        default_value_t = 5,
        value_name = "N"
    )]
    pub max: usize,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The revision to deploy again (default: the deployed one before the current).
    #[arg(long, value_name = "N")]
    pub revision: Option<u64>,

    /// The release namespace (default: as `converge` computes it).
    #[arg(long, env = "WERF_NAMESPACE", value_name = "NAMESPACE")]
    pub namespace: Option<String>,

    /// The release name (default: as `converge` computes it).
    #[arg(long, env = "WERF_RELEASE", value_name = "NAME")]
    pub release: Option<String>,

    #[command(flatten)]
    pub kube: KubeArgs,

    /// How long tracking may wait for readiness (`20s`, `5m`, or seconds).
    #[arg(
        long,
        env = "WERF_TIMEOUT",
        default_value = "5m",
        value_name = "DURATION"
    )]
    pub timeout: String,

    #[command(flatten)]
    pub history: HistoryArgs,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub render: RenderArgs,

    #[command(flatten)]
    pub images: DeployImagesArgs,

    #[command(flatten)]
    pub kube: KubeArgs,

    #[command(flatten)]
    pub metadata: MetadataArgs,

    /// Exit with code 2 when the cluster differs from the chart.
    #[arg(long)]
    pub exit_code: bool,

    /// Under each object that changes, the chain that changed it: its fields, its template, the
    /// image values it reads and the files whose edit changed those images, since the commit the
    /// deployed revision was rendered from (or `--since`).
    #[arg(long)]
    pub explain: bool,

    /// The revision `--explain` compares with (default: the deployed revision's commit).
    #[arg(long, value_name = "REV", requires = "explain")]
    pub since: Option<String>,
}

#[derive(Debug, Args)]
pub struct DevArgs {
    /// Chart values and names as `render` takes them; with `--repo`, images are built and pushed
    /// there.
    #[command(flatten)]
    pub render: RenderArgs,

    /// The cluster: with `--kube-config` or `--kube-context` the release is converged on every
    /// save; without either, `werf dev` prints what would change.
    #[command(flatten)]
    pub kube: KubeArgs,

    #[command(flatten)]
    pub metadata: MetadataArgs,

    /// How long tracking may wait for readiness in each cycle (`20s`, `5m`, or seconds).
    #[arg(
        long,
        env = "WERF_TIMEOUT",
        default_value = "2m",
        value_name = "DURATION"
    )]
    pub timeout: String,

    #[command(flatten)]
    pub publish: PublishFlags,

    #[command(flatten)]
    pub history: HistoryArgs,

    /// Do not show the containers' last log lines when a tracked object fails.
    #[arg(long)]
    pub no_pod_logs: bool,

    /// A burst of saves is one cycle once the tree has been quiet this long (milliseconds).
    #[arg(long, value_name = "MS", default_value_t = 50)]
    pub debounce_ms: u64,

    /// Also print which engine queries re-ran in each cycle, by query.
    #[arg(long, short = 'v')]
    pub verbose: bool,
}

#[derive(Debug, Args)]
pub struct DismissArgs {
    /// The release namespace (default: the project, `-ENV` appended with `--env`).
    #[arg(long, env = "WERF_NAMESPACE", value_name = "NAMESPACE")]
    pub namespace: Option<String>,

    /// The release name (default: like the namespace).
    #[arg(long, env = "WERF_RELEASE", value_name = "NAME")]
    pub release: Option<String>,

    #[command(flatten)]
    pub kube: KubeArgs,

    /// Delete the namespace too.
    #[arg(long)]
    pub with_namespace: bool,

    /// How long delete hooks may take (`20s`, `5m`, or seconds).
    #[arg(
        long,
        env = "WERF_TIMEOUT",
        default_value = "5m",
        value_name = "DURATION"
    )]
    pub timeout: String,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The container repository (`REGISTRY/PROJECT`) image references point to (needed only
    /// when werf.yaml has images; `--docker-repo` is werf's older spelling).
    #[arg(long, alias = "docker-repo", env = "WERF_REPO", value_name = "REPO")]
    pub repo: Option<String>,

    /// The release namespace (default: the project, `-ENV` appended with `--env`).
    #[arg(long, env = "WERF_NAMESPACE", value_name = "NAMESPACE")]
    pub namespace: Option<String>,

    /// The release name (default: like the namespace).
    #[arg(long, env = "WERF_RELEASE", value_name = "NAME")]
    pub release: Option<String>,

    /// Extra values files, applied in order.
    #[arg(long = "values", value_name = "FILE")]
    pub values: Vec<PathBuf>,

    /// werf-encrypted values files, applied after `--values` (the key from `WERF_SECRET_KEY`,
    /// `.werf_secret_key` or `~/.werf/global_secret_key`); repeatable.
    #[arg(long = "secret-values", value_name = "FILE")]
    pub secret_values: Vec<PathBuf>,

    /// Values as `a.b=c` (typed like Helm: numbers, booleans, null); repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,

    /// Values as `a.b=c`, always strings; repeatable.
    #[arg(long = "set-string", value_name = "KEY=VALUE")]
    pub set_string: Vec<String>,

    /// Values as `a.b=JSON` (`a={"x":1},b=[1,2]`); repeatable.
    #[arg(long = "set-json", value_name = "KEY=JSON")]
    pub set_json: Vec<String>,

    /// Values read from files: `a.b=PATH` sets the file's text; repeatable.
    #[arg(long = "set-file", value_name = "KEY=PATH")]
    pub set_file: Vec<String>,

    /// One value as written, commas and all: `a.b=VALUE`; repeatable.
    #[arg(long = "set-literal", value_name = "KEY=VALUE")]
    pub set_literal: Vec<String>,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Only plan: print each image's tag and the reason, build and push nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// The container repository images go to (`REGISTRY/PROJECT`); optional with `--dry-run`.
    #[arg(long, alias = "docker-repo", env = "WERF_REPO", value_name = "REPO")]
    pub repo: Option<String>,

    /// Write the build report (werf's JSON shape).
    #[arg(long, env = "WERF_SAVE_BUILD_REPORT")]
    pub save_build_report: bool,

    /// Where the build report goes.
    #[arg(
        long,
        env = "WERF_BUILD_REPORT_PATH",
        value_name = "FILE",
        default_value = ".werf-build-report.json"
    )]
    pub build_report_path: PathBuf,

    #[command(flatten)]
    pub publish: PublishFlags,

    #[command(flatten)]
    pub custom_tags: AddCustomTagArgs,

    /// Print every input of every stage, not just a summary.
    #[arg(long, short = 'v')]
    pub verbose: bool,

    /// With `--dry-run`: for each changed image, the stage inputs that changed since the last
    /// plan, down to the files (as `werf graph --why`).
    #[arg(long, requires = "dry_run")]
    pub explain: bool,

    /// Only these images (and what they depend on); all by default.
    #[arg(value_name = "IMAGE")]
    pub images: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    Native,
    Buildah,
    Buildkit,
}

#[derive(Debug, Args)]
pub struct GraphArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = GraphFormat::Text)]
    pub format: GraphFormat,

    /// Only this image and what it depends on (and the templates reading it).
    #[arg(long, value_name = "NAME")]
    pub image: Option<String>,

    /// Chart values and names as `render` takes them; `--repo` also marks each image as in the
    /// registry or missing (one tag listing).
    #[command(flatten)]
    pub render: RenderArgs,

    #[command(flatten)]
    pub registry: RegistryAccessArgs,

    /// Explain why NODE (`image:NAME`, `object:KIND/NAME`, or an image name) changed since
    /// `--since`, down to the files whose edit caused it.
    #[arg(long, value_name = "NODE")]
    pub why: Option<String>,

    /// The revision `--why` (and the page's why of each changed node) compares with (default
    /// `HEAD~1` for `--why`).
    #[arg(long, value_name = "REV")]
    pub since: Option<String>,

    /// Serve the page on this loopback address (default `127.0.0.1:8090`) until interrupted.
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "127.0.0.1:8090")]
    pub serve: Option<std::net::SocketAddr>,

    /// Mark each object with its live state in the cluster (absent, equal, differs), as `plan`
    /// computes it.
    #[arg(long)]
    pub live: bool,

    #[command(flatten)]
    pub kube: KubeArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    Text,
    Dot,
    Json,
    /// One self-contained page (no network): search, filter, details, path highlighting.
    Html,
}

/// The most images built at once: each holds a worker thread and its layers in flight, and no
/// machine or registry gains from more.
pub const MAX_PARALLEL: usize = 256;

/// `--parallel-tasks-limit`: a number of images, or none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParallelLimit {
    /// At most this many (1 to [`MAX_PARALLEL`]).
    At(usize),
    /// `-1`: no limit of the user's ([`MAX_PARALLEL`] still bounds it).
    None,
}

/// `--parallel-tasks-limit N`: 1 to [`MAX_PARALLEL`], or `-1`.
fn parallel_tasks(s: &str) -> Result<ParallelLimit, String> {
    if s.trim() == "-1" {
        return Ok(ParallelLimit::None);
    }
    let n: usize = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a number of tasks (or -1)"))?;
    if n == 0 || n > MAX_PARALLEL {
        return Err(format!("must be between 1 and {MAX_PARALLEL}, or -1"));
    }
    Ok(ParallelLimit::At(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_from(args: &[&str]) -> Result<Cli, clap::Error> {
        let mut matches = command().try_get_matches_from(args)?;
        <Cli as clap::FromArgMatches>::from_arg_matches_mut(&mut matches)
    }

    fn publish(args: &[&str]) -> PublishFlags {
        match parse_from(args).expect("parses").command {
            Command::Build(b) => b.publish,
            other => panic!("not a build: {other:?}"),
        }
    }

    /// Every flag of every command is also a `WERF_*` variable, and its help says which.
    #[test]
    fn every_flag_has_its_variable_in_the_help() {
        fn walk(cmd: &clap::Command, seen: &mut usize) {
            for arg in cmd.get_arguments() {
                let Some(long) = arg.get_long() else { continue };
                if long == "help" || long == "version" {
                    continue;
                }
                let env = arg.get_env().map(|e| e.to_string_lossy().into_owned());
                let env = env.unwrap_or_else(|| {
                    panic!("`--{long}` of `{}` has no variable", cmd.get_name())
                });
                assert!(env.starts_with("WERF_"), "`--{long}`: `{env}`");
                let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
                assert!(
                    help.ends_with(&format!("(default ${env})")),
                    "`--{long}`: {help}"
                );
                *seen += 1;
            }
            for sub in cmd.get_subcommands() {
                walk(sub, seen);
            }
        }
        let mut cmd = command();
        cmd.build();
        let mut seen = 0;
        walk(&cmd, &mut seen);
        assert!(seen > 100, "only {seen} flags seen");
        let build = cmd.find_subcommand("build").expect("build");
        let env_of = |long: &str| {
            build
                .get_arguments()
                .find(|a| a.get_long() == Some(long))
                .and_then(|a| a.get_env())
                .map(|e| e.to_string_lossy().into_owned())
        };
        assert_eq!(
            env_of("save-build-report").as_deref(),
            Some("WERF_SAVE_BUILD_REPORT")
        );
        assert_eq!(
            env_of("parallel-tasks-limit").as_deref(),
            Some("WERF_PARALLEL_TASKS_LIMIT")
        );
        assert_eq!(env_of("home-dir").as_deref(), Some("WERF_HOME"));
    }

    /// Booleans take werf's forms: present, `=true`/`=false`, and werf's defaults.
    #[test]
    fn boolean_flags_take_werfs_forms() {
        let flags = publish(&["werf", "build"]);
        assert!(flags.parallel, "`--parallel` is on by default");
        assert!(!flags.registry.insecure_registry);
        let flags = publish(&["werf", "build", "--parallel=false", "--insecure-registry"]);
        assert!(!flags.parallel);
        assert!(flags.registry.insecure_registry);
        let flags = publish(&["werf", "build", "-p", "--insecure-registry=false"]);
        assert!(flags.parallel);
        assert!(!flags.registry.insecure_registry);
        let e = parse_from(&["werf", "build", "--parallel=maybe"]).expect_err("not a boolean");
        assert_eq!(e.kind(), clap::error::ErrorKind::ValueValidation);
        // A boolean never takes the next word: it stays an argument (here an image name).
        match parse_from(&["werf", "build", "--dry-run", "false"])
            .expect("parses")
            .command
        {
            Command::Build(b) => {
                assert!(b.dry_run);
                assert_eq!(b.images, ["false"]);
            }
            other => panic!("not a build: {other:?}"),
        }
    }

    #[test]
    fn the_parallel_limit_is_a_number_or_minus_one() {
        let limit = |args: &[&str]| publish(args).parallel_tasks_limit;
        assert_eq!(
            limit(&["werf", "build", "--parallel-tasks-limit", "3"]),
            Some(ParallelLimit::At(3))
        );
        assert_eq!(
            limit(&["werf", "build", "--parallel-tasks-limit", "-1"]),
            Some(ParallelLimit::None)
        );
        for bad in ["0", "257", "-2", "many"] {
            let e = parse_from(&["werf", "build", "--parallel-tasks-limit", bad])
                .expect_err("out of range");
            assert_eq!(e.kind(), clap::error::ErrorKind::ValueValidation, "{bad}");
        }
    }
}
