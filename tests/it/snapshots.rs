//! Whole-CLI output snapshots (insta), with temp paths filtered; tags are content-derived and
//! commit ids deterministic, so they are part of the snapshot on purpose.

use crate::contract::base_repo;
use crate::support::snap_out;

#[test]
fn build_dry_run_first_then_unchanged_then_changed() {
    let mut r = base_repo();
    let first = r.werf(&["build", "--dry-run"]);
    assert!(first.status.success());
    insta::assert_snapshot!("build_first", snap_out(&first, &r));
    let again = r.werf(&["build", "--dry-run"]);
    insta::assert_snapshot!("build_again", snap_out(&again, &r));
    r.write(&[("app/src/main.c", "int main() { return 3; }\n")]);
    r.commit("change app");
    let changed = r.werf(&["build", "--dry-run", "app"]);
    insta::assert_snapshot!("build_changed_app", snap_out(&changed, &r));
}

#[test]
fn build_verbose_lists_every_input() {
    let r = base_repo();
    let out = r.werf(&["build", "--dry-run", "-v", "tool"]);
    assert!(out.status.success());
    insta::assert_snapshot!("build_verbose_tool", snap_out(&out, &r));
}

#[test]
fn graph_text_dot_and_json() {
    let r = base_repo();
    let t = r.werf(&["graph"]);
    assert!(t.status.success());
    insta::assert_snapshot!("graph_text", snap_out(&t, &r));
    let d = r.werf(&["graph", "--format", "dot", "--image", "tool"]);
    insta::assert_snapshot!("graph_dot_tool", snap_out(&d, &r));
    let j = r.werf(&["graph", "--format", "json", "--image", "lib"]);
    let v: serde_json::Value = serde_json::from_slice(&j.stdout).expect("json");
    insta::assert_json_snapshot!("graph_json_lib", v);
}

#[test]
fn build_report_has_werfs_shape() {
    let r = base_repo();
    let out = r.werf(&[
        "build",
        "--dry-run",
        "--repo",
        "127.0.0.1:5000/shop",
        "--save-build-report",
        "--build-report-path",
        "../report.json",
    ]);
    assert!(out.status.success());
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(r.path().join("../report.json")).expect("report"))
            .expect("json");
    insta::assert_json_snapshot!("build_report", v);
}
