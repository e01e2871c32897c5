//! The self-contained graph page.

use std::collections::BTreeMap;

use werf_graph::view::GraphView;

const TEMPLATE: &str = include_str!("page.html");
const CSS: &str = include_str!("page.css");
const JS: &str = include_str!("page.js");

/// JSON safe inside a `<script>` element and still JSON: `<`, `>` and `&` (so nothing can close
/// the element or open a comment) and U+2028/U+2029 as `\uXXXX` escapes.
fn script_json(v: &impl serde::Serialize) -> String {
    let text = serde_json::to_string(v).expect("the graph serializes");
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// The page for `graph`, titled `title`; `why`: node id -> explanation lines.
///
/// The template's markers are filled in one pass over the template, so text that a marker
/// brings in (a file named `{{GRAPH}}.txt`) is never read as a marker.
pub fn render(title: &str, graph: &GraphView, why: &BTreeMap<String, Vec<String>>) -> String {
    let escaped_title = title
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let fill = |marker: &str| -> Option<String> {
        Some(match marker {
            "TITLE" => escaped_title.clone(),
            "CSS" => CSS.to_string(),
            "JS" => JS.to_string(),
            "WHY" => script_json(why),
            "GRAPH" => script_json(graph),
            _ => return None,
        })
    };
    let mut out = String::with_capacity(TEMPLATE.len());
    let mut rest = TEMPLATE;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        match after
            .find("}}")
            .and_then(|close| Some((close, fill(&after[..close])?)))
        {
            Some((close, text)) => {
                out.push_str(&text);
                rest = &after[close + 2..];
            }
            None => {
                out.push_str("{{");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
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
                platforms: Vec::new(),
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
        // The data is JSON as it stands in the page (what the page's own `JSON.parse` reads).
        let data = between(&page, "id=\"graph-data\">", "</script>");
        let back: serde_json::Value = serde_json::from_str(data).expect("valid JSON");
        assert_eq!(
            back["nodes"][0]["label"],
            "ConfigMap </script><script>alert(1)</script>"
        );
        // Exactly one data block of each kind, then the code.
        assert_eq!(page.matches("id=\"graph-data\"").count(), 1);
        assert_eq!(page.matches("id=\"why-data\"").count(), 1);
    }

    fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
        let from = text.find(start).expect("start") + start.len();
        let to = text[from..].find(end).expect("end") + from;
        &text[from..to]
    }

    #[test]
    fn file_names_that_look_like_markers_or_comments_stay_data() {
        let names = [
            "{{GRAPH}}.txt",
            "<!-- x.txt",
            "{{WHY}}",
            "a\u{2028}b",
            "x&y>z",
        ];
        let graph = GraphView {
            nodes: names
                .iter()
                .map(|n| Node {
                    id: format!("file:{n}"),
                    kind: NodeKind::Object,
                    label: n.to_string(),
                    digest: String::new(),
                    state: None,
                    platforms: Vec::new(),
                })
                .collect(),
            edges: vec![],
        };
        let why: BTreeMap<String, Vec<String>> = [(
            "file:{{GRAPH}}.txt".to_string(),
            vec!["{{JS}} <!-- changed".to_string()],
        )]
        .into();
        let page = render("{{CSS}}", &graph, &why);
        let data: serde_json::Value =
            serde_json::from_str(between(&page, "id=\"graph-data\">", "</script>"))
                .expect("graph JSON");
        let labels: Vec<&str> = data["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .map(|n| n["label"].as_str().expect("label"))
            .collect();
        assert_eq!(labels, names);
        let why_back: serde_json::Value =
            serde_json::from_str(between(&page, "id=\"why-data\">", "</script>"))
                .expect("why JSON");
        assert_eq!(why_back["file:{{GRAPH}}.txt"][0], "{{JS}} <!-- changed");
        assert!(page.contains("werf graph: {{CSS}}</title>"));
        assert_eq!(page.matches("id=\"graph-data\"").count(), 1);
        assert!(!page.contains("<!-- "), "no comment opens inside the data");
    }
}
