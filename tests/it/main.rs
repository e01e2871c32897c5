//! Integration tests of the `werf` binary against real Git repositories.
//!
//! - [`contract`]: which edits change which tags (DESIGN.md section 3).
//! - [`hostile`]: hostile and odd input: links, archives, special files, submodules, deep
//!   nesting, a stalled registry, concurrent builds, planted secrets, panics.
//! - [`hostile_net`]: hostile chart repositories, registries and archives served on 127.0.0.1:
//!   names and links out of the repository, tar headers and answers of gigabytes, endless tag
//!   listings, overflowing HEALTHCHECK durations.
//! - [`bombs`]: test support: hostile archives (a tar header of gigabytes in a small `.tgz`).
//! - [`http_server`]: test support: an HTTP server whose every answer the test writes.
//! - [`errors`]: bad input gives a clear error, a non-zero exit code and no half-written output.
//! - [`graph`]: `werf graph` from files to objects, registry state, its JSON schema.
//! - [`snapshots`]: whole-CLI output (insta).
//! - [`dev`]: the dirty check and `--dev`.
//! - [`dev_loop`]: `werf dev`, a long-running process driven by saves, against the registry and
//!   the cluster.
//! - [`render`]: `werf render`, the chart with werf's values.
//! - [`helm_diff`]: charts rendered by Helm 4 itself and by `werf render`, compared.
//! - [`corpus`]: 47 real public charts rendered by Helm 4 and by `werf render`, compared.
//! - [`helm_deps`]: `werf helm dependency update|build` against OCI and HTTP repositories.
//! - [`buildkit`]: `--backend buildkit` on real BuildKit daemons: one, a fleet, one lost.
//! - [`dockerd`]: test support: a real dockerd (embedded BuildKit) per test.
//! - [`images`]: building and pushing into a real registry, checked with skopeo and umoci.
//! - [`platforms`]: multi-platform images: indexes, per-platform bases, `--platform`.
//! - [`registry`]: test support: a real `docker-registry` per test.
//! - [`kube_smoke`]: the real Kubernetes control plane with the node simulator, via `kubectl`.
//! - [`kube_run`]: `werf kube-run`: a one-off pod, its log, its exit code, its cleanup.
//! - [`deploy`]: `werf converge`/`plan`/`dismiss` against the real cluster and registry.
//! - [`secrets`]: werf's encrypted secrets against Go's crypto, and in `werf render`.
//! - [`stapel`]: Stapel images built with buildah and natively, read back with skopeo and umoci.
//! - [`bundles`]: `werf bundle publish|apply|render|copy` against the registry, the cluster,
//!   skopeo and Helm 4.
//! - [`releases`]: releases shared with Helm 4 (install, upgrade, rollback both ways), `keep`.
//! - [`browser`]: `werf graph --format html` in a real Chromium through WebDriver.
//! - [`chromium`]: test support: ChromeDriver on a free port and a headless session.
//! - [`cleanup`]: `werf cleanup`/`purge`/`host cleanup` against a registry that deletes, and the cluster.
//! - [`cluster`]: test support: one `tests/cluster/kube-up` cluster per test binary.
//! - [`ci`]: what CI jobs call: `WERF_*` variables for flags, `werf version`, `slugify`,
//!   `completion`, `ci-env`, annotations and labels from the environment.

mod bombs;
mod browser;
mod buildkit;
mod bundles;
mod chromium;
mod ci;
mod cleanup;
mod cluster;
mod contract;
mod corpus;
mod custom_tags;
mod deploy;
mod dev;
mod dev_loop;
mod dockerd;
mod errors;
mod graph;
mod helm_deps;
mod helm_diff;
mod hostile;
mod hostile_net;
mod http_server;
mod images;
mod kube_run;
mod kube_smoke;
mod platforms;
mod registry;
mod releases;
mod render;
mod secrets;
mod snapshots;
mod stapel;
mod support;
