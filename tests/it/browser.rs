//! The graph page in a real browser: Debian's Chromium, driven through ChromeDriver over
//! WebDriver (fantoccini): search an image, click it, read its why, follow the highlighted path
//! to its Deployment. A screenshot is saved in the test's temp folder.

use std::path::Path;

use fantoccini::Locator;

use crate::chromium::Driver;
use crate::support::Repo;

const WERF_YAML: &str = "project: page
configVersion: 1
---
image: app
context: app
dockerfile: Dockerfile
---
image: other
context: other
dockerfile: Dockerfile
";

#[test]
fn the_page_searches_explains_and_highlights_the_path_to_the_deployment() {
    let mut r = Repo::new(&[
        ("werf.yaml", WERF_YAML),
        ("app/Dockerfile", "FROM scratch\nCOPY x.txt /x.txt\n"),
        ("app/x.txt", "x\n"),
        ("other/Dockerfile", "FROM scratch\nCOPY y.txt /y.txt\n"),
        ("other/y.txt", "y\n"),
        (".helm/Chart.yaml", "apiVersion: v2\nname: page\nversion: 1.0.0\n"),
        (
            ".helm/templates/app.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\nspec:\n  template:\n    spec:\n      containers:\n      - image: {{ .Values.werf.image.app }}\n",
        ),
        (
            ".helm/templates/other.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: other\nspec:\n  template:\n    spec:\n      containers:\n      - image: {{ .Values.werf.image.other }}\n",
        ),
    ]);
    r.commit("init");
    r.write(&[("app/x.txt", "x, edited\n")]);
    r.commit("edit");
    with_page(&r, &["--since", "HEAD~1"], async |c, work| {
        // Collapsed by default: images and objects, no stages.
        let shown = c.find_all(Locator::Css("g.node")).await.unwrap().len();
        let stages = c
            .find_all(Locator::Css("g.node.stage"))
            .await
            .unwrap()
            .len();
        assert!(shown >= 4, "{shown} nodes shown");
        assert_eq!(stages, 0);

        // Search: the match is marked, unrelated images are filtered out.
        search(c, "app").await;
        assert!(c
            .find_all(Locator::Css("g.node[data-id='image:other']"))
            .await
            .unwrap()
            .is_empty());

        // Click it: its inputs, digest and why, and the objects an edit to it reaches.
        let details = click_image(c, "app").await;
        assert!(details.starts_with("image app"), "{details}");
        assert!(details.contains("digest "), "{details}");
        assert!(details.contains("why:"), "{details}");
        assert!(details.contains("app/x.txt modified"), "{details}");
        assert!(
            details.contains("objects an edit here reaches:"),
            "{details}"
        );
        assert!(details.contains("Deployment app"), "{details}");
        // The path to the Deployment is highlighted; the other Deployment is not on it.
        let deployment = c
            .find(Locator::Css("g.node[data-id='object:Deployment/app']"))
            .await
            .unwrap();
        let class = deployment.attr("class").await.unwrap().unwrap_or_default();
        assert!(class.split(' ').any(|c| c == "hl"), "{class}");
        // Follow it: the Deployment's why names the image and the file.
        deployment.click().await.unwrap();
        let details = details_text(c).await;
        assert!(
            details.contains("Deployment `app` changed: spec.template.spec.containers[0].image"),
            "{details}"
        );
        assert!(details.contains("app/x.txt modified"), "{details}");

        let png = c.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
        std::fs::write(work.join("graph.png"), png).unwrap();
    });
}

/// A graph taller than the window: only the rows near the viewport are in the page; scrolling
/// draws the rows it reaches, and a search scrolls to its match and draws it.
#[test]
fn a_large_graph_draws_the_rows_near_the_viewport_and_scrolling_draws_the_rest() {
    const IMAGES: usize = 300;
    let mut yaml = String::from("project: tall\nconfigVersion: 1\n");
    for i in 0..IMAGES {
        yaml.push_str(&format!(
            "---\nimage: svc-{i:03}\ncontext: app\ndockerfile: Dockerfile\n"
        ));
    }
    let mut r = Repo::new(&[
        ("werf.yaml", yaml.as_str()),
        ("app/Dockerfile", "FROM scratch\nCOPY x.txt /x.txt\n"),
        ("app/x.txt", "x\n"),
        (
            ".helm/Chart.yaml",
            "apiVersion: v2\nname: tall\nversion: 1.0.0\n",
        ),
        // Drawn as markup: a name that is markup must come out as text.
        (
            HOSTILE,
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hostile\n",
        ),
    ]);
    r.commit("init");
    with_page(&r, &[], async |c, _| {
        let drawn = c
            .find_all(Locator::Css("g.node.image"))
            .await
            .unwrap()
            .len();
        assert!(
            drawn > 0 && drawn < IMAGES,
            "{drawn} of {IMAGES} images drawn"
        );
        assert_eq!(
            c.find_all(Locator::Css(&image_node("svc-000")))
                .await
                .unwrap()
                .len(),
            1
        );
        assert!(c
            .find_all(Locator::Css(&image_node("svc-299")))
            .await
            .unwrap()
            .is_empty());
        let summary = c
            .find(Locator::Id("summary"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        // Every shown node is counted, drawn or not.
        let counted: usize = summary
            .split(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_default();
        assert!(counted > IMAGES, "{summary}");

        // Scrolled to the bottom: the last rows are drawn, the first are not.
        scroll_to(c, "1e9", "svc-299").await;
        assert!(c
            .find_all(Locator::Css(&image_node("svc-000")))
            .await
            .unwrap()
            .is_empty());

        // Back to the top, then a search for an image far below: it is scrolled to and drawn.
        scroll_to(c, "0", "svc-000").await;
        search(c, "svc-250").await;
        let details = click_image(c, "svc-250").await;
        assert!(details.starts_with("image svc-250"), "{details}");

        // The template whose name is markup is a node with that text, and no element.
        c.execute(
            "const s = document.getElementById('search'); s.value = 'hostile'; \
             s.dispatchEvent(new Event('input'));",
            vec![],
        )
        .await
        .unwrap();
        c.wait()
            .for_element(Locator::Css("g.node.match.template"))
            .await
            .expect("the template matches");
        // Labels past 36 characters are cut: the part that is drawn.
        let label = "hostile<b>a&amp;'\"<i";
        assert!(HOSTILE.contains(label));
        let texts = c
            .execute(
                "return [...document.querySelectorAll('g.node text')].map((t) => t.textContent);",
                vec![],
            )
            .await
            .unwrap();
        let texts: Vec<String> = serde_json::from_value(texts).unwrap();
        assert!(
            texts.iter().any(|t| t.contains(label)),
            "the template is drawn with its name as text: {texts:?}"
        );
        assert!(c
            .find_all(Locator::Css("#svg b, #svg img"))
            .await
            .unwrap()
            .is_empty());
    });
}

/// A template whose file name is markup (and would run script if it were parsed as such).
const HOSTILE: &str = ".helm/templates/hostile<b>a&amp;'\"<img src=x onerror=alert(1)>.yaml";

/// Opens the page `werf graph --format html ARGS` prints for `r` in Chromium and runs `visit`
/// once it is ready, with the test's work folder (kept until the end).
fn with_page(r: &Repo, args: &[&str], visit: impl AsyncFnOnce(&fantoccini::Client, &Path)) {
    let out = r.werf(&[&["graph", "--format", "html"], args].concat());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let work = tempfile::tempdir().unwrap();
    let page = work.path().join("graph.html");
    std::fs::write(&page, &out.stdout).unwrap();

    let driver = Driver::start();
    let profile = work.path().join("profile");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let c = driver.session(&profile).await;
        c.goto(&format!("file://{}", page.display())).await.unwrap();
        c.wait()
            .for_element(Locator::Css("body[data-ready='true']"))
            .await
            .expect("the page becomes ready");
        visit(&c, work.path()).await;
        c.close().await.unwrap();
    });
}

/// The details panel's text.
async fn details_text(c: &fantoccini::Client) -> String {
    let panel = c.find(Locator::Id("details")).await.unwrap();
    panel.text().await.unwrap()
}

/// Types the image name `image` into the search box and waits until that image is drawn marked
/// as the match.
async fn search(c: &fantoccini::Client, image: &str) {
    let field = c.find(Locator::Id("search")).await.unwrap();
    field.send_keys(image).await.unwrap();
    let marked = format!("g.node.match[data-id='image:{image}']");
    c.wait()
        .for_element(Locator::Css(&marked))
        .await
        .expect("the searched image is drawn and marked");
}

/// Clicks the image's node and returns the details panel's text.
async fn click_image(c: &fantoccini::Client, image: &str) -> String {
    c.find(Locator::Css(&image_node(image)))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    details_text(c).await
}

/// The CSS selector of an image's node.
fn image_node(image: &str) -> String {
    format!("g.node[data-id='image:{image}']")
}

/// Scrolls the graph to `top` (a JavaScript number) and waits until the image's node is drawn.
async fn scroll_to(c: &fantoccini::Client, top: &str, image: &str) {
    let script = format!("document.getElementById('canvas').scrollTop = {top};");
    c.execute(&script, vec![]).await.unwrap();
    c.wait()
        .for_element(Locator::Css(&image_node(image)))
        .await
        .expect("the image is drawn once scrolled to");
}
