//! Deploy against the cluster: resolve, read history, compare (dry runs), execute, track; and
//! `werf kube-run`'s one-off pods.

pub mod compare;
pub mod crds;
pub mod execute;
pub mod history;
pub mod kube_run;
pub mod lifecycle;
pub mod record;
pub mod resolve;
pub mod table;
pub mod track;
pub mod watch;
