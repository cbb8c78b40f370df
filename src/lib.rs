//! Robotoff: predictions, insights and questions from Open Food Facts product photos.
//!
//! Imports point one way, from the top layer down (checked by `tests/layering/`):
//!
//! | layer | modules |
//! |---|---|
//! | command line | `cli` (argument parsing, one call each) |
//! | composition root | `app` (database, supervision tree, HTTP server) |
//! | HTTP API | `http` |
//! | actors | `actors` (messages, state, `handle`; [`actors::shards`] routes to shards) |
//! | domain services | `pipeline` (what each job does), `annotation`, `product_store` |
//! | domain | `insights`, `events`, `maintenance`, `ann` (the logo index and its sync), `cluster` (membership, notices) |
//! | pure logic and adapters | `ocr`, `questions`, `imaging`, `ml` (model pre- and post-processing), `infra` (PostgreSQL, Redis, Product Opener, Triton, metrics) |
//! | vocabulary | `taxonomy`, `jobs`, `config` |
//! | types | `types`, `shard` |
//! | text | `text`, `i18n` |

pub mod actors;
pub mod ann;
pub mod annotation;
pub mod app;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod events;
pub mod http;
pub mod i18n;
pub mod imaging;
pub mod infra;
pub mod insights;
pub mod jobs;
pub mod maintenance;
pub mod ml;
pub mod ocr;
pub mod pipeline;
pub mod product_store;
pub mod questions;
pub mod shard;
pub mod taxonomy;
pub mod text;
pub mod types;
