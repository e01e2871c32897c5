//! Generates the client of BuildKit's Control service (`control.proto`), reusing buildkit-rs's
//! generated types for everything the service's messages refer to (LLB ops, workers, source
//! policies, RPC status), so one set of LLB types serves both; and the server side of the
//! session's secrets and auth services (the daemon calls the client).

fn main() -> std::io::Result<()> {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=proto");
    tonic_build::configure()
        .build_server(false)
        .extern_path(".pb", "::buildkit_rs_proto::pb")
        .extern_path(
            ".moby.buildkit.v1.types",
            "::buildkit_rs_proto::moby::buildkit::v1::types",
        )
        .extern_path(
            ".moby.buildkit.v1.sourcepolicy",
            "::buildkit_rs_proto::moby::buildkit::v1::sourcepolicy",
        )
        .extern_path(".google.rpc", "::buildkit_rs_proto::google::rpc")
        .compile(
            &["proto/github.com/moby/buildkit/api/services/control/control.proto"],
            &["proto"],
        )?;
    tonic_build::configure().build_client(false).compile(
        &["proto/werf/secrets.proto", "proto/werf/auth.proto"],
        &["proto"],
    )
}
