//! Robotoff: predictions, insights and questions from Open Food Facts product photos.
//!
//! Dependencies point one way: `http` → `actors` → `infra` → domain modules
//! (`types`, `jobs`, `shard`, `ocr`, `taxonomy`, ...), which do no I/O of their own.

pub mod actors;
pub mod annotation;
pub mod app;
pub mod cli;
pub mod config;
pub mod events;
pub mod http;
pub mod i18n;
pub mod infra;
pub mod insights;
pub mod jobs;
pub mod maintenance;
pub mod ocr;
pub mod pipeline;
pub mod product_store;
pub mod questions;
pub mod shard;
pub mod taxonomy;
pub mod text;
pub mod types;
