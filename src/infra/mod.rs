//! Adapters to the outside world: PostgreSQL, Redis, Triton, Product Opener, the ANN
//! index, metrics, and the private local PostgreSQL.

pub mod db;
pub mod image_fetch;
pub mod local_pg;
pub mod metrics;
pub mod product_opener;
pub mod redis_streams;
