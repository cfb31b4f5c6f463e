//! Compiles `proto/portal.proto` to Rust. protox parses it in Rust, so the
//! build needs no `protoc` on the machine.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let descriptors = protox::compile(["proto/portal.proto"], ["proto"])?;
    tonic_prost_build::configure()
        // The tests' client runs over tonic-web's client layer, not a
        // `tonic::transport::Channel`.
        .build_transport(false)
        .compile_fds(descriptors)?;
    Ok(())
}
