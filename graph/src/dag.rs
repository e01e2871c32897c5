//! The image DAG (petgraph): dependency edges from werf.yaml, topological order, cycle reports.

use std::collections::BTreeMap;

use petgraph::algo::{tarjan_scc, toposort};
use petgraph::graph::{DiGraph, NodeIndex};

use crate::config::WerfConfig;
use crate::error::{Error, Result};

/// Images and their direct dependencies, with a topological order (dependencies first).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ImageDag {
    /// Image -> the images it depends on (sorted, deduplicated).
    pub deps: BTreeMap<String, Vec<String>>,
    /// Every image, dependencies before dependants; ties in werf.yaml order.
    pub order: Vec<String>,
}

impl ImageDag {
    /// Builds the DAG of `config`; a cycle is an error that names it.
    pub fn build(config: &WerfConfig) -> Result<Self> {
        let mut graph: DiGraph<&str, ()> = DiGraph::new();
        let mut index: BTreeMap<&str, NodeIndex> = BTreeMap::new();
        for img in &config.images {
            index.insert(&img.name, graph.add_node(&img.name));
        }
        let mut deps = BTreeMap::new();
        for img in &config.images {
            let mut ds: Vec<String> = img.dependencies.iter().map(|d| d.image.clone()).collect();
            ds.sort();
            ds.dedup();
            for d in &ds {
                // Edge dependency -> dependant, so a topological order builds dependencies first.
                graph.add_edge(index[d.as_str()], index[img.name.as_str()], ());
            }
            deps.insert(img.name.clone(), ds);
        }
        match toposort(&graph, None) {
            Ok(order) => Ok(ImageDag {
                deps,
                order: order.into_iter().map(|n| graph[n].to_string()).collect(),
            }),
            Err(_) => {
                let cycle = find_cycle(&graph);
                let line = config.image(&cycle[0]).map(|i| i.line).unwrap_or_default();
                Err(Error::Cycle {
                    at: config.at(line),
                    cycle,
                })
            }
        }
    }

    /// Every image that depends on `name`, directly or not (sorted).
    pub fn dependants(&self, name: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut frontier = vec![name.to_string()];
        while let Some(n) = frontier.pop() {
            for (img, ds) in &self.deps {
                if ds.contains(&n) && !out.contains(img) {
                    out.push(img.clone());
                    frontier.push(img.clone());
                }
            }
        }
        out.sort();
        out
    }
}

/// A concrete cycle inside the first non-trivial strongly connected component, written in
/// dependency order (`a -> b` means `a` depends on `b`) and closed (`a -> b -> a`).
fn find_cycle(graph: &DiGraph<&str, ()>) -> Vec<String> {
    let scc = tarjan_scc(graph)
        .into_iter()
        .filter(|c| c.len() > 1)
        .min_by_key(|c| c.iter().map(|n| graph[*n]).min())
        .expect("toposort failed, so a cycle exists");
    let start = *scc
        .iter()
        .min_by_key(|n| graph[**n])
        .expect("component is not empty");
    // Walk dependant -> dependency (reverse edges) inside the component until we return.
    let mut path = vec![start];
    let mut current = start;
    loop {
        let next = graph
            .neighbors_directed(current, petgraph::Direction::Incoming)
            .filter(|n| scc.contains(n))
            .min_by_key(|n| graph[*n])
            .expect("every node of a cycle has a predecessor in it");
        if let Some(pos) = path.iter().position(|n| *n == next) {
            let mut cycle: Vec<String> =
                path[pos..].iter().map(|n| graph[*n].to_string()).collect();
            cycle.push(graph[next].to_string());
            return cycle;
        }
        path.push(next);
        current = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;

    #[test]
    fn order_and_cycle() {
        let ok = "project: p\nconfigVersion: 1\n---\nimage: app\ndockerfile: D\ndependencies: [{image: base}]\n---\nimage: base\ndockerfile: D\n";
        let dag = ImageDag::build(&parse("werf.yaml", ok).expect("valid")).expect("acyclic");
        assert_eq!(dag.order, ["base", "app"]);
        assert_eq!(dag.dependants("base"), ["app"]);

        let cyc = "project: p\nconfigVersion: 1\n---\nimage: a\ndockerfile: D\ndependencies: [{image: b}]\n---\nimage: b\ndockerfile: D\ndependencies: [{image: c}]\n---\nimage: c\ndockerfile: D\ndependencies: [{image: a}]\n";
        let err = ImageDag::build(&parse("werf.yaml", cyc).expect("valid")).expect_err("cycle");
        assert_eq!(
            err.to_string(),
            "werf.yaml:4: images depend on each other in a cycle: `a` -> `b` -> `c` -> `a`"
        );
    }
}
