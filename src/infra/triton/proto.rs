//! The generated KServe v2 messages and gRPC client (`proto/inference.proto`).
#![allow(clippy::all, missing_docs)]

tonic::include_proto!("inference");
