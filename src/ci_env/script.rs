//! What `werf ci-env` writes, decided from the job's variables alone: the sections and
//! variables werf writes for GitLab CI/CD and GitHub Actions, and each shell's syntax. A
//! variable the job already sets is kept (written as a skipped comment) unless werf always
//! overrides it; an empty value is written commented out.

use std::collections::BTreeMap;

/// The CI system.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum System {
    Gitlab,
    Github,
}

/// How the lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Syntax {
    /// A POSIX shell script (`export KEY="VALUE"`).
    Posix,
    /// PowerShell (`$Env:KEY = "VALUE"`).
    Powershell,
    /// cmd.exe (`set KEY=VALUE`).
    Cmd,
    /// A `.env` file (`KEY=VALUE`).
    EnvFile,
}

/// One variable of the script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Variable {
    pub name: &'static str,
    pub value: String,
    /// Written even when the job already sets it.
    pub overrides: bool,
}

/// A titled group of variables.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    pub title: &'static str,
    pub variables: Vec<Variable>,
}

/// The registry login the job's Docker config gets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Login {
    /// The registry host (`registry.example.com:5050`).
    pub registry: String,
    pub user: String,
    /// The name of the job's variable holding the password (never its value).
    pub password_variable: &'static str,
}

/// What the job's variables make of the script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub sections: Vec<Section>,
}

fn text(name: &'static str, value: impl Into<String>, overrides: bool) -> Variable {
    Variable {
        name,
        value: value.into(),
        overrides,
    }
}

/// `KEY=VALUE` for an annotation, or nothing when `value` is empty.
fn annotation(key: &str, value: &str) -> String {
    if value.is_empty() {
        String::new()
    } else {
        format!("{key}={value}")
    }
}

/// werf's annotations of a job: the project's Git URL, the commit, the Git tag (each empty when
/// the job does not say).
fn annotations(channel: String, git: &str, commit: &str, tag: &str) -> Vec<Variable> {
    vec![
        text("WERF_ADD_ANNOTATION_WERF_RELEASE_CHANNEL", channel, true),
        text(
            "WERF_ADD_ANNOTATION_PROJECT_GIT",
            annotation("project.werf.io/git", git),
            true,
        ),
        text(
            "WERF_ADD_ANNOTATION_CI_COMMIT",
            annotation("ci.werf.io/commit", commit),
            true,
        ),
        text(
            "WERF_ADD_ANNOTATION_CI_GIT_TAG",
            annotation("ci.werf.io/tag", tag),
            true,
        ),
    ]
}

/// The registry login the job's variables allow: GitLab's job token (as `gitlab-ci-token`, or
/// `CI_REGISTRY_USER`) for the registry of `CI_REGISTRY_IMAGE`, GitHub's token for `ghcr.io`.
pub fn login(system: System, env: &BTreeMap<String, String>) -> Option<Login> {
    let var = |name: &str| env.get(name).map(String::as_str).unwrap_or("");
    match system {
        System::Gitlab => {
            let image = var("CI_REGISTRY_IMAGE");
            (!image.is_empty() && !var("CI_JOB_TOKEN").is_empty()).then(|| Login {
                registry: registry_of(image, var("CI_REGISTRY")),
                user: match var("CI_REGISTRY_USER") {
                    "" => "gitlab-ci-token".to_string(),
                    user => user.to_string(),
                },
                password_variable: "CI_JOB_TOKEN",
            })
        }
        System::Github => (!var("GITHUB_ACTOR").is_empty() && !var("GITHUB_TOKEN").is_empty())
            .then(|| Login {
                registry: GITHUB_REGISTRY.to_string(),
                user: var("GITHUB_ACTOR").to_string(),
                password_variable: "GITHUB_TOKEN",
            }),
    }
}

/// The script for `system`: `env` is the job's environment, `docker_config` the folder made
/// for the job, `project` werf.yaml's project (GitHub's repository path ends with it).
pub fn plan(
    system: System,
    env: &BTreeMap<String, String>,
    docker_config: &str,
    project: Option<&str>,
) -> Plan {
    let var = |name: &str| env.get(name).map(String::as_str).unwrap_or("");
    let channel = annotation(
        "werf.io/release-channel",
        var("TRDL_USE_WERF_GROUP_CHANNEL"),
    );
    // werf names GitLab's registry when the job's repository is (or will be) in it.
    let mut registry_kind = String::new();
    let (repo, deploy) = match system {
        System::Gitlab => {
            let image = var("CI_REGISTRY_IMAGE");
            let repo = if image.is_empty() {
                String::new()
            } else {
                format!("{image}/werf")
            };
            let job_repo = var("WERF_REPO");
            if !image.is_empty()
                && (job_repo.is_empty() || job_repo.starts_with(var("CI_REGISTRY")))
            {
                registry_kind = "gitlab".to_string();
            }
            let mut deploy = vec![text("WERF_ENV", var("CI_ENVIRONMENT_SLUG"), false)];
            deploy.extend(annotations(
                channel,
                var("CI_PROJECT_URL"),
                var("CI_COMMIT_SHA"),
                var("CI_COMMIT_TAG"),
            ));
            deploy.push(text(
                "WERF_ADD_ANNOTATION_GITLAB_CI_PIPELINE_URL",
                annotation("gitlab.ci.werf.io/pipeline-url", var("CI_PIPELINE_URL")),
                true,
            ));
            deploy.push(text(
                "WERF_ADD_ANNOTATION_GITLAB_CI_JOB_URL",
                annotation("gitlab.ci.werf.io/job-url", var("CI_JOB_URL")),
                true,
            ));
            (repo, deploy)
        }
        System::Github => {
            let repository = var("GITHUB_REPOSITORY");
            let package = repository.to_ascii_lowercase();
            let repo = match project {
                Some(p) if !package.is_empty() => format!("{GITHUB_REGISTRY}/{package}/{p}"),
                _ => String::new(),
            };
            let url = |path: &str| {
                if repository.is_empty() {
                    String::new()
                } else {
                    format!("https://github.com/{repository}{path}")
                }
            };
            let tag = if var("GITHUB_REF_TYPE") == "tag" {
                var("GITHUB_REF_NAME")
            } else {
                ""
            };
            let run = match var("GITHUB_RUN_ID") {
                "" => String::new(),
                id => url(&format!("/actions/runs/{id}")),
            };
            let mut deploy = annotations(channel, &url(""), var("GITHUB_SHA"), tag);
            deploy.push(text(
                "WERF_ADD_ANNOTATION_GITHUB_ACTIONS_RUN_URL",
                annotation("github.ci.werf.io/workflow-run-url", &run),
                true,
            ));
            (repo, deploy)
        }
    };
    Plan {
        sections: vec![
            Section {
                title: "DOCKER CONFIG",
                variables: vec![text("DOCKER_CONFIG", docker_config, true)],
            },
            Section {
                title: "REPO",
                variables: {
                    let mut v = vec![text("WERF_REPO", repo, false)];
                    if !registry_kind.is_empty() {
                        v.push(text("WERF_REPO_CONTAINER_REGISTRY", registry_kind, false));
                    }
                    v
                },
            },
            Section {
                title: "DEPLOY",
                variables: deploy,
            },
        ],
    }
}

/// GitHub's container registry, where werf puts a repository's images.
pub const GITHUB_REGISTRY: &str = "ghcr.io";

/// The registry host of `image` (`CI_REGISTRY` when the image names none).
fn registry_of(image: &str, fallback: &str) -> String {
    match image.split_once('/') {
        Some((host, _)) if host.contains(['.', ':']) || host == "localhost" => host.to_string(),
        _ if !fallback.is_empty() => fallback.to_string(),
        _ => "docker.io".to_string(),
    }
}

/// The script's text: each section's title as a comment, each variable as the syntax writes
/// it; a variable the job already sets (`env`) and the script must not override is written as
/// a skipped comment naming the job's value. `verbose` (werf's `--log-verbose`): each line is
/// also echoed when the script runs (not in a `.env` file, which runs nothing).
pub fn render(
    plan: &Plan,
    syntax: Syntax,
    env: &BTreeMap<String, String>,
    verbose: bool,
) -> String {
    let comment = |text: &str| match syntax {
        Syntax::Cmd => format!(":: {text}"),
        _ => format!("# {text}"),
    };
    let echo = verbose && syntax != Syntax::EnvFile;
    let mut out = String::new();
    let write = |line: &str, out: &mut String| {
        out.push_str(line);
        out.push('\n');
        if echo {
            out.push_str(&echo_line(syntax, line));
            out.push('\n');
        }
    };
    for (i, section) in plan.sections.iter().enumerate() {
        if i > 0 {
            out.push('\n');
            if echo {
                out.push_str(&echo_line(syntax, ""));
                out.push('\n');
            }
        }
        write(&comment(section.title), &mut out);
        for v in &section.variables {
            let line = assignment(syntax, v.name, &v.value);
            let current = env.get(v.name).filter(|c| !c.is_empty());
            let written = match (current, v.overrides) {
                (Some(current), false) => comment(&format!("skip {line} ({current})")),
                _ if v.value.is_empty() => comment(&line),
                _ => line,
            };
            write(&written, &mut out);
        }
    }
    out
}

/// `echo 'LINE'` as werf writes it, the quote escaped for the shell.
fn echo_line(syntax: Syntax, line: &str) -> String {
    let quoted = match syntax {
        Syntax::Posix => line.replace('\'', "'\\''"),
        Syntax::Powershell => line.replace('\'', "''"),
        Syntax::Cmd | Syntax::EnvFile => line.to_string(),
    };
    format!("echo '{quoted}'")
}

/// `name` set to `value` in `syntax`, quoted so the shell reads the value as it is.
fn assignment(syntax: Syntax, name: &str, value: &str) -> String {
    match syntax {
        Syntax::Posix => format!("export {name}=\"{}\"", posix_escape(value)),
        Syntax::Powershell => format!("$Env:{name} = \"{}\"", powershell_escape(value)),
        Syntax::Cmd => format!("set {name}={value}"),
        Syntax::EnvFile => format!("{name}={value}"),
    }
}

/// Inside `"..."` a POSIX shell still expands `$`, `` ` `` and `\`, and `"` ends the string.
fn posix_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '$' | '`' | '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Inside `"..."` PowerShell expands `$` and reads `` ` `` as its escape; `"` ends the string.
fn powershell_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '$' | '`' | '"') {
            out.push('`');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_gitlab_job_gets_werfs_variables() {
        let job = env(&[
            ("CI_REGISTRY", "registry.example.com:5050"),
            ("CI_REGISTRY_IMAGE", "registry.example.com:5050/group/app"),
            ("CI_REGISTRY_USER", "gitlab-ci-token"),
            ("CI_JOB_TOKEN", "job-token-value"),
            ("CI_ENVIRONMENT_SLUG", "review-feature-x"),
            ("CI_PROJECT_URL", "https://gitlab.example.com/group/app"),
            ("CI_COMMIT_SHA", "0123abcd"),
            (
                "CI_PIPELINE_URL",
                "https://gitlab.example.com/group/app/-/pipelines/7",
            ),
            (
                "CI_JOB_URL",
                "https://gitlab.example.com/group/app/-/jobs/9",
            ),
        ]);
        let plan = plan(System::Gitlab, &job, "/home/ci/.werf-rs/tmp/dc", None);
        assert_eq!(
            login(System::Gitlab, &job),
            Some(Login {
                registry: "registry.example.com:5050".into(),
                user: "gitlab-ci-token".into(),
                password_variable: "CI_JOB_TOKEN",
            })
        );
        let script = render(&plan, Syntax::Posix, &job, false);
        assert_eq!(
            script,
            "# DOCKER CONFIG\n\
             export DOCKER_CONFIG=\"/home/ci/.werf-rs/tmp/dc\"\n\
             \n\
             # REPO\n\
             export WERF_REPO=\"registry.example.com:5050/group/app/werf\"\n\
             export WERF_REPO_CONTAINER_REGISTRY=\"gitlab\"\n\
             \n\
             # DEPLOY\n\
             export WERF_ENV=\"review-feature-x\"\n\
             # export WERF_ADD_ANNOTATION_WERF_RELEASE_CHANNEL=\"\"\n\
             export WERF_ADD_ANNOTATION_PROJECT_GIT=\"project.werf.io/git=https://gitlab.example.com/group/app\"\n\
             export WERF_ADD_ANNOTATION_CI_COMMIT=\"ci.werf.io/commit=0123abcd\"\n\
             # export WERF_ADD_ANNOTATION_CI_GIT_TAG=\"\"\n\
             export WERF_ADD_ANNOTATION_GITLAB_CI_PIPELINE_URL=\"gitlab.ci.werf.io/pipeline-url=https://gitlab.example.com/group/app/-/pipelines/7\"\n\
             export WERF_ADD_ANNOTATION_GITLAB_CI_JOB_URL=\"gitlab.ci.werf.io/job-url=https://gitlab.example.com/group/app/-/jobs/9\"\n"
        );
        assert!(
            !script.contains("job-token-value"),
            "the token stays in the Docker config"
        );
    }

    #[test]
    fn what_the_job_sets_is_kept_and_values_are_quoted_for_each_shell() {
        let job = env(&[
            ("CI_REGISTRY", "r.example.com"),
            ("CI_REGISTRY_IMAGE", "r.example.com/g/a"),
            ("WERF_REPO", "other.example.com/mine"),
            ("CI_ENVIRONMENT_SLUG", "a\"b$c"),
        ]);
        let plan = plan(System::Gitlab, &job, "/d", None);
        assert_eq!(login(System::Gitlab, &job), None, "no job token, no login");
        let posix = render(&plan, Syntax::Posix, &job, false);
        assert!(posix.contains(
            "# skip export WERF_REPO=\"r.example.com/g/a/werf\" (other.example.com/mine)\n"
        ));
        // The job's repository is elsewhere than GitLab's registry: no registry kind.
        assert!(!posix.contains("WERF_REPO_CONTAINER_REGISTRY"), "{posix}");
        assert!(
            posix.contains("export WERF_ENV=\"a\\\"b\\$c\"\n"),
            "{posix}"
        );
        let ps = render(&plan, Syntax::Powershell, &job, false);
        assert!(ps.contains("$Env:WERF_ENV = \"a`\"b`$c\"\n"), "{ps}");
        let cmd = render(&plan, Syntax::Cmd, &job, false);
        assert!(
            cmd.starts_with(":: DOCKER CONFIG\nset DOCKER_CONFIG=/d\n"),
            "{cmd}"
        );
        let dotenv = render(&plan, Syntax::EnvFile, &job, false);
        assert!(dotenv.contains("\nWERF_ENV=a\"b$c\n"), "{dotenv}");
    }

    #[test]
    fn a_github_job_gets_werfs_variables() {
        let job = env(&[
            ("GITHUB_REPOSITORY", "Owner/Repo"),
            ("GITHUB_SHA", "feedbeef"),
            ("GITHUB_RUN_ID", "42"),
            ("GITHUB_REF_TYPE", "tag"),
            ("GITHUB_REF_NAME", "v1.2.0"),
            ("GITHUB_ACTOR", "octocat"),
            ("GITHUB_TOKEN", "ghs_secret"),
        ]);
        let plan = plan(System::Github, &job, "/d", Some("shop"));
        assert_eq!(
            login(System::Github, &job),
            Some(Login {
                registry: "ghcr.io".into(),
                user: "octocat".into(),
                password_variable: "GITHUB_TOKEN",
            })
        );
        let script = render(&plan, Syntax::Posix, &job, false);
        for line in [
            "export WERF_REPO=\"ghcr.io/owner/repo/shop\"\n",
            "export WERF_ADD_ANNOTATION_PROJECT_GIT=\"project.werf.io/git=https://github.com/Owner/Repo\"\n",
            "export WERF_ADD_ANNOTATION_CI_COMMIT=\"ci.werf.io/commit=feedbeef\"\n",
            "export WERF_ADD_ANNOTATION_CI_GIT_TAG=\"ci.werf.io/tag=v1.2.0\"\n",
            "export WERF_ADD_ANNOTATION_GITHUB_ACTIONS_RUN_URL=\"github.ci.werf.io/workflow-run-url=https://github.com/Owner/Repo/actions/runs/42\"\n",
        ] {
            assert!(script.contains(line), "missing {line} in\n{script}");
        }
        assert!(!script.contains("ghs_secret"));
        // Without werf.yaml's project there is no default repository.
        let script = render(
            &super::plan(System::Github, &job, "/d", None),
            Syntax::Posix,
            &job,
            false,
        );
        assert!(script.contains("# export WERF_REPO=\"\"\n"), "{script}");
    }

    #[test]
    fn log_verbose_echoes_every_line_as_werf_does() {
        let job = env(&[("CI_REGISTRY_IMAGE", "r.example.com/g/it's")]);
        let plan = plan(System::Gitlab, &job, "/d", None);
        let script = render(&plan, Syntax::Posix, &job, true);
        assert!(
            script.starts_with("# DOCKER CONFIG\necho '# DOCKER CONFIG'\nexport DOCKER_CONFIG=\"/d\"\necho 'export DOCKER_CONFIG=\"/d\"'\n\necho ''\n# REPO\n"),
            "{script}"
        );
        assert!(
            script.contains("echo 'export WERF_REPO=\"r.example.com/g/it'\\''s/werf\"'\n"),
            "{script}"
        );
        // Every line but the blank ones has its echo.
        let lines: Vec<&str> = script.lines().filter(|l| !l.is_empty()).collect();
        let echoes = lines.iter().filter(|l| l.starts_with("echo '")).count();
        assert_eq!(
            echoes * 2,
            lines.len() + plan.sections.len() - 1,
            "{script}"
        );
        // A `.env` file runs nothing: no echo.
        assert!(!render(&plan, Syntax::EnvFile, &job, true).contains("echo"));
    }
}
