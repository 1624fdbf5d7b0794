//! Compiles gptsweep.proto with protox (pure Rust, no system protoc) and tonic-prost-build.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=gptsweep.proto");
    let fds = protox::compile(["gptsweep.proto"], ["."])?;
    tonic_prost_build::configure().compile_fds(fds)?;
    Ok(())
}
