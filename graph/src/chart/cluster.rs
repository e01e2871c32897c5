//! What templates may read of a live cluster: Helm's `lookup`. The engine only knows this trait;
//! the binary implements it against the API server for `converge` and `plan`, and a render without
//! a cluster (`werf render`, as `helm template`) finds nothing.

use std::sync::Arc;

use gotemplate::Value;

/// Reads objects for `lookup`.
pub trait Lookup: Send + Sync {
    /// The object (`name` given) or the list (`name` empty: `{"items": [...], ...}`) as JSON;
    /// an object that does not exist is `Ok(None)`.
    fn lookup(
        &self,
        api_version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Result<Option<serde_json::Value>, LookupError>;
}

/// Why a cluster could not answer a `lookup`.
pub type LookupError = Box<dyn std::error::Error + Send + Sync>;

/// The cluster a render may read, or none; two are the same only when they are the same handle.
#[derive(Clone, Default)]
pub struct Cluster(pub Option<Arc<dyn Lookup>>);

impl Cluster {
    /// No cluster: `lookup` finds nothing.
    pub fn offline() -> Self {
        Cluster(None)
    }

    /// Helm's `lookup APIVERSION KIND NAMESPACE NAME`: the object as a map, or an empty map.
    pub fn lookup(&self, args: &[Value]) -> Result<Value, gotemplate::FuncError> {
        let [a, k, ns, n] = args else {
            return Err(
                format!("wrong number of args for lookup: want 4 got {}", args.len()).into(),
            );
        };
        let text = |v: &Value| match v {
            Value::Str(s) => Ok(s.clone()),
            other => Err(gotemplate::FuncError::from(format!(
                "wrong type for value; expected string; got {}",
                gotemplate::sprig::go_type(other)
            ))),
        };
        let (api_version, kind, namespace, name) = (text(a)?, text(k)?, text(ns)?, text(n)?);
        let Some(cluster) = &self.0 else {
            return Ok(Value::map(Default::default()));
        };
        Ok(
            match cluster
                .lookup(&api_version, &kind, &namespace, &name)
                .map_err(|e| e.to_string())?
            {
                Some(object) => Value::from_json(&object),
                None => Value::map(Default::default()),
            },
        )
    }
}

impl PartialEq for Cluster {
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl Eq for Cluster {}

impl std::hash::Hash for Cluster {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0
            .as_ref()
            .map(|a| Arc::as_ptr(a) as *const () as usize)
            .hash(state);
    }
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Cluster(live)"
        } else {
            "Cluster(offline)"
        })
    }
}
