//! Deploy against the cluster: resolve, read history, compare (dry runs), execute, track.

pub mod compare;
pub mod crds;
pub mod execute;
pub mod history;
pub mod lifecycle;
pub mod record;
pub mod resolve;
pub mod table;
pub mod track;
pub mod watch;
