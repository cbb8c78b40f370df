//! System endpoints: status, health of each dependency, Prometheus metrics.

use super::{with_state, AppState};
use chrono::Utc;
use serde::Serialize;
use std::time::{Duration, Instant};
use warp::http::StatusCode;
use warp::{Filter, Rejection, Reply};

const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

pub fn routes(state: AppState) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    let status = warp::path!("api" / "v1" / "status")
        .and(warp::get())
        .map(|| warp::reply::json(&serde_json::json!({"status": "running"})));
    let health = warp::path!("api" / "v1" / "health")
        .and(warp::get())
        .and(with_state(state))
        .then(|state: AppState| async move { health(state).await });
    let metrics = warp::path!("metrics").and(warp::get()).map(|| {
        warp::reply::with_header(
            crate::infra::metrics::render(),
            "content-type",
            "text/plain; version=0.0.4; charset=utf-8",
        )
    });
    status.or(health).or(metrics)
}

#[derive(Debug, Serialize)]
struct CheckResult {
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

async fn health(state: AppState) -> warp::reply::Response {
    let mut results = vec![check("postgresql", postgres(&state)).await];
    if let Some(client) = &state.redis {
        results.push(check("redis", redis_ping(client)).await);
    }
    let healthy = results.iter().all(|r| r.passed);
    let report = HealthReport {
        status: if healthy { "success" } else { "failure" },
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
    let mut conn = state
        .pool
        .acquire()
        .await
        .map_err(|e| format!("PostgreSQL unreachable: {e}"))?;
    sqlx::query_scalar::<_, i32>("SELECT 1")
        .fetch_one(&mut *conn)
        .await
        .map(|_| "PostgreSQL ok".to_string())
        .map_err(|e| format!("PostgreSQL query failed: {e}"))
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
