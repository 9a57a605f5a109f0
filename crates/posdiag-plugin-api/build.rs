//! Compiles `proto/posdiag/plugin/v1/plugin.proto` with protox (pure Rust: no `protoc` is
//! needed anywhere) into prost messages, and writes the encoded file descriptor set so that
//! hosts and tools can reflect on the plugin messages (proto3 JSON, `posdiag plugin verify`).

use std::path::PathBuf;

use prost::Message as _;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let file = "posdiag/plugin/v1/plugin.proto";
    println!("cargo:rerun-if-changed={}", root.join(file).display());
    let fds = protox::compile([file], [&root])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out.join("posdiag_plugin_descriptor.bin"),
        fds.encode_to_vec(),
    )?;
    prost_build::Config::new().compile_fds(fds)?;
    Ok(())
}
