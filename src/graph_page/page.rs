//! The self-contained graph page.

use std::collections::BTreeMap;

use werf_graph::view::GraphView;

const TEMPLATE: &str = include_str!("page.html");
const CSS: &str = include_str!("page.css");
const JS: &str = include_str!("page.js");

/// JSON safe inside a `<script>` element (no `</` can close it).
fn script_json(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v)
        .expect("the graph serializes")
        .replace("</", "<\\/")
        .replace("<!--", "<\\!--")
}

/// The page for `graph`, titled `title`; `why`: node id -> explanation lines.
pub fn render(title: &str, graph: &GraphView, why: &BTreeMap<String, Vec<String>>) -> String {
    let escaped_title = title
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    TEMPLATE
        .replace("{{TITLE}}", &escaped_title)
        .replace("{{CSS}}", CSS)
        .replace("{{JS}}", JS)
        .replace("{{WHY}}", &script_json(why))
        .replace("{{GRAPH}}", &script_json(graph))
}

#[cfg(test)]
mod tests {
    use super::*;
    use werf_graph::view::{Node, NodeKind};

    #[test]
    fn the_page_embeds_the_graph_safely_and_loads_nothing_from_outside() {
        let graph = GraphView {
            nodes: vec![Node {
                id: "object:ConfigMap/x".into(),
                kind: NodeKind::Object,
                label: "ConfigMap </script><script>alert(1)</script>".into(),
                digest: String::new(),
                state: None,
            }],
            edges: vec![],
        };
        let page = render("<demo>", &graph, &BTreeMap::new());
        assert!(
            !page.contains("</script><script>alert(1)"),
            "the label cannot close the data script"
        );
        assert!(page.contains("werf graph: &lt;demo&gt;"));
        for outside in ["http://", "https://", "src=\"//"] {
            let hits: Vec<&str> = page
                .lines()
                .filter(|l| l.contains(outside) && !l.contains("http://www.w3.org/2000/svg"))
                .collect();
            assert!(hits.is_empty(), "{outside}: {hits:?}");
        }
        // Exactly one data block of each kind, then the code.
        assert_eq!(page.matches("id=\"graph-data\"").count(), 1);
        assert_eq!(page.matches("id=\"why-data\"").count(), 1);
    }
}
