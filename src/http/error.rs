//! One error format for every rejection: `{"error": code, "title": ..., "description": ...}`
//! with the matching status. `error` is a stable code; `title` and `description` follow
//! the Python Robotoff's (Falcon) error bodies so its clients keep working. Internal
//! details are logged, never sent.

use serde::Serialize;
use std::convert::Infallible;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Rejection, Reply};

/// An error answered to a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    /// Stable machine-readable code.
    pub code: &'static str,
    /// Short title; by default the status line (`404 Not Found`).
    pub title: Option<String>,
    pub description: String,
    /// Seconds to wait before trying again (`Retry-After`), for 503 answers.
    pub retry_after: Option<u32>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    title: &'a str,
    description: &'a str,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, description: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            title: None,
            description: description.into(),
            retry_after: None,
        }
    }

    /// Asks the client to try again after `secs` seconds.
    pub fn with_retry_after(mut self, secs: u32) -> Self {
        self.retry_after = Some(secs);
        self
    }

    /// Sets the title (Robotoff puts many of its messages there).
    pub fn with_title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    fn default_title(&self) -> String {
        let reason = self.status.canonical_reason().unwrap_or("");
        format!("{} {reason}", self.status.as_u16())
            .trim()
            .to_string()
    }

    pub fn bad_request(code: &'static str, description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, description)
    }

    pub fn not_found(description: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", description)
    }

    pub fn unavailable(code: &'static str, description: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, code, description)
    }

    /// A server-side failure: `detail` is logged, the client gets a generic message.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "internal server error",
        )
    }
}

impl warp::reject::Reject for ApiError {}

impl Reply for ApiError {
    fn into_response(self) -> Response {
        let title = self.title.clone().unwrap_or_else(|| self.default_title());
        let body = ErrorBody {
            error: self.code,
            title: &title,
            description: &self.description,
        };
        let mut response =
            warp::reply::with_status(warp::reply::json(&body), self.status).into_response();
        if let Some(secs) = self.retry_after {
            response.headers_mut().insert(
                warp::http::header::RETRY_AFTER,
                warp::http::HeaderValue::from(secs),
            );
        }
        response
    }
}

/// Maps every rejection to an [`ApiError`] response.
pub async fn recover(rejection: Rejection) -> Result<Response, Infallible> {
    Ok(classify(&rejection).into_response())
}

fn classify(r: &Rejection) -> ApiError {
    if let Some(e) = r.find::<ApiError>() {
        return e.clone();
    }
    if r.is_not_found() {
        return ApiError::not_found("no such endpoint");
    }
    if r.find::<warp::reject::MethodNotAllowed>().is_some() {
        return ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "method not allowed on this endpoint",
        );
    }
    if r.find::<warp::reject::PayloadTooLarge>().is_some() {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "request body too large",
        );
    }
    if let Some(e) = r.find::<warp::reject::InvalidQuery>() {
        return ApiError::bad_request("invalid_query", e.to_string());
    }
    if let Some(e) = r.find::<warp::filters::body::BodyDeserializeError>() {
        return ApiError::bad_request("invalid_body", e.to_string());
    }
    if let Some(e) = r.find::<warp::reject::UnsupportedMediaType>() {
        return ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            e.to_string(),
        );
    }
    if let Some(e) = r.find::<warp::reject::MissingHeader>() {
        return ApiError::bad_request("missing_header", e.to_string());
    }
    if let Some(e) = r.find::<warp::reject::InvalidHeader>() {
        return ApiError::bad_request("invalid_header", e.to_string());
    }
    if r.find::<warp::reject::LengthRequired>().is_some() {
        return ApiError::new(
            StatusCode::LENGTH_REQUIRED,
            "length_required",
            "a Content-Length header is required",
        );
    }
    ApiError::internal(format!("unhandled rejection: {r:?}"))
}
