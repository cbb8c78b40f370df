//! System endpoints: status, health (including a stopped PostgreSQL), metrics, and the
//! one error format for unknown routes and methods.

mod common;

use common::{fresh_database, http, redis_url, settings, spawn_app};
use robotoff::infra::local_pg::LocalPostgres;
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_answers_running() {
    let app = spawn_app(settings(&fresh_database().await)).await;
    let base = format!("http://{}", app.addr.expect("api role"));
    let resp = http()
        .get(format!("{base}/api/v1/status"))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body, serde_json::json!({"status": "running"}));
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_route_and_wrong_method_get_json_errors() {
    let app = spawn_app(settings(&fresh_database().await)).await;
    let base = format!("http://{}", app.addr.expect("api role"));
    let resp = http()
        .get(format!("{base}/api/v1/nope"))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 404);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["error"], "not_found");
    assert_eq!(body["title"], "404 Not Found");
    assert!(body["description"].as_str().is_some_and(|d| !d.is_empty()));

    let resp = http()
        .delete(format!("{base}/api/v1/status"))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 405);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["error"], "method_not_allowed");
    assert_eq!(body["title"], "405 Method Not Allowed");

    let resp = http()
        .post(format!("{base}/api/v1/status"))
        .header("content-length", "999999999")
        .body(vec![0u8; 16])
        .send()
        .await;
    // Either the server answers 413 or closes the connection on the lying length;
    // it never accepts the body.
    if let Ok(resp) = resp {
        assert_eq!(resp.status(), 413);
    }
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_checks_postgres_and_redis() {
    let mut s = settings(&fresh_database().await);
    s.redis.url = Some(redis_url().into());
    s.roles = vec![robotoff::config::Role::Api];
    let app = spawn_app(s).await;
    let base = format!("http://{}", app.addr.expect("api role"));
    let resp = http()
        .get(format!("{base}/api/v1/health"))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["status"], "success");
    let checkers: Vec<&str> = body["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|r| r["checker"].as_str())
        .collect();
    assert_eq!(checkers, vec!["postgresql", "redis"]);
    assert!(body["results"]
        .as_array()
        .expect("results")
        .iter()
        .all(|r| r["passed"] == true));
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_500_naming_postgres_when_it_is_stopped() {
    // A PostgreSQL of this test's own, so it can be stopped.
    let dir = tempfile::Builder::new()
        .prefix("rbt-pg")
        .tempdir_in("/tmp")
        .expect("temp dir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let mut pg = LocalPostgres::start(dir.path(), true)
        .await
        .expect("local postgres");
    let mut s = settings("");
    s.database.url = Some(pg.url().into());
    s.roles = vec![robotoff::config::Role::Api];
    s.database.acquire_timeout_secs = 1;
    let app = spawn_app(s).await;
    let base = format!("http://{}", app.addr.expect("api role"));
    let resp = http()
        .get(format!("{base}/api/v1/health"))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 200);

    pg.stop().expect("stop postgres");
    let resp = http()
        .get(format!("{base}/api/v1/health"))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 500);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["status"], "failure");
    let pg_check = body["results"]
        .as_array()
        .expect("results")
        .iter()
        .find(|r| r["checker"] == "postgresql")
        .expect("postgres check");
    assert_eq!(pg_check["passed"], false);
    assert!(
        pg_check["output"]
            .as_str()
            .is_some_and(|o| o.contains("PostgreSQL")),
        "{pg_check}"
    );
    // The status endpoint still answers.
    let resp = http()
        .get(format!("{base}/api/v1/status"))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 200);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_expose_requests_jobs_queue_depth_and_restarts() {
    let app = spawn_app(settings(&fresh_database().await)).await;
    let base = format!("http://{}", app.addr.expect("api role"));
    http()
        .get(format!("{base}/api/v1/status"))
        .send()
        .await
        .expect("request");
    http()
        .get(format!("{base}/api/v1/missing"))
        .send()
        .await
        .expect("request");
    // One job through the queue so job counters exist.
    let job = robotoff::jobs::NewJob::new(
        robotoff::jobs::JobKind::Noop,
        robotoff::jobs::Priority::High,
    );
    robotoff::infra::db::jobs::enqueue(&app.pool, &job, 6, 5)
        .await
        .expect("enqueue");
    let text = common::wait_until(
        std::time::Duration::from_secs(15),
        "metrics complete",
        || {
            let url = format!("{base}/metrics");
            async move {
                let text = http().get(url).send().await.ok()?.text().await.ok()?;
                (text.contains("robotoff_jobs_total{kind=\"noop\",outcome=\"done\"}")
                    && text.contains("robotoff_queue_depth{priority=\"high\"}"))
                .then_some(text)
            }
        },
    )
    .await;
    assert!(
        text.contains(
            r#"robotoff_http_requests_total{route="/api/v1/status",method="GET",status="200"}"#
        ),
        "{text}"
    );
    assert!(text
        .contains(r#"robotoff_http_requests_total{route="unmatched",method="GET",status="404"}"#));
    assert!(text.contains("robotoff_http_request_duration_seconds_bucket{route=\"/api/v1/status\""));
    assert!(text.contains("robotoff_job_duration_seconds_bucket{kind=\"noop\""));
    assert!(text.contains("robotoff_queue_depth{priority=\"low\"}"));
    assert!(text.contains("robotoff_queue_depth{priority=\"ml\"}"));
    assert!(text.contains("robotoff_shards_owned"));
    assert!(
        text.contains(r#"robotoff_actor_restarts_total{actor="job_dispatcher"}"#),
        "{text}"
    );
    app.shutdown().await;
}

/// `GET /products/dataset` answers the stored ETag of the dump; `POST`, for the operator,
/// runs the scheduler's dataset task now, or answers 503 when the refresh is off (spec
/// api-db §1.6).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn product_dataset_etag_and_refresh() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = settings(&fresh_database().await);
    s.scheduler.datasets_dir = dir.path().to_path_buf();
    // Without an operator token the refresh is refused to everyone.
    let app = spawn_app(s.clone()).await;
    let base = format!("http://{}", app.addr.expect("api role"));
    let resp = http()
        .post(format!("{base}/api/v1/products/dataset"))
        .header("authorization", "Bearer anything")
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 403);
    app.shutdown().await;
    s.http.operator_token = "op-token".into();
    let app = spawn_app(s.clone()).await;
    let base = format!("http://{}", app.addr.expect("api role"));
    let get = || async {
        let resp = http()
            .get(format!("{base}/api/v1/products/dataset"))
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status(), 200);
        resp.json::<Value>().await.expect("json")
    };
    assert_eq!(get().await, serde_json::json!({"etag": null}));
    std::fs::write(dir.path().join("products-etag.txt"), "abc-123\n").expect("etag file");
    assert_eq!(get().await, serde_json::json!({"etag": "abc-123"}));
    let resp = http()
        .post(format!("{base}/api/v1/products/dataset"))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 400, "no token");
    // The test settings turn the download off.
    let resp = http()
        .post(format!("{base}/api/v1/products/dataset"))
        .header("authorization", "Bearer op-token")
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 503);
    app.shutdown().await;

    // On: the scheduler runs its task (here against a server that is not there).
    s.scheduler.dataset_url = "http://127.0.0.1:9/products.jsonl.gz".into();
    let app = spawn_app(s).await;
    let base = format!("http://{}", app.addr.expect("api role"));
    let resp = http()
        .post(format!("{base}/api/v1/products/dataset"))
        .header("authorization", "Bearer op-token")
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body, serde_json::json!({"status": "scheduled"}));
    let metrics = || async {
        http()
            .get(format!("{base}/metrics"))
            .send()
            .await
            .expect("request")
            .text()
            .await
            .unwrap_or_default()
    };
    let mut seen = false;
    for _ in 0..100 {
        if metrics()
            .await
            .lines()
            .any(|l| l.starts_with("robotoff_scheduler_runs_total") && l.contains("update_dataset"))
        {
            seen = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(seen, "the dataset task ran");
    app.shutdown().await;
}
