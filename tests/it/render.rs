//! `werf render`: the chart from the commit with werf's image values, in Helm's order.

use crate::contract::base_files;
use crate::support::{snap_err, snap_out, text, Repo};

const CHART: &[(&str, &str)] = &[
    (".helm/Chart.yaml", "apiVersion: v2\nname: shop\nversion: 1.0.0\nappVersion: \"2.1\"\n"),
    (".helm/values.yaml", "replicas: 2\nbig: 1000000\nconfig:\n  key: value\n  multi: |\n    a\n    b\n"),
    (".helm/values-prod.yaml", "replicas: 5\n"),
    (".helm/templates/NOTES.txt", "notes, never a manifest: {{ .Release.Name }}\n"),
    (".helm/templates/_helpers.tpl", "{{- define \"shop.labels\" -}}\napp: {{ .Chart.Name }}\nrelease: {{ .Release.Name }}\n{{- end -}}\n"),
    (
        ".helm/templates/deployment.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\n  namespace: {{ .Release.Namespace }}\n  labels:\n    {{- include \"shop.labels\" . | nindent 4 }}\nspec:\n  replicas: {{ .Values.replicas }}\n  template:\n    spec:\n      containers:\n      - name: app\n        image: {{ .Values.werf.image.app }}\n        env:\n        - name: TOOL_TAG\n          value: {{ index .Values.werf.tag \"tool\" | quote }}\n        - name: APP_VERSION\n          value: {{ .Chart.AppVersion | quote }}\n        - name: EXTRA\n          value: {{ .Values.extra | default \"none\" | quote }}\n",
    ),
    (
        ".helm/templates/config.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config\ndata:\n  {{- toYaml .Values.config | nindent 2 }}\n  big: {{ .Values.big | quote }}\n  env: {{ .Values.werf.env | quote }}\n---\n# only a comment\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: app\nspec:\n  ports:\n  - port: 80\n    protocol: TCP\n",
    ),
];

fn repo(extra: &[(&str, &str)]) -> Repo {
    let mut files: Vec<(&str, &str)> = base_files();
    files.extend_from_slice(CHART);
    files.extend_from_slice(extra);
    let mut r = Repo::new(&files);
    r.commit("chart");
    r
}

#[test]
fn render_prints_the_chart_with_werf_image_values_in_helms_order() {
    let r = repo(&[]);
    let out = r.werf(&["render", "--repo", "127.0.0.1:5000/shop"]);
    assert!(out.status.success(), "{}", text(&out, &r).1);
    insta::assert_snapshot!("render_default", snap_out(&out, &r));
}

#[test]
fn env_values_set_and_set_string_apply_in_order() {
    let r = repo(&[]);
    let out = r.werf(&[
        "render",
        "--env",
        "prod",
        "--set",
        "replicas=7",
        "--set-string",
        "extra=01",
    ]);
    assert!(out.status.success(), "{}", text(&out, &r).1);
    let (stdout, stderr) = text(&out, &r);
    assert!(stderr.contains("no `--repo`"), "{stderr}");
    assert!(stdout.contains("replicas: 7"), "{stdout}");
    assert!(stdout.contains("namespace: shop-prod"), "{stdout}");
    assert!(stdout.contains("value: \"01\""), "{stdout}");
    assert!(stdout.contains("env: \"prod\""), "{stdout}");
}

#[test]
fn required_and_syntax_errors_name_the_template() {
    let r = repo(&[(".helm/templates/needs.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ required \"set .Values.name, please\" .Values.name }}\n")]);
    let out = r.werf(&["render"]);
    assert_eq!(out.status.code(), Some(1));
    insta::assert_snapshot!("render_required", snap_err(&out, &r));
    let r = repo(&[(
        ".helm/templates/bad.yaml",
        "kind: ConfigMap\ndata:\n  x: {{ if .Values.x }}\n",
    )]);
    let out = r.werf(&["render"]);
    assert_eq!(out.status.code(), Some(1));
    insta::assert_snapshot!("render_syntax", snap_err(&out, &r));
}

#[test]
fn an_uncommitted_chart_file_is_an_error_for_render_but_not_for_build() {
    let r = repo(&[]);
    r.write(&[(
        ".helm/values.yaml",
        "replicas: 9\nbig: 1\nconfig:\n  key: v\n",
    )]);
    let out = r.werf(&["render"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out, &r).1;
    assert!(
        stderr.contains("`.helm/values.yaml` (modified), used by the chart"),
        "{stderr}"
    );
    let dev = r.werf(&["render", "--dev"]);
    assert!(dev.status.success(), "{}", text(&dev, &r).1);
    assert!(
        r.werf(&["build", "--dry-run"]).status.success(),
        "build does not read the chart"
    );
}

/// Giterminism's `helm.allowUncommittedFiles`: the listed chart files are read from the work tree
/// (the render shows the uncommitted value), the others are still errors.
#[test]
fn giterminism_lets_listed_uncommitted_chart_files_be_read_from_the_work_tree() {
    let mut r = repo(&[(
        "werf-giterminism.yaml",
        "giterminismConfigVersion: 1\nhelm:\n  allowUncommittedFiles: [\".helm/values.yaml\"]\n",
    )]);
    r.commit("giterminism");
    r.write(&[(
        ".helm/values.yaml",
        "replicas: 9\nbig: 1\nconfig:\n  key: v\n",
    )]);
    let out = r.werf(&["render"]);
    let (stdout, stderr) = text(&out, &r);
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("replicas: 9"), "{stdout}");
    // Another chart file, not listed: still an error.
    r.write(&[(
        ".helm/templates/config.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: changed\n",
    )]);
    let out = r.werf(&["render"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out, &r).1;
    assert!(
        stderr.contains("`.helm/templates/config.yaml` (modified)")
            && !stderr.contains("`.helm/values.yaml`"),
        "{stderr}"
    );
}

/// Each allowance counts for its own use only: an allowed uncommitted Dockerfile changes its
/// image's tag (read from the work tree), while a broad chart glob does not let an image read
/// an uncommitted context file.
#[test]
fn giterminism_allowances_count_for_their_own_use_only() {
    let mut r = repo(&[(
        "werf-giterminism.yaml",
        "giterminismConfigVersion: 1\nconfig:\n  dockerfile:\n    allowUncommitted: [app/Dockerfile]\nhelm:\n  allowUncommittedFiles: [\"**/*\"]\n",
    )]);
    r.commit("giterminism");
    let before = r.tags();
    r.write(&[(
        "app/Dockerfile",
        "FROM alpine:3.19 AS build\nARG VERSION\nCOPY src/ /src/\nRUN make -C /src VERSION=$VERSION other\n\nFROM scratch\nCOPY --from=build /src/app /app\nENTRYPOINT [\"/app\"]\n",
    )]);
    let after = r.tags();
    assert_ne!(
        before["app"], after["app"],
        "the uncommitted Dockerfile is read"
    );
    assert_eq!(before["lib"], after["lib"]);
    r.write(&[("app/src/main.c", "int main() { return 1; }\n")]);
    let out = r.werf(&["render"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out, &r).1;
    assert!(
        stderr.contains("`app/src/main.c` (modified), used by `app`")
            && !stderr.contains("`app/Dockerfile`"),
        "{stderr}"
    );
}

#[test]
fn subcharts_scope_values_share_global_and_read_files() {
    let r = repo(&[
        (".helm/Chart.yaml", "apiVersion: v2\nname: shop\nversion: 1.0.0\ndependencies:\n- name: cache\n  condition: cache.enabled\n- name: spare\n  condition: spare.enabled\n"),
        (".helm/values.yaml", "replicas: 2\nbig: 1000000\nconfig:\n  key: value\nglobal:\n  domain: shop.example\ncache:\n  size: 3\nspare:\n  enabled: false\n"),
        (".helm/files/a.conf", "a=1\n"),
        (".helm/files/b.conf", "b=2\nb=3\n"),
        (".helm/templates/files.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: files\ndata:\n  {{- (.Files.Glob \"files/*.conf\").AsConfig | nindent 2 }}\n  first: {{ .Files.Get \"files/a.conf\" | trim | quote }}\n  lines: {{ .Files.Lines \"files/b.conf\" | len | quote }}\n  cacheSize: {{ .Values.cache.size | quote }}\n  cacheMode: {{ .Values.cache.mode | quote }}\n  image: {{ tuple \"app\" . | werf_image }}\n  images: {{ toJson (list .Values.werf.tag) | quote }}\n  setList: {{ toJson .Values.list | quote }}\n  dotted: {{ index .Values \"dotted.key\" }}\n"),
        (".helm/charts/cache/Chart.yaml", "apiVersion: v2\nname: cache\nversion: 0.1.0\n"),
        (".helm/charts/cache/values.yaml", "size: 1\nmode: lru\nglobal:\n  domain: cache.default\n  own: mine\n"),
        (".helm/charts/cache/templates/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Chart.Name }}-{{ .Release.Name }}\ndata:\n  size: {{ .Values.size | quote }}\n  mode: {{ .Values.mode }}\n  domain: {{ .Values.global.domain }}\n  own: {{ .Values.global.own | quote }}\n  app: {{ .Values.global.werf.image.app }}\n  template: {{ .Template.Name }}\n"),
        (".helm/charts/spare/Chart.yaml", "apiVersion: v2\nname: spare\nversion: 0.1.0\n"),
        (".helm/charts/spare/templates/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: must-not-render\n"),
    ]);
    let out = r.werf(&[
        "render",
        "--repo",
        "127.0.0.1:5000/shop",
        "--set",
        "cache.mode=arc,list[1].name=x\\,y,dotted\\.key=v",
    ]);
    let stderr = text(&out, &r).1;
    assert!(out.status.success(), "{stderr}");
    insta::assert_snapshot!("render_subcharts", snap_out(&out, &r));
}

#[test]
fn werf_yaml_is_a_template_with_env_and_files() {
    let r = Repo::new(&[
        (
            "werf.yaml",
            "project: {{ env \"PROJECT_NAME\" | default \"fallback\" }}\nconfigVersion: 1\n{{- range $name := splitList \",\" (.Files.Get \"images.txt\" | trim) }}\n---\nimage: {{ $name }}\ncontext: {{ $name }}\ndockerfile: Dockerfile\n{{- end }}\n{{- if eq .Env \"prod\" }}\n---\nimage: prod-only\ncontext: a\ndockerfile: Dockerfile\n{{- end }}\n",
        ),
        ("images.txt", "a,b\n"),
        (
            "werf-giterminism.yaml",
            "giterminismConfigVersion: 1\nconfig:\n  goTemplateRendering:\n    allowEnvVariables: [PROJECT_NAME]\n",
        ),
        ("a/Dockerfile", "FROM alpine:3.19\nCOPY a.txt /a.txt\n"),
        ("a/a.txt", "a\n"),
        ("b/Dockerfile", "FROM alpine:3.19\nCOPY b.txt /b.txt\n"),
        ("b/b.txt", "b\n"),
    ]);
    let mut r = r;
    r.commit("templated config");
    let graph = |env: &[(&str, &str)], args: &[&str]| {
        let mut all = vec!["graph", "--format", "json"];
        all.extend_from_slice(args);
        let out = r.werf_env(&all, env);
        assert!(out.status.success(), "{}", text(&out, &r).1);
        text(&out, &r).0
    };
    let plain = graph(&[], &[]);
    assert!(
        plain.contains("\"a\"") && plain.contains("\"b\""),
        "{plain}"
    );
    assert!(!plain.contains("prod-only"), "{plain}");
    let prod = graph(&[("PROJECT_NAME", "shop")], &["--env", "prod"]);
    assert!(prod.contains("prod-only"), "{prod}");

    // A template error names werf.yaml's line and column.
    r.write(&[(
        "werf.yaml",
        "project: x\nconfigVersion: 1\nx: {{ .Files.Get \"nope.txt\" }}\n",
    )]);
    r.commit("bad");
    let out = r.werf(&["build", "--dry-run"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out, &r).1;
    assert!(stderr.contains("werf.yaml:3:"), "{stderr}");
    assert!(
        stderr.contains("`nope.txt` is not in the commit"),
        "{stderr}"
    );
}
