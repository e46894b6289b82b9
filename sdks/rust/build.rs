//! Generates the `fila.v1` stubs (messages with prost, clients with tonic) from the
//! repository's proto/ at build time, so they can never drift from the contract.
//!
//! protoc comes from `protoc-bin-vendored` (a fresh machine has none): it is a download of
//! prebuilt binaries, nothing to compile, which kept the cold build faster than the pure-Rust
//! `protox` compiler (see README.md). PROTOC, when set, wins (prost-build's convention).
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = PathBuf::from("../../proto");
    let files = ["fila/v1/messages.proto", "fila/v1/service.proto", "fila/v1/admin.proto"];
    for f in &files {
        println!("cargo:rerun-if-changed={}", proto.join(f).display());
    }
    println!("cargo:rerun-if-env-changed=PROTOC");
    let mut config = prost_build::Config::new();
    if std::env::var_os("PROTOC").is_none() {
        config.protoc_executable(protoc_bin_vendored::protoc_bin_path()?);
    }
    let include = protoc_bin_vendored::include_path()?; // google/protobuf/timestamp.proto
    // Payloads as `bytes::Bytes`: a delivered payload is a slice of the received buffer, and
    // a batch retried after UNAVAILABLE clones its messages without copying their payloads.
    config.bytes([".fila.v1.EnqueueRequest.payload", ".fila.v1.Message.payload"]);
    let paths: Vec<PathBuf> = files.iter().map(|f| proto.join(f)).collect();
    tonic_prost_build::configure()
        .build_server(false)
        .emit_rerun_if_changed(false)
        .compile_with_config(config, &paths, &[proto.clone(), include])?;
    Ok(())
}
