//! Response builders shared by the handlers.

use super::error::ApiError;
use warp::http::header::{HeaderValue, CONTENT_TYPE};
use warp::http::StatusCode;
use warp::reply::Response;
use warp::Reply;

/// A JSON body with status 200.
pub fn json<T: serde::Serialize>(value: &T) -> Result<Response, ApiError> {
    json_status(value, StatusCode::OK)
}

pub fn json_status<T: serde::Serialize>(
    value: &T,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let body = serde_json::to_vec(value)
        .map_err(|e| ApiError::internal(format!("serialising a response: {e}")))?;
    Ok(bytes(body, "application/json", status))
}

/// A body of `content_type`.
pub fn bytes(body: Vec<u8>, content_type: &'static str, status: StatusCode) -> Response {
    let mut r = body.into_response();
    *r.status_mut() = status;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// No body.
pub fn empty(status: StatusCode) -> Result<Response, ApiError> {
    Ok(status.into_response())
}

/// A database failure, logged with what was being done: a 503 when PostgreSQL cannot
/// be reached (the client may retry), else a 500.
pub fn db_error(what: &str) -> impl FnOnce(sqlx::Error) -> ApiError + '_ {
    move |e| match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
            tracing::warn!(error = %e, "{what}: database unavailable");
            ApiError::unavailable(
                "database_unavailable",
                "the database is unavailable, retry later",
            )
            .with_retry_after(5)
        }
        other => ApiError::internal(format!("{what}: {other}")),
    }
}
