//! The werf.yaml types Dockerfile and Stapel images share: a YAML value kept opaque, and what an
//! import passes. A leaf: [`super::schema`] and [`crate::stapel::schema`] both read it.

use serde::{Deserialize, Serialize};

/// A YAML value kept as canonical JSON (sorted keys): compared and hashed, not interpreted.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Opaque(pub String);

impl<'de> Deserialize<'de> for Opaque {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        serde_json::to_string(&v)
            .map(Opaque)
            .map_err(serde::de::Error::custom)
    }
}

/// What an import passes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ImportType {
    ImageName,
    ImageTag,
    ImageRepo,
    ImageDigest,
    #[serde(rename = "ImageID")]
    ImageId,
}

impl ImportType {
    /// The name as written in werf.yaml.
    pub fn as_str(&self) -> &'static str {
        match self {
            ImportType::ImageName => "ImageName",
            ImportType::ImageTag => "ImageTag",
            ImportType::ImageRepo => "ImageRepo",
            ImportType::ImageDigest => "ImageDigest",
            ImportType::ImageId => "ImageID",
        }
    }
}
