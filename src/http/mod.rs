//! The HTTP API (warp): filters per resource, one error format, request metrics.

pub mod error;
pub mod routes;
pub mod system;

use crate::actors::Names;
use crate::config::Settings;
use sqlx::PgPool;
use std::convert::Infallible;
use std::sync::Arc;
use warp::{Filter, Rejection, Reply};

/// What handlers need: the pool for reads, actor names for writes, settings.
#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub settings: Arc<Settings>,
    pub names: Names,
    pub redis: Option<redis::Client>,
}

pub fn with_state(
    state: AppState,
) -> impl Filter<Extract = (AppState,), Error = Infallible> + Clone {
    warp::any().map(move || state.clone())
}

/// Every route, with rejections mapped to JSON errors and each request counted and timed.
pub fn api(state: AppState) -> impl Filter<Extract = (impl Reply,), Error = Infallible> + Clone {
    let limit = state.settings.http.body_limit;
    let log = warp::log::custom(|info| {
        crate::infra::metrics::http_request(
            routes::template_of(info.path()),
            info.method().as_str(),
            info.status().as_u16(),
            info.elapsed(),
        );
    });
    body_limit(limit)
        .and(system::routes(state))
        .recover(error::recover)
        .with(log)
}

/// Rejects a request whose declared body is larger than `limit` bytes. Handlers that
/// read a body also cap what they read, for bodies sent without a length.
fn body_limit(limit: u64) -> impl Filter<Extract = (), Error = Rejection> + Clone {
    warp::header::optional::<u64>("content-length")
        .and_then(move |length: Option<u64>| async move {
            match length {
                Some(n) if n > limit => Err(reject(error::ApiError::new(
                    warp::http::StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    format!("request body of {n} bytes is over the limit of {limit} bytes"),
                ))),
                _ => Ok(()),
            }
        })
        .untuple_one()
}

/// Rejects with an [`error::ApiError`].
pub fn reject(err: error::ApiError) -> Rejection {
    warp::reject::custom(err)
}
