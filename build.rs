//! Compiles the KServe v2 inference protocol (`proto/inference.proto`) into the gRPC
//! client with protox (no protoc needed on the build machine).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/inference.proto");
    let descriptors = protox::compile(["proto/inference.proto"], ["proto"])?;
    tonic_prost_build::configure()
        .build_server(false)
        .build_client(true)
        // Tensors travel as `Bytes`: a retried request shares its buffers, not copies them.
        .bytes(".inference")
        .compile_fds(descriptors)?;
    Ok(())
}
