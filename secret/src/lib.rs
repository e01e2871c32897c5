//! werf's encrypted secrets, compatible with werf (common-go `pkg/secret`).
//!
//! - [`cipher`]: the key and the value formats (AES-GCM written, legacy AES-CBC read).
//! - [`key`]: where the key is found.
//! - [`values`]: secret values files, leaf by leaf, with YAML tags kept.

pub mod cipher;
pub mod key;
pub mod values;
