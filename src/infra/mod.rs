//! Adapters to the outside world: PostgreSQL, Redis, Triton, Product Opener, the ANN
//! index, metrics, and the private local PostgreSQL. Uses only `config`, `jobs`, `types`
//! and `text` from the crate: the domain modules above call into it, never the reverse.

pub mod db;
pub mod downloads;
pub mod image_fetch;
pub mod local_pg;
pub mod metrics;
pub mod product_opener;
pub mod redis_streams;
pub mod triton;
