//! `werf render`: the chart from the commit with werf's image values, in Helm's order.

use crate::contract::base_files;
use crate::support::{text, Repo};

const CHART: &[(&str, &str)] = &[
    (".helm/Chart.yaml", "apiVersion: v2\nname: shop\nversion: 1.0.0\nappVersion: \"2.1\"\n"),
    (".helm/values.yaml", "replicas: 2\nbig: 1000000\nconfig:\n  key: value\n  multi: |\n    a\n    b\n"),
    (".helm/values-prod.yaml", "replicas: 5\n"),
    (".helm/templates/NOTES.txt", "not rendered {{ .Values.nothing.here }}\n"),
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
    insta::assert_snapshot!("render_default", text(&out, &r).0);
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
    insta::assert_snapshot!("render_required", text(&out, &r).1);
    let r = repo(&[(
        ".helm/templates/bad.yaml",
        "kind: ConfigMap\ndata:\n  x: {{ if .Values.x }}\n",
    )]);
    let out = r.werf(&["render"]);
    assert_eq!(out.status.code(), Some(1));
    insta::assert_snapshot!("render_syntax", text(&out, &r).1);
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
