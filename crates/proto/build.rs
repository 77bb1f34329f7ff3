//! Compiles `proto/**/*.proto` with protox (pure Rust) and generates the prost
//! messages and tonic services.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Read at run time, not `env!`: the compiled build script is shared by
    // every checkout using one target folder (cargo hashes path packages
    // relative to the workspace), and must read *this* checkout's protos.
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let files = [
        root.join("outpost/sync/v1/events.proto"),
        root.join("outpost/sync/v1/sync.proto"),
        root.join("outpost/hw/v1/print.proto"),
    ];
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
    }
    let fds = protox::compile(&files, [&root])?;
    let fds_path = PathBuf::from(std::env::var("OUT_DIR")?).join("outpost_descriptor.bin");
    std::fs::write(&fds_path, prost::Message::encode_to_vec(&fds))?;
    let mut config = prost_build::Config::new();
    config.file_descriptor_set_path(&fds_path).skip_protoc_run();
    tonic_prost_build::configure().compile_with_config(config, &files, &[root])?;
    Ok(())
}
