//! What the operations page reads and may do: one summary of the pipeline (job queue,
//! dead jobs, scheduler tasks, listener positions, recent insights, Triton and the logo
//! index) and the retry of a dead job, which needs the admin token.

use super::access::require_admin;
use super::doc::{Doc, Security, P};
use super::error::ApiError;
use super::reply::{db_error, json};
use super::router::{handler, ApiRequest, Route};
use super::AppState;
use crate::actors::logo_index::LogoIndexMsg;
use crate::actors::LOGO_INDEX;
use crate::infra::db::ops::{self, Requeue};
use chrono::Utc;
use serde_json::{json, Value};
use std::time::Duration;
use warp::http::{Method, StatusCode};
use warp::reply::Response;

/// Dead jobs listed at most.
const DEAD_LISTED: i64 = 50;
/// Characters of a dead job's last error shown.
const ERROR_CHARS: i32 = 300;
/// Hours of insight creations charted.
const INSIGHT_HOURS: i32 = 24;
/// Longest wait for the logo index's figures.
const INDEX_TIMEOUT: Duration = Duration::from_secs(2);

/// `GET /api/v1/ops/summary`.
pub async fn summary(state: AppState, _req: ApiRequest) -> Result<Response, ApiError> {
    let pool = &state.pool;
    let (queue, dead, dead_total, tasks, positions, insights) = tokio::try_join!(
        ops::queue_counts(pool),
        ops::dead_jobs(pool, DEAD_LISTED, ERROR_CHARS),
        crate::infra::db::jobs::dead_count(pool),
        ops::scheduler_tasks(pool),
        ops::stream_positions(pool),
        ops::insights_per_hour(pool, INSIGHT_HOURS),
    )
    .map_err(db_error("reading the operations summary"))?;
    let listener: Vec<Value> = positions
        .iter()
        .map(|p| {
            let event_ms = crate::events::entry_millis(&p.last_id);
            let lag =
                event_ms.map(|ms| (p.updated_at.timestamp_millis() - ms).max(0) as f64 / 1000.0);
            json!({
                "stream": p.stream,
                "last_id": p.last_id,
                "updated_at": p.updated_at,
                "lag_secs": lag,
                "idle_secs": (Utc::now() - p.updated_at).num_milliseconds().max(0) as f64 / 1000.0,
            })
        })
        .collect();
    let settings = &state.settings;
    let listener_configured =
        settings.has_role(crate::config::Role::Listener) && settings.redis.url().is_some();
    json(&json!({
        "node": state.services.node_id,
        "roles": settings.roles,
        "version": env!("CARGO_PKG_VERSION"),
        "generated_at": Utc::now(),
        "cluster_enabled": settings.cluster.enabled,
        "retry_enabled": !secrecy::ExposeSecret::expose_secret(&settings.http.admin_token).is_empty(),
        "listener_configured": listener_configured,
        "queue": queue,
        "dead_jobs": {"total": dead_total, "latest": dead},
        "scheduler_tasks": tasks,
        "listener": listener,
        "insights": {"hours": INSIGHT_HOURS, "per_hour": insights},
        "triton": super::system::triton_result(&state),
        "logo_index": logo_index(&state).await,
    }))
}

/// The logo index's figures, or why there are none.
async fn logo_index(state: &AppState) -> Value {
    let names = &state.services.names;
    let Some(index) = names.lookup::<LogoIndexMsg>(&names.of(LOGO_INDEX)) else {
        return json!({"ready": false, "error": "the logo index does not run on this node"});
    };
    match crate::actors::call(&index, LogoIndexMsg::Stats, INDEX_TIMEOUT).await {
        Ok(stats) => serde_json::to_value(stats)
            .unwrap_or_else(|e| json!({"ready": false, "error": e.to_string()})),
        Err(e) => json!({"ready": false, "error": format!("the logo index did not answer: {e}")}),
    }
}

/// `POST /api/v1/ops/jobs/{job_id}/retry`: a dead job queued again, with the admin token.
pub async fn retry(state: AppState, req: ApiRequest) -> Result<Response, ApiError> {
    require_admin(&state, &req.headers)?;
    let id = req.path_int(0);
    let outcome = ops::requeue_dead(&state.pool, id)
        .await
        .map_err(db_error("queueing a dead job again"))?;
    match outcome {
        Requeue::Queued => {
            tracing::info!(job = id, "dead job queued again from the operations page");
            json(&json!({"id": id, "state": "queued"}))
        }
        Requeue::NotDead => Err(ApiError::new(
            StatusCode::CONFLICT,
            "job_not_dead",
            format!("job {id} is not a dead job"),
        )),
        Requeue::NotFound => Err(ApiError::not_found(format!("job {id} not found"))),
    }
}

/// The routes of this resource, with their documentation.
pub fn routes() -> Vec<Route> {
    vec![
        Route::new(
            Method::GET,
            "/api/v1/ops/summary",
            handler(summary),
            Doc {
                summary: "The pipeline at a glance: job queue, dead jobs, scheduler tasks, \
                          listener positions, insights of the last 24 h, Triton and the logo index",
                params: &[],
                body: None,
                ok: &[200],
                errors: &[503],
                security: Security::Public,
            },
        ),
        Route::new(
            Method::POST,
            "/api/v1/ops/jobs/{job_id:int}/retry",
            handler(retry),
            Doc {
                summary: "Queue a dead job again (admin token)",
                params: &[P("job_id", "path_int", true, "job id")],
                body: None,
                ok: &[200],
                errors: &[400, 401, 403, 404, 409, 503],
                security: Security::Admin,
            },
        ),
    ]
}
