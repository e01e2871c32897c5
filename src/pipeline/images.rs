//! The images a deploy references: custom tags (allowed by giterminism, checked against
//! werf.yaml's images, pushed after a publish, referenced by the chart), and
//! `--require-built-images`, which asks the registry for every image instead of building one.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{anyhow, bail, Context as _, Result};
use werf_graph::custom_tag::ImageTag;

use crate::build::custom_tag::{self, Alias};
use crate::build::ImageResult;
use crate::project::Loaded;
use crate::settings::{CustomTags, GlobalSettings, RegistrySettings};

/// The images the chart references (werf.yaml's, not a Stapel image's earlier stages), in
/// werf.yaml's order.
fn final_images(loaded: &Loaded) -> Vec<String> {
    loaded
        .config
        .images
        .iter()
        .filter(|i| !i.is_internal())
        .map(|i| i.name.clone())
        .collect()
}

/// Checks that `tags` may be used: werf-giterminism.yaml allows custom tags, there is a
/// repository to put them in, and each template gives every image a valid tag of its own.
pub fn check(loaded: &Loaded, tags: &CustomTags, repo: Option<&str>) -> Result<()> {
    if tags.is_empty() {
        return Ok(());
    }
    if !loaded.giterminism.allow_custom_tags {
        bail!(
            "custom tags (`--add-custom-tag`, `--use-custom-tag`) are not allowed by giterminism: set `cli.allowCustomTags: true` in werf-giterminism.yaml"
        );
    }
    if repo.is_none() {
        bail!("custom tags can only be used with a repository: pass `--repo REGISTRY/PROJECT`");
    }
    let images = final_images(loaded);
    for t in tags.pushed() {
        t.check(&images)?;
    }
    Ok(())
}

/// Each image's `--use-custom-tag` tag for the render (empty without one).
pub fn referenced(
    loaded: &Loaded,
    template: Option<&custom_tag::Template>,
) -> BTreeMap<String, ImageTag> {
    let Some(t) = template else {
        return BTreeMap::new();
    };
    final_images(loaded)
        .into_iter()
        .map(|name| {
            let tag = t.for_image(&name);
            (name, tag)
        })
        .collect()
}

/// Every custom tag of the images of `built` the chart can reference, with its content tag.
fn aliases(loaded: &Loaded, tags: &CustomTags, built: &[ImageResult]) -> Result<Vec<Alias>> {
    let built: BTreeSet<&str> = built.iter().map(|r| r.name.as_str()).collect();
    let images: BTreeSet<String> = final_images(loaded)
        .into_iter()
        .filter(|i| built.contains(i.as_str()))
        .collect();
    let mut out = Vec::new();
    for plan in loaded
        .ok_plans()?
        .iter()
        .filter(|p| images.contains(&p.name))
    {
        for t in tags.pushed() {
            out.push(Alias {
                image: plan.name.clone(),
                content_tag: plan.tag.clone(),
                tag: t.expand(&plan.name, &plan.tag),
            });
        }
    }
    Ok(out)
}

/// Pushes the custom tags of the images a publish left in `repo` (`built`), printing one line.
pub fn push(
    global: &GlobalSettings,
    loaded: &Loaded,
    repo: &str,
    registry: &RegistrySettings,
    tags: &CustomTags,
    built: &[ImageResult],
) -> Result<()> {
    let aliases = aliases(loaded, tags, built)?;
    if aliases.is_empty() {
        return Ok(());
    }
    let client = registry.client(Some(repo), &[], global.timeouts)?;
    let done = custom_tag::publish(&client, repo, &aliases)?;
    crate::printer::line(&format!(
        "{} custom tag{}: {} tagged, {} already in `{repo}`",
        aliases.len(),
        if aliases.len() == 1 { "" } else { "s" },
        done.tagged,
        done.unchanged,
    ));
    Ok(())
}

/// `--require-built-images`: every image the chart references must be in `repo` (and, with
/// `--use-custom-tag`, its custom tag must name the same manifest); otherwise an error naming
/// each missing one. Plans again with the import records `repo` holds, so importers' tags are
/// the ones that were built.
pub fn require_built(
    global: &GlobalSettings,
    loaded: &mut Loaded,
    repo: Option<&str>,
    registry: &RegistrySettings,
    tags: &CustomTags,
) -> Result<()> {
    let images = final_images(loaded);
    if images.is_empty() {
        return Ok(());
    }
    let repo = repo.ok_or_else(|| {
        anyhow!(
            "`--require-built-images` needs `--repo REGISTRY/PROJECT` to look for the images in"
        )
    })?;
    let client = registry.client(Some(repo), &[], global.timeouts)?;
    let listed = client
        .list_tags(repo)
        .with_context(|| format!("listing the tags of `{repo}`"))?;
    loaded.use_import_records(&listed)?;
    let mut missing: Vec<String> = Vec::new();
    let mut present = Vec::new();
    for name in &images {
        match loaded.plans.iter().find(|(n, _)| n == name) {
            Some((_, Ok(plan))) if listed.contains(&plan.tag) => present.push(plan.clone()),
            Some((_, Ok(plan))) => missing.push(format!("`{name}` (`{repo}:{}`)", plan.tag)),
            Some((_, Err(werf_graph::Error::ImportPending { .. }))) => missing.push(format!(
                "`{name}` (what it imports was never built into `{repo}`)"
            )),
            Some((_, Err(e))) => return Err(anyhow!("{e}")),
            None => missing.push(format!("`{name}` (not planned)")),
        }
    }
    if let Some(t) = &tags.referenced {
        let refs: Vec<(String, String, String)> = present
            .iter()
            .map(|p| (p.name.clone(), p.tag.clone(), t.expand(&p.name, &p.tag)))
            .collect();
        let digests = crate::registry::parallel(&refs, |(_, content, custom)| {
            Ok((
                client.manifest_digest(&format!("{repo}:{content}"))?,
                listed
                    .contains(custom)
                    .then(|| client.manifest_digest(&format!("{repo}:{custom}")))
                    .transpose()?
                    .flatten(),
            ))
        })?;
        for ((name, _, custom), (content, alias)) in refs.iter().zip(digests) {
            if alias.is_none() {
                missing.push(format!("`{name}`: custom tag `{repo}:{custom}`"));
            } else if alias != content {
                missing.push(format!(
                    "`{name}`: custom tag `{repo}:{custom}` names another image than the content tag"
                ));
            }
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    bail!(
        "`--require-built-images`: {} image{} missing from `{repo}` (build and push with `werf build --repo {repo}`{}):\n  {}",
        missing.len(),
        if missing.len() == 1 { " is" } else { "s are" },
        if tags.referenced.is_some() { " --add-custom-tag TEMPLATE" } else { "" },
        missing.join("\n  ")
    )
}

/// What `render` and `plan` do before they render (they build nothing): check the custom tags,
/// then with `--require-built-images` ask `repo` for every image, else plan with the import
/// records this machine last saw in `repo`.
pub fn before_render(
    global: &GlobalSettings,
    loaded: &mut Loaded,
    repo: Option<&str>,
    require_built_images: bool,
    tags: &CustomTags,
) -> Result<()> {
    check(loaded, tags, repo)?;
    if require_built_images {
        require_built(global, loaded, repo, &RegistrySettings::default(), tags)
    } else if let Some(repo) = repo {
        loaded.use_recorded_imports(repo)
    } else {
        Ok(())
    }
}
