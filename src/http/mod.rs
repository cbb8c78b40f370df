//! The HTTP API (warp): one filter ([`server::api`]) hands every request to the API's
//! router; resource modules hold the handlers and declare their routes; one error
//! format; request metrics. Handlers read through `infra` and write through `actors`.
//! The service's own web pages ([`web`]) are served beside the API and only call it.

pub mod access;
pub mod annotate;
pub mod auth;
pub mod cache;
pub mod catalog;
pub mod countries;
pub mod doc;
pub mod dto;
pub mod error;
pub mod identity;
pub mod insights;
pub mod logo_writes;
pub mod logos;
pub mod openapi;
pub mod ops;
pub mod params;
pub mod predict;
pub mod predict_models;
pub mod questions;
pub mod reply;
pub mod router;
pub mod routes;
pub mod server;
pub mod session;
pub mod state;
pub mod system;
pub mod vision;
pub mod web;
pub mod webhook;

pub use router::server_type;
pub use server::{api, reject};
pub use state::{AppState, Resources};
