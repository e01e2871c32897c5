//! A BuildKit client: BuildKit's Control API spoken over a daemon's socket.
//!
//! - [`address`]: daemon addresses as buildx spells them (`unix://`, `tcp://`, `docker://`).
//! - [`connect`]: a gRPC channel to one daemon (dockerd's `/grpc` upgrade included).
//! - [`llb`]: LLB definitions (image sources, files from bytes).
//! - [`solve`]: a Dockerfile solved by the daemon's frontend, with its status stream.
//! - [`session`]: a client session serving secrets to `RUN` steps.
//! - [`proto`]: the generated Control service client.

pub mod address;
pub mod connect;
pub mod llb;
pub mod proto;
pub mod session;
pub mod solve;
