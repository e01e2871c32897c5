//! YAML as Helm reads and writes it.
//!
//! - [`emit`]: `toYaml` (go-yaml v2's output) and `toYamlPretty` (v3's, indent 2).
//! - [`load`]: documents read as sigs.k8s.io/yaml reads them (YAML 1.1 scalars, merge keys,
//!   numbers as float64), for values files and `fromYaml`.

pub mod emit;
pub mod load;

pub use emit::{to_yaml, to_yaml_pretty};
