//! The function table is Helm 4's, name for name: `helm4-functions.txt` lists every function
//! Helm 4.2's engine gives templates (each name probed in Helm itself by the differential
//! suite's set-up, `tests/helm/functions.py`), and Helm's table here must define exactly those.

#[test]
fn helm_4_s_functions_and_no_others() {
    let helm: Vec<&str> = include_str!("helm4-functions.txt")
        .lines()
        .filter(|l| !l.is_empty())
        .collect();
    assert!(
        helm.len() > 200,
        "the list is Helm's, not a stub: {}",
        helm.len()
    );
    let table = gotemplate::helm::funcs();
    // `and` and `or` are the executor's own (they short-circuit), as in Go.
    let mut ours: Vec<&str> = table.names();
    ours.extend(["and", "or"]);
    ours.sort_unstable();
    let missing: Vec<&&str> = helm.iter().filter(|n| !ours.contains(n)).collect();
    let extra: Vec<&&str> = ours.iter().filter(|n| !helm.contains(n)).collect();
    assert!(missing.is_empty(), "missing: {missing:?}");
    assert!(extra.is_empty(), "not in Helm 4: {extra:?}");
}
