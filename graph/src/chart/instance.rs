//! A chart as it renders: under its name (an alias is a copy), at its place in the tree.

use std::sync::Arc;

use serde_json::{Map, Value as Json};

use super::Chart;

/// A chart as it renders: under its name (the alias, if any), at its place in the tree.
#[derive(Clone, Debug, PartialEq)]
pub struct Instance {
    pub chart: Arc<Chart>,
    /// The name templates and values see.
    pub name: String,
    /// The prefix of its template names: `root`, `root/charts/alias`.
    pub path: String,
    /// Its default values (`values.yaml`, plus what `import-values` brought up).
    pub values: Map<String, Json>,
    /// `Chart.yaml`'s dependencies that were kept, with `name` the alias and `enabled` set.
    pub dependencies: Option<Vec<Json>>,
    pub children: Vec<Instance>,
}

impl Instance {
    pub(super) fn new(chart: Arc<Chart>, name: String, parent: Option<&str>) -> Instance {
        let path = match parent {
            Some(p) => format!("{p}/charts/{name}"),
            None => name.clone(),
        };
        let children = chart
            .subcharts
            .iter()
            .map(|c| Instance::new(c.clone(), c.name.clone(), Some(&path)))
            .collect();
        Instance {
            values: chart.values.clone(),
            dependencies: chart
                .meta
                .get("dependencies")
                .and_then(|d| d.as_array())
                .cloned(),
            chart,
            name,
            path,
            children,
        }
    }

    /// Every instance of the tree, parents before children.
    pub fn walk(&self) -> Vec<&Instance> {
        let mut out = vec![self];
        let mut i = 0;
        while i < out.len() {
            let next: Vec<&Instance> = out[i].children.iter().collect();
            out.extend(next);
            i += 1;
        }
        out
    }

    pub(super) fn rename(&mut self, name: &str, parent: &str) {
        self.name = name.to_string();
        self.path = format!("{parent}/charts/{name}");
        let path = self.path.clone();
        for c in &mut self.children {
            let n = c.name.clone();
            c.rename(&n, &path);
        }
    }
}
