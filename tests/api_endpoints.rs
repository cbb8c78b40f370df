//! The public HTTP API against a real PostgreSQL: every endpoint's JSON shape, the
//! conformance cases of spec api-db §8 (Robotoff's `tests/integration/test_api.py`),
//! parameter parsing and error bodies, CORS, and downloads limited to image hosts.

mod common;

#[path = "api_endpoints/support.rs"]
mod support;

#[path = "api_endpoints/questions.rs"]
mod questions;

#[path = "api_endpoints/insights.rs"]
mod insights;

#[path = "api_endpoints/annotate.rs"]
mod annotate;

#[path = "api_endpoints/catalog.rs"]
mod catalog;

#[path = "api_endpoints/conventions.rs"]
mod conventions;

#[path = "api_endpoints/downloads.rs"]
mod downloads;
