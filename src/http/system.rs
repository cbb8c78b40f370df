//! System endpoints: status, health of each dependency, Prometheus metrics, robots.txt,
//! the product dataset and batch imports.

use super::auth::check_bearer;
use super::doc::{Doc, Security, P};
use super::error::ApiError;
use super::reply;
use super::router::ApiRequest;
use super::router::{handler, Route};
use super::AppState;
use chrono::Utc;
use serde::Serialize;
use std::time::{Duration, Instant};
use warp::http::Method;
use warp::http::StatusCode;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// `/metrics` (Prometheus text format), outside the API router.
pub fn metrics() -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    warp::path!("metrics").and(warp::get()).map(|| {
        warp::reply::with_header(
            crate::infra::metrics::render(),
            "content-type",
            "text/plain; version=0.0.4; charset=utf-8",
        )
    })
}

/// `GET /status`.
pub async fn status(_state: AppState, _req: ApiRequest) -> Result<Response, ApiError> {
    reply::json(&serde_json::json!({"status": "running"}))
}

/// `GET /health`: every dependency checked; 200 when all pass, else 500.
pub async fn health_route(state: AppState, _req: ApiRequest) -> Result<Response, ApiError> {
    Ok(health(state).await)
}

/// `GET /api/v1/cluster`: members (Redis), shard locks, the listener's lease and notice
/// generations (PostgreSQL). Outside cluster mode it describes this node alone.
pub async fn cluster(state: AppState, _req: ApiRequest) -> Result<Response, ApiError> {
    let node = state.services.node_id.clone();
    let mut status = crate::cluster::status::read(
        &state.settings,
        &state.pool,
        state
            .redis
            .as_ref()
            .filter(|_| state.settings.cluster.enabled),
        Some(node),
    )
    .await
    .map_err(|e| ApiError::unavailable("database_unavailable", format!("PostgreSQL: {e}")))?;
    if !state.settings.cluster.enabled {
        status.redis_error = Some("cluster mode is off on this node".into());
    }
    let hub = &state.services.hub;
    let mut body = serde_json::to_value(&status).map_err(ApiError::internal)?;
    if let Some(o) = body.as_object_mut() {
        o.insert(
            "this_node".into(),
            serde_json::json!({
                "roles": state.settings.roles,
                "redis_connected": hub.redis_up(),
                "listener_epoch": hub.listener_epoch(),
                "version": env!("CARGO_PKG_VERSION"),
            }),
        );
    }
    reply::json(&body)
}

/// `GET /robots.txt`: no crawling at all.
pub async fn robots(_state: AppState, _req: ApiRequest) -> Result<Response, ApiError> {
    Ok(reply::bytes(
        b"User-agent: *\nDisallow: /\n".to_vec(),
        "text/plain; charset=utf-8",
        StatusCode::OK,
    ))
}

/// `GET /products/dataset`: the ETag of the product dump the scheduler last downloaded
/// (`null` before the first download).
pub async fn dataset_etag(state: AppState, _req: ApiRequest) -> Result<Response, ApiError> {
    let path = std::path::Path::new(&state.settings.scheduler.datasets_dir)
        .join(crate::product_store::dump::ETAG_FILE);
    let etag = match tokio::fs::read_to_string(&path).await {
        Ok(text) => Some(text.trim().to_string()).filter(|t| !t.is_empty()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(ApiError::internal(format!(
                "reading {}: {e}",
                path.display()
            )))
        }
    };
    reply::json(&serde_json::json!({"etag": etag}))
}

/// `POST /products/dataset`: runs the scheduler's dataset task now (download when the
/// dump changed, then product store refresh); `{"status": "scheduled"}`.
pub async fn dataset_refresh(state: AppState, req: ApiRequest) -> Result<Response, ApiError> {
    use crate::actors::scheduler::{SchedulerMsg, DATASET_REFRESH_TASK};
    super::access::require_operator(&state, &req.headers)?;
    if state.settings.scheduler.dataset_url.trim().is_empty() {
        return Err(ApiError::unavailable(
            "dataset_refresh_off",
            "the product dataset refresh is off on this service (scheduler.dataset_url)",
        ));
    }
    let name = state.names.of(crate::actors::SCHEDULER);
    let Some(scheduler) = state.names.lookup::<SchedulerMsg>(&name) else {
        return Err(ApiError::unavailable(
            "no_scheduler",
            "this node does not run the scheduler role",
        ));
    };
    // Already running counts as scheduled: the run in progress does the work.
    crate::actors::call(
        &scheduler,
        |r| SchedulerMsg::RunNow(DATASET_REFRESH_TASK.to_string(), r),
        Duration::from_secs(5),
    )
    .await
    .map_err(|e| {
        ApiError::unavailable("no_scheduler", format!("the scheduler did not answer: {e}"))
    })?;
    reply::json(&serde_json::json!({"status": "scheduled"}))
}

/// `POST /batch/import`: parameters and bearer token checked as Robotoff; the import
/// job itself is not available on this service.
pub async fn batch_import(state: AppState, req: ApiRequest) -> Result<Response, ApiError> {
    let p = &req.params;
    let job_type = p.required("job_type")?;
    p.required("batch_dir")?;
    if job_type != "ingredients_spellcheck" {
        return Err(ApiError::bad_request(
            "invalid_job_type",
            format!(
                "invalid job_type: {job_type}. Valid job_types are: ['ingredients-spellcheck']"
            ),
        ));
    }
    check_bearer(
        &req.headers,
        secrecy::ExposeSecret::expose_secret(&state.settings.http.batch_job_key),
    )?;
    Err(ApiError::unavailable(
        "batch_import_unavailable",
        "batch imports are not available on this service yet",
    ))
}

/// One dependency's check, as `/api/v1/health` reports it.
#[derive(Debug, Serialize)]
pub(super) struct CheckResult {
    checker: &'static str,
    passed: bool,
    output: String,
    response_time: f64,
}

#[derive(Debug, Serialize)]
struct HealthReport {
    status: &'static str,
    hostname: String,
    timestamp: f64,
    results: Vec<CheckResult>,
}

async fn health(state: AppState) -> Response {
    let mut results = vec![check("postgresql", postgres(&state)).await];
    if let Some(client) = &state.redis {
        results.push(check("redis", redis_ping(client)).await);
    }
    let healthy = results.iter().all(|r| r.passed);
    // Triton away degrades the service (image jobs wait) without making it unhealthy.
    let triton = triton_result(&state);
    let degraded = triton.as_ref().is_some_and(|t| !t.passed);
    results.extend(triton);
    let report = HealthReport {
        status: match (healthy, degraded) {
            (false, _) => "failure",
            (true, true) => "degraded",
            (true, false) => "success",
        },
        hostname: std::fs::read_to_string("/etc/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_default(),
        timestamp: Utc::now().timestamp_millis() as f64 / 1000.0,
        results,
    };
    let code = if healthy {
        StatusCode::OK
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    warp::reply::with_status(warp::reply::json(&report), code).into_response()
}

/// The last readiness check of the Triton models, when this node runs them.
pub(super) fn triton_result(state: &AppState) -> Option<CheckResult> {
    if !state.settings.has_role(crate::config::Role::Workers) {
        return None;
    }
    let health = state
        .services
        .resources
        .triton_health
        .read()
        .ok()
        .and_then(|h| h.clone());
    let Some(health) = health else {
        return Some(CheckResult {
            checker: "triton",
            passed: false,
            output: "not checked yet".to_string(),
            response_time: 0.0,
        });
    };
    let output = health
        .models
        .iter()
        .map(|m| match &m.error {
            None => format!("{} ready at {}", m.model, m.url),
            Some(e) => format!("{} not ready at {}: {e}", m.model, m.url),
        })
        .collect::<Vec<_>>()
        .join("; ");
    Some(CheckResult {
        checker: "triton",
        passed: health.all_ready(),
        output,
        response_time: 0.0,
    })
}

async fn check<F>(checker: &'static str, probe: F) -> CheckResult
where
    F: std::future::Future<Output = Result<String, String>>,
{
    let clock = Instant::now();
    let outcome = match tokio::time::timeout(CHECK_TIMEOUT, probe).await {
        Ok(r) => r,
        Err(_) => Err(format!("no answer within {} s", CHECK_TIMEOUT.as_secs())),
    };
    let response_time = clock.elapsed().as_secs_f64();
    match outcome {
        Ok(output) => CheckResult {
            checker,
            passed: true,
            output,
            response_time,
        },
        Err(output) => CheckResult {
            checker,
            passed: false,
            output,
            response_time,
        },
    }
}

async fn postgres(state: &AppState) -> Result<String, String> {
    crate::infra::db::ping(&state.pool)
        .await
        .map(|()| "PostgreSQL ok".to_string())
        .map_err(|e| format!("PostgreSQL unreachable: {e}"))
}

async fn redis_ping(client: &redis::Client) -> Result<String, String> {
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .map_err(|e| format!("Redis unreachable: {e}"))?;
    redis::cmd("PING")
        .query_async::<String>(&mut conn)
        .await
        .map(|pong| format!("Redis ok ({pong})"))
        .map_err(|e| format!("Redis ping failed: {e}"))
}

/// The routes of this resource, with their documentation.
pub fn routes() -> Vec<Route> {
    vec![
        Route::new(
            Method::GET,
            "/api/v1/status",
            handler(status),
            Doc {
                summary: "Service status",
                params: &[],
                body: None,
                ok: &[200],
                errors: &[],
                security: Security::Public,
            },
        ),
        Route::new(
            Method::GET,
            "/api/v1/health",
            handler(health_route),
            Doc {
                summary: "Health of each dependency",
                params: &[],
                body: None,
                ok: &[200],
                errors: &[500],
                security: Security::Public,
            },
        ),
        Route::new(
            Method::GET,
            "/api/v1/cluster",
            handler(cluster),
            Doc {
                summary: "Cluster members, shard owners and the update listener's holder",
                params: &[],
                body: None,
                ok: &[200],
                errors: &[503],
                security: Security::Public,
            },
        ),
        Route::new(
            Method::GET,
            "/robots.txt",
            handler(robots),
            Doc {
                summary: "Crawling policy",
                params: &[],
                body: None,
                ok: &[200],
                errors: &[],
                security: Security::Public,
            },
        ),
        Route::new(
            Method::GET,
            "/api/v1/products/dataset",
            handler(dataset_etag),
            Doc {
                summary: "Tag of the local product dump",
                params: &[],
                body: None,
                ok: &[200],
                errors: &[],
                security: Security::Public,
            },
        ),
        Route::new(
            Method::POST,
            "/api/v1/products/dataset",
            handler(dataset_refresh),
            Doc {
                summary: "Refresh the product dump (not available: use import-products)",
                params: &[],
                body: None,
                ok: &[200],
                errors: &[400, 401, 403, 503],
                security: Security::Operator,
            },
        ),
        Route::new(
            Method::POST,
            "/api/v1/batch/import",
            handler(batch_import),
            Doc {
                summary: "Import batch job results (bearer token)",
                params: &[
                    P("job_type", "string", true, "ingredients_spellcheck"),
                    P("batch_dir", "string", true, "batch directory"),
                ],
                body: None,
                ok: &[200],
                errors: &[400, 401, 503],
                security: Security::BatchKey,
            },
        ),
    ]
}
