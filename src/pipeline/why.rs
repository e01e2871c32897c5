//! Two revisions (HEAD and a base) planned and rendered by the same engine, and the chain from an
//! edited file to an image's tag or an object's fields (`werf graph --why`, the page, `plan
//! --explain`).

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{bail, Context as _, Result};
use werf_graph::chart::output::Template;
use werf_graph::chart::{Cluster, RenderOptions};
use werf_graph::plan::ImagePlan;
use werf_graph::render::{RenderInput, RenderedTemplate};
use werf_graph::{Database, ObjectSource, Project};

use crate::pipeline::render::named_render_options;
use crate::project::{plans_by_name, Loaded};
use crate::settings::{GlobalSettings, RenderSettings};

type Templates = Option<Vec<(Template, Arc<RenderedTemplate>)>>;

/// Both revisions' plans and rendered templates.
pub struct Revisions {
    /// `REV (short id)`.
    pub since: String,
    new_plans: BTreeMap<String, Arc<ImagePlan>>,
    old_plans: BTreeMap<String, Arc<ImagePlan>>,
    new_templates: Templates,
    old_templates: Templates,
    objects: Arc<dyn ObjectSource>,
}

fn render_at(db: &Database, project: Project, options: &Option<RenderOptions>) -> Templates {
    options.as_ref().and_then(|o| {
        let input = RenderInput::new(db, o.clone(), Cluster::offline());
        werf_graph::render::rendered_templates(db, project, input).ok()
    })
}

impl Revisions {
    /// Plans and renders what was loaded (HEAD, or the `--dev` snapshot) and the revision
    /// `since`; the engine is left where it was.
    pub fn load(
        global: &GlobalSettings,
        render: &RenderSettings,
        since: &str,
        loaded: &mut Loaded,
    ) -> Result<Self> {
        let old_commit = loaded
            .repo
            .commit(Some(since))
            .with_context(|| format!("the base revision `{since}`"))?;
        let has_chart = werf_graph::render::chart_tree(&loaded.db, loaded.project).is_ok();
        let options = if has_chart {
            Some(named_render_options(global, render, loaded)?)
        } else {
            None
        };
        let project = loaded.project;
        let new_plans = plans_by_name(&loaded.db, project);
        let new_templates = render_at(&loaded.db, project, &options);
        let (old_plans, old_templates) = loaded.at_commit(&old_commit, |db, project| {
            (plans_by_name(db, project), render_at(db, project, &options))
        });
        Ok(Revisions {
            since: format!("{since} ({})", &old_commit.id[..old_commit.id.len().min(7)]),
            new_plans,
            old_plans,
            new_templates,
            old_templates,
            objects: loaded.objects.clone(),
        })
    }

    fn repo_path(plan: &ImagePlan, path: &str) -> String {
        plan.repo_path(path)
    }

    /// Why image `name`'s tag is what it is now, and the dependencies whose tags changed.
    pub fn explain_image(&self, name: &str, indent: &str) -> Result<Vec<String>> {
        let Some(new) = self.new_plans.get(name) else {
            bail!("image `{name}` is not defined in werf.yaml");
        };
        let mut out = Vec::new();
        let old = self.old_plans.get(name).map(|p| &**p);
        for line in werf_graph::why::image(&*self.objects, old, new, &Self::repo_path)? {
            out.push(format!("{indent}{line}"));
        }
        for dep in &new.dependencies {
            if let (Some(o), Some(n)) = (self.old_plans.get(dep), self.new_plans.get(dep)) {
                if o.tag != n.tag {
                    out.push(format!("{indent}  because image `{dep}` changed:"));
                    for line in
                        werf_graph::why::image(&*self.objects, Some(o), n, &Self::repo_path)?
                    {
                        out.push(format!("{indent}    {line}"));
                    }
                }
            }
        }
        Ok(out)
    }

    fn find(
        templates: &Templates,
        kind: &str,
        name: &str,
    ) -> Option<(Template, Arc<RenderedTemplate>, String)> {
        templates.iter().flatten().find_map(|(t, r)| {
            r.manifests
                .iter()
                .find(|m| m.kind == kind && m.name == name)
                .map(|m| (t.clone(), r.clone(), m.text.clone()))
        })
    }

    /// Why object `KIND/NAME` is what it is now: its changed fields, its template, and the image
    /// values it read whose tags changed (each explained).
    pub fn explain_object(&self, kind: &str, name: &str) -> Result<Vec<String>> {
        let Some((template, rendered, text)) = Self::find(&self.new_templates, kind, name) else {
            bail!("the chart renders no `{kind}` named `{name}`");
        };
        let mut out = Vec::new();
        match Self::find(&self.old_templates, kind, name) {
            None => out.push(format!(
                "{kind} `{name}` is new (rendered by `{}`)",
                template.name
            )),
            Some((_, _, old)) if old == text => out.push(format!(
                "{kind} `{name}` is unchanged (rendered by `{}`)",
                template.name
            )),
            Some((_, _, old)) => {
                let parse =
                    |t: &str| serde_yaml_ng::from_str::<serde_json::Value>(t).unwrap_or_default();
                let fields = werf_graph::why::field_paths(&parse(&old), &parse(&text));
                out.push(format!("{kind} `{name}` changed: {}", fields.join(", ")));
                out.push(format!("  rendered by `{}`", template.name));
                let mut explained = false;
                for image in &rendered.images {
                    if let (Some(o), Some(n)) =
                        (self.old_plans.get(image), self.new_plans.get(image))
                    {
                        if o.tag != n.tag {
                            out.push(format!("  which reads the values of image `{image}`:"));
                            out.extend(self.explain_image(image, "    ")?);
                            explained = true;
                        }
                    }
                }
                if !explained {
                    out.push("  no image it reads changed: the template or the values did".into());
                }
            }
        }
        Ok(out)
    }

    /// `image:NAME`, `object:KIND/NAME` or an image name.
    pub fn explain(&self, target: &str) -> Result<Vec<String>> {
        if let Some(object) = target.strip_prefix("object:") {
            let (kind, name) = object
                .split_once('/')
                .with_context(|| format!("`{target}`: name an object as `object:KIND/NAME`"))?;
            return self.explain_object(kind, name);
        }
        self.explain_image(target.strip_prefix("image:").unwrap_or(target), "")
    }

    /// The explanation of every image and object that changed (for the page).
    pub fn all_changed(&self) -> BTreeMap<String, Vec<String>> {
        let mut out = BTreeMap::new();
        for (name, p) in &self.new_plans {
            if self.old_plans.get(name).map(|o| &o.tag) != Some(&p.tag) {
                if let Ok(lines) = self.explain_image(name, "") {
                    out.insert(format!("image:{name}"), lines);
                }
            }
        }
        for (_, r) in self.new_templates.iter().flatten() {
            for m in r.manifests.iter().filter(|m| !m.kind.is_empty()) {
                let changed = Self::find(&self.old_templates, &m.kind, &m.name)
                    .is_none_or(|(_, _, old)| old != m.text);
                if changed {
                    if let Ok(lines) = self.explain_object(&m.kind, &m.name) {
                        out.insert(format!("object:{}/{}", m.kind, m.name), lines);
                    }
                }
            }
        }
        out
    }
}
