//! The chart's `crds/` as Helm treats them: created before anything else when missing, then
//! waited for until the API server serves them (`Established`); never updated, never deleted,
//! never part of the release record (so no prune can remove them).

use std::time::{Duration, Instant};

use kube::api::{Api, DynamicObject};
use serde_json::Value;

use crate::kubernetes::Kube;
use crate::{Error, Result};

/// Creates the missing ones of `crds` ((file, document) pairs); returns how many were created.
pub async fn install(
    kube: &Kube,
    reporter: &dyn crate::report::Reporter,
    crds: &[(String, String)],
    timeout: Duration,
) -> Result<usize> {
    let mut created = Vec::new();
    for (file, text) in crds {
        let object =
            gotemplate::yaml::load::load_with(text, gotemplate::yaml::load::Numbers::AsWritten)
                .map_err(|e| Error::Manifest {
                    source_file: file.clone(),
                    message: format!("not valid YAML: {e}"),
                })?;
        if object.is_null() {
            continue;
        }
        let field = |p: &str| {
            object
                .pointer(p)
                .and_then(Value::as_str)
                .unwrap_or_default()
        };
        let (api_version, kind, name) = (
            field("/apiVersion"),
            field("/kind"),
            field("/metadata/name"),
        );
        if api_version.is_empty() || kind.is_empty() || name.is_empty() {
            return Err(Error::Manifest {
                source_file: file.clone(),
                message: "a document without `apiVersion`, `kind` and `metadata.name`".into(),
            });
        }
        let (ar, _) = kube.resource(api_version, kind, file).await?;
        let api: Api<DynamicObject> = Api::all_with(kube.client.clone(), &ar);
        let obj: DynamicObject =
            serde_json::from_value(object.clone()).map_err(|e| Error::Manifest {
                source_file: file.clone(),
                message: e.to_string(),
            })?;
        let made = kube.create(&api, &obj).await.map_err(|source| Error::Api {
            verb: "create",
            id: format!("{kind} `{name}` (from `{file}`)"),
            source,
        })?;
        if made {
            reporter.event(crate::report::Event::CrdCreated { kind, name });
            created.push((api, name.to_string()));
        }
    }
    // As Helm: the release waits until the new definitions are served.
    let deadline = Instant::now() + timeout;
    for (api, name) in &created {
        loop {
            kube.count();
            let live = api.get(name).await.map_err(|source| Error::Api {
                verb: "read",
                id: format!("`{name}`"),
                source,
            })?;
            let established = live
                .data
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .is_some_and(|c| {
                    c.iter()
                        .any(|c| c["type"] == "Established" && c["status"] == "True")
                });
            // Kinds other than CustomResourceDefinition have no such condition to wait for.
            if established || !api.resource_url().contains("customresourcedefinitions") {
                break;
            }
            if Instant::now() > deadline {
                return Err(Error::NotEstablished(name.clone()));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    Ok(created.len())
}
