//! `POST /insights/annotate`: parameters, validation order and messages as Robotoff
//! (spec api-db §1.2), then the annotation of the insight in its product's shard.

use super::auth::{device_id, parse_auth, Credentials};
use super::error::ApiError;
use super::reply::json;
use super::router::ApiRequest;
use super::AppState;
use serde_json::json;
use uuid::Uuid;
use warp::reply::Response;

/// A validated annotation request.
#[derive(Debug, Clone, PartialEq)]
pub struct AnnotateRequest {
    pub insight_id: Uuid,
    /// −1, 0, 1 or 2.
    pub annotation: i32,
    pub update: bool,
    pub data: Option<serde_json::Value>,
    /// `None`: anonymous (a vote).
    pub auth: Option<Credentials>,
    pub device_id: String,
}

/// What the annotation produced, as the response reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnotateOutcome {
    pub status_code: i32,
    pub status: String,
    pub description: String,
}

/// Parses and validates, in Robotoff's order.
pub fn parse(req: &ApiRequest) -> Result<AnnotateRequest, ApiError> {
    let p = &req.params;
    let insight_id = p
        .uuid("insight_id")?
        .ok_or_else(|| super::params::missing("insight_id"))?;
    let annotation = p
        .int("annotation", Some(-1), Some(2))?
        .ok_or_else(|| super::params::missing("annotation"))?;
    let annotation = i32::try_from(annotation).unwrap_or_default();
    let update = p.bool("update", true)?.unwrap_or(true);
    let data = p.json("data")?;
    if annotation == 2 {
        if data.is_none() {
            return Err(ApiError::bad_request(
                "invalid_annotation",
                "`data` must be provided when annotation == 2",
            ));
        }
        if !update {
            return Err(ApiError::bad_request(
                "invalid_annotation",
                "`update` must be true when annotation == 2",
            ));
        }
    }
    if data.is_some() && annotation != 2 {
        return Err(ApiError::bad_request(
            "invalid_annotation",
            "`annotation` must be 2 when `data` is provided",
        ));
    }
    let mut auth = parse_auth(&req.headers)?;
    // The Smoothie app sends the username "null" for anonymous voters.
    if auth.as_ref().and_then(Credentials::username).as_deref() == Some("null") {
        auth = None;
    }
    if auth.is_none() && annotation == 2 {
        return Err(ApiError::bad_request(
            "invalid_annotation",
            "`data` cannot be provided when the user is not authenticated",
        ));
    }
    Ok(AnnotateRequest {
        insight_id,
        annotation,
        update,
        data,
        auth,
        device_id: device_id(p, &req.headers, req.peer),
    })
}

/// `POST /insights/annotate`.
pub async fn annotate(state: AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let request = parse(&req)?;
    let outcome = backend::annotate(&state, request).await?;
    json(&json!({
        "status_code": outcome.status_code,
        "status": outcome.status,
        "description": outcome.description,
    }))
}

/// Where a validated annotation goes: the annotation operation run in the insight's
/// product shard. Until the node has that operation, requests are refused with a 503
/// and nothing is written.
mod backend {
    use super::{AnnotateOutcome, AnnotateRequest};
    use crate::http::error::ApiError;
    use crate::http::AppState;

    pub async fn annotate(
        _state: &AppState,
        request: AnnotateRequest,
    ) -> Result<AnnotateOutcome, ApiError> {
        tracing::warn!(insight = %request.insight_id, "annotation refused: not available on this node");
        Err(ApiError::unavailable(
            "annotation_unavailable",
            "annotations cannot be saved by this node yet",
        ))
    }
}
