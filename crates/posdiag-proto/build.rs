//! Compiles `proto/posdiag/v1/*.proto` with protox (pure Rust: no `protoc` is
//! needed anywhere) and generates prost messages and tonic clients/servers.
//! The encoded descriptor set is written too, for server reflection and for
//! the CLI's proto3 JSON output.

use std::path::PathBuf;

use prost::Message as _;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let files = [
        "posdiag/v1/finding.proto",
        "posdiag/v1/terminal.proto",
        "posdiag/v1/check.proto",
        "posdiag/v1/id.proto",
        "posdiag/v1/code.proto",
        "posdiag/v1/port.proto",
        "posdiag/v1/plugin.proto",
        "posdiag/v1/history.proto",
        "posdiag/v1/admin.proto",
        "posdiag/v1/emv.proto",
        "posdiag/v1/symptom.proto",
    ];
    for f in &files {
        println!("cargo:rerun-if-changed={}", root.join(f).display());
    }
    let fds = protox::compile(files, [&root])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("posdiag_descriptor.bin"), fds.encode_to_vec())?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(fds)?;
    Ok(())
}
