//! Triton Inference Server over the KServe v2 gRPC protocol: tensors as raw contents,
//! and a client with pooled channels, deadlines, retries and circuit breakers.

mod breaker;
mod client;
mod health;
pub mod proto;
mod tensor;

pub use breaker::BreakerState;
pub use client::{TritonClient, TritonError};
pub use health::{check, ModelHealth, TritonHealth};
pub use tensor::{decode_bytes, encode_bytes, Output, Tensor, TensorData};
