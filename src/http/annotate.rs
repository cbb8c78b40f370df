//! `POST /insights/annotate`: parameters, validation order and messages as Robotoff
//! (spec api-db §1.2), then the annotation of the insight in its product's shard.

use super::auth::{client_key, device_id, parse_auth, Credentials};
use super::doc::{Doc, Security, DEVICE, P};
use super::error::ApiError;
use super::reply::json;
use super::router::ApiRequest;
use super::router::{handler, Route};
use super::AppState;
use serde_json::json;
use uuid::Uuid;
use warp::http::Method;
use warp::reply::Response;

/// A validated annotation request.
#[derive(Debug, Clone)]
pub struct AnnotateRequest {
    pub insight_id: Uuid,
    /// −1, 0, 1 or 2.
    pub annotation: i32,
    pub update: bool,
    pub data: Option<serde_json::Value>,
    /// `None`: anonymous (a vote). Checked with Product Opener before anything is done.
    pub auth: Option<Credentials>,
    pub device_id: String,
    /// A hash of the client's address (one anonymous vote per address counts).
    pub client_key: Option<String>,
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
    let device_id = device_id(p, &req.headers, req.peer);
    if device_id.chars().count() > crate::annotation::request::MAX_DEVICE_ID {
        return Err(ApiError::bad_request(
            "invalid_device_id",
            format!(
                "`device_id` is longer than {} characters",
                crate::annotation::request::MAX_DEVICE_ID
            ),
        ));
    }
    Ok(AnnotateRequest {
        insight_id,
        annotation,
        update,
        data,
        auth,
        device_id,
        client_key: None,
    })
}

/// `POST /insights/annotate`.
pub async fn annotate(state: AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let mut request = parse(&req)?;
    request.client_key = Some(client_key(
        &req.headers,
        req.peer,
        &state.settings.http.trusted_proxies,
    ));
    // This caller now has (or may have) a vote: its listings must be fresh again.
    let mut voters = vec![crate::annotation::request::device_key(&request.device_id)];
    if let Some(u) = request.auth.as_ref().and_then(Credentials::username) {
        voters.push(crate::annotation::request::user_key(&u));
    }
    let outcome = backend::annotate(&state, request).await;
    state.cache.forget_voters(&voters);
    let outcome = outcome?;
    json(&json!({
        "status_code": outcome.status_code,
        "status": outcome.status,
        "description": outcome.description,
    }))
}

/// Where a validated annotation goes: the annotation operation, run in the product
/// shard that owns the insight's product.
mod backend {
    use super::{AnnotateOutcome, AnnotateRequest};
    use crate::actors::shards::{self, RouteError};
    use crate::actors::CallError;
    use crate::annotation::{self, AnnotateError, AnnotationStatus, Auth, Caller};
    use crate::http::error::ApiError;
    use crate::http::identity::to_po;
    use crate::http::AppState;
    use std::time::Duration;
    use warp::http::StatusCode;

    /// Longest wait for the shard (the annotation may include Product Opener writes,
    /// each with its own timeout).
    const ANNOTATE_TIMEOUT: Duration = Duration::from_secs(60);

    pub async fn annotate(
        state: &AppState,
        request: AnnotateRequest,
    ) -> Result<AnnotateOutcome, ApiError> {
        let insight_id = request.insight_id;
        let caller = match request.auth {
            Some(credentials) => {
                // The insight's flavor is where the user must exist.
                let product =
                    crate::infra::db::annotations::insight_product(&state.pool, insight_id)
                        .await
                        .map_err(crate::http::reply::db_error(
                            "looking up the insight to annotate",
                        ))?;
                let Some((_, server_type)) = product else {
                    let status = AnnotationStatus::ErrorUnknownInsight;
                    return Ok(AnnotateOutcome {
                        status_code: status.code(),
                        status: status.name().to_string(),
                        description: annotation::AnnotateOutcome::of(status).description,
                    });
                };
                let user = state.identities.verify(server_type, credentials).await?;
                Caller::User(Auth {
                    credentials: to_po(&user.credentials),
                    username: user.username,
                })
            }
            None => Caller::Anonymous,
        };
        let req = annotation::AnnotateRequest {
            insight_id,
            annotation: request.annotation,
            update: request.update,
            data: request.data,
            device_id: request.device_id,
            client_key: request.client_key,
            caller,
        };
        match shards::annotate(&state.services, req, ANNOTATE_TIMEOUT).await {
            Ok(outcome) => Ok(AnnotateOutcome {
                status_code: outcome.status.code(),
                status: outcome.status.name().to_string(),
                description: outcome.description,
            }),
            Err(e) => Err(route_error(insight_id, e)),
        }
    }

    fn route_error(insight_id: uuid::Uuid, e: RouteError) -> ApiError {
        match e {
            RouteError::Lookup { source, .. } => {
                crate::http::reply::db_error("looking up the insight to annotate")(source)
            }
            RouteError::Busy { shard } => {
                crate::infra::metrics::request_refused("shard_queue_full");
                tracing::warn!(insight = %insight_id, shard, "annotation refused: the shard's queue is full");
                ApiError::unavailable(
                    "annotation_queue_full",
                    "too many annotations are waiting for this product's shard, retry shortly",
                )
                .with_retry_after(2)
            }
            RouteError::Shard { source, shard, .. } => {
                tracing::warn!(insight = %insight_id, shard, error = %source, "annotation not routed");
                let why = match source {
                    CallError::Timeout(_) => "the annotation did not finish in time, retry later",
                    _ => "the product's shard is not running on this node, retry later",
                };
                ApiError::unavailable("annotation_unavailable", why)
            }
            RouteError::Annotate(AnnotateError::InvalidRequest(e)) => {
                ApiError::bad_request("invalid_annotation", e.to_string())
            }
            RouteError::Annotate(AnnotateError::Plan(e)) => {
                ApiError::bad_request("cannot_annotate", e.to_string())
            }
            RouteError::Annotate(e @ AnnotateError::ProductOpener { .. }) => {
                tracing::error!(insight = %insight_id, error = %e, "Product Opener refused an annotation");
                ApiError::new(
                    StatusCode::BAD_GATEWAY,
                    "product_opener_error",
                    "Product Opener refused the edit; nothing was saved",
                )
            }
            // PostgreSQL out of reach, or no connection free in time: a 503 the client
            // may retry (a retried annotation of a settled insight answers as such).
            RouteError::Annotate(AnnotateError::Db { source, .. }) => {
                crate::http::reply::db_error("annotating")(source)
            }
            RouteError::Annotate(e) => ApiError::internal(e),
        }
    }
}

/// The routes of this resource, with their documentation.
pub fn routes() -> Vec<Route> {
    vec![Route::new(
        Method::POST,
        "/api/v1/insights/annotate",
        handler(annotate),
        Doc {
            summary: "Annotate an insight (vote when anonymous)",
            params: &[
                P("insight_id", "uuid", true, "insight id"),
                P("annotation", "annotation", true, "-1, 0, 1 or 2"),
                P(
                    "update",
                    "boolean",
                    false,
                    "send the edit to Product Opener (default true)",
                ),
                P("data", "string", false, "JSON user data (annotation 2)"),
                DEVICE,
            ],
            body: None,
            ok: &[200],
            errors: &[400, 401, 403, 502, 503],
            security: Security::OptionalUser,
        },
    )]
}
