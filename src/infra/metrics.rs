//! Every metric name the service exports, and the Prometheus recorder behind `/metrics`.

use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Duration;

pub const HTTP_REQUESTS: &str = "robotoff_http_requests_total";
pub const HTTP_DURATION: &str = "robotoff_http_request_duration_seconds";
pub const JOBS: &str = "robotoff_jobs_total";
pub const JOB_DURATION: &str = "robotoff_job_duration_seconds";
pub const JOBS_ENQUEUED: &str = "robotoff_jobs_enqueued_total";
pub const QUEUE_DEPTH: &str = "robotoff_queue_depth";
pub const DEAD_JOBS: &str = "robotoff_dead_jobs";
pub const ACTOR_RESTARTS: &str = "robotoff_actor_restarts_total";
pub const SCHEDULER_RUNS: &str = "robotoff_scheduler_runs_total";
pub const TRITON_CALLS: &str = "robotoff_triton_calls_total";
pub const TRITON_DURATION: &str = "robotoff_triton_call_duration_seconds";
pub const TRITON_BATCH: &str = "robotoff_triton_batch_size";
pub const TRITON_RETRIES: &str = "robotoff_triton_retries_total";
pub const TRITON_BREAKER_OPENED: &str = "robotoff_triton_breaker_opened_total";
pub const TRITON_MODEL_READY: &str = "robotoff_triton_model_ready";
pub const ANN_SEARCH_DURATION: &str = "robotoff_ann_search_duration_seconds";
pub const ANN_INDEX_SIZE: &str = "robotoff_ann_index_size";
pub const ANN_INDEX_DRIFT: &str = "robotoff_ann_index_drift";
pub const LISTENER_LAG: &str = "robotoff_listener_lag_seconds";
pub const LISTENER_LAG_HISTOGRAM: &str = "robotoff_listener_batch_lag_seconds";
pub const LISTENER_EVENTS: &str = "robotoff_listener_events_total";
pub const SHARDS_OWNED: &str = "robotoff_shards_owned";
pub const CLUSTER_MEMBERS: &str = "robotoff_cluster_members";
pub const CLUSTER_REDIS_UP: &str = "robotoff_cluster_redis_up";
pub const CLUSTER_NOTICES: &str = "robotoff_cluster_notices_total";
pub const CLUSTER_MEMBERSHIP_CHANGES: &str = "robotoff_cluster_membership_changes_total";
pub const CLUSTER_LISTENER_HELD: &str = "robotoff_cluster_listener_held";
pub const LISTING_CACHE_CLEARS: &str = "robotoff_listing_cache_clears_total";
pub const ANNOTATIONS: &str = "robotoff_annotations_total";
pub const PRODUCT_OPENER_FAILURES: &str = "robotoff_product_opener_failures_total";
pub const AUTO_APPLY: &str = "robotoff_auto_apply_total";
pub const PRODUCT_REFRESHES: &str = "robotoff_product_refreshes_total";
pub const DATASET_PRODUCTS: &str = "robotoff_dataset_products";
pub const CREDENTIAL_CHECKS: &str = "robotoff_credential_checks_total";
pub const PRODUCT_EDITS: &str = "robotoff_product_edits_total";
pub const REQUESTS_REFUSED: &str = "robotoff_requests_refused_total";
pub const ML_STAGE_DURATION: &str = "robotoff_ml_stage_duration_seconds";
pub const ML_STEPS: &str = "robotoff_ml_steps_total";
pub const ML_IN_FLIGHT: &str = "robotoff_ml_jobs_in_flight";

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide recorder once and returns the handle that renders it.
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let latency_buckets = [
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0, 30.0, 60.0,
            ];
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".to_string()), &latency_buckets)
                .unwrap_or_else(|_| PrometheusBuilder::new());
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            // A recorder may already be installed by an embedding program; ours still renders.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// Prometheus text exposition of every metric recorded so far.
pub fn render() -> String {
    install().render()
}

/// The label of an HTTP method: one of the standard methods, else `other`.
pub fn method_label(method: &str) -> &'static str {
    const KNOWN: [&str; 9] = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE",
    ];
    KNOWN.into_iter().find(|m| *m == method).unwrap_or("other")
}

pub fn http_request(route: &str, method: &str, status: u16, elapsed: Duration) {
    let method = method_label(method);
    let status = if (100..600).contains(&status) {
        status.to_string()
    } else {
        "other".to_string()
    };
    counter!(HTTP_REQUESTS, "route" => route.to_string(), "method" => method.to_string(), "status" => status.clone())
        .increment(1);
    histogram!(HTTP_DURATION, "route" => route.to_string(), "method" => method.to_string(), "status" => status)
        .record(elapsed.as_secs_f64());
}

/// One Triton call of `model` ended (`outcome`: ok, unavailable, refused,
/// breaker_open, protocol_error; `code`: the gRPC code), with its batch size.
pub fn triton_call(
    model: &str,
    outcome: &'static str,
    code: &'static str,
    elapsed: Duration,
    batch: i64,
) {
    counter!(TRITON_CALLS, "model" => model.to_string(), "outcome" => outcome, "code" => code)
        .increment(1);
    histogram!(TRITON_DURATION, "model" => model.to_string()).record(elapsed.as_secs_f64());
    histogram!(TRITON_BATCH, "model" => model.to_string()).record(batch.max(0) as f64);
}

/// A Triton call of `model` retried after finding the server unavailable or slow.
pub fn triton_retry(model: &str) {
    counter!(TRITON_RETRIES, "model" => model.to_string()).increment(1);
}

/// The circuit breaker of a Triton endpoint opened.
pub fn triton_breaker_opened(url: &str) {
    counter!(TRITON_BREAKER_OPENED, "endpoint" => url.to_string()).increment(1);
}

/// Whether a model answered ready at the last check (1) or not (0).
pub fn triton_model_ready(model: &str, ready: bool) {
    gauge!(TRITON_MODEL_READY, "model" => model.to_string()).set(if ready { 1.0 } else { 0.0 });
}

/// Client-side time of one stage of a model step (`stage`: fetch, decode, letterbox,
/// encode, output, nms, crop, clip_preprocess, fingerprint, ocr).
pub fn ml_stage(stage: &'static str, elapsed: Duration) {
    histogram!(ML_STAGE_DURATION, "stage" => stage).record(elapsed.as_secs_f64());
}

/// A model run for an image (`step`: the model or fingerprint; `outcome`: stored,
/// existed, skipped).
pub fn ml_step(step: &'static str, outcome: &'static str) {
    counter!(ML_STEPS, "step" => step, "outcome" => outcome).increment(1);
}

/// Model-step jobs in progress on this node.
pub fn ml_in_flight(n: usize) {
    gauge!(ML_IN_FLIGHT).set(n as f64);
}

/// Credentials checked with Product Opener (`outcome`: valid, refused, remembered,
/// unavailable).
pub fn credential_check(outcome: &'static str) {
    counter!(CREDENTIAL_CHECKS, "outcome" => outcome).increment(1);
}

/// A queued Product Opener edit answered (`outcome`: done, deferred, failed).
pub fn product_edit(outcome: &'static str) {
    counter!(PRODUCT_EDITS, "outcome" => outcome).increment(1);
}

/// A request refused before any work (`reason`: shard_queue_full, heavy_busy, ...).
pub fn request_refused(reason: &'static str) {
    counter!(REQUESTS_REFUSED, "reason" => reason).increment(1);
}

pub fn job_finished(kind: &str, outcome: &str, elapsed: Duration) {
    let kind = crate::jobs::JobKind::ALL
        .into_iter()
        .find(|k| k.as_str() == kind)
        .map_or("unknown", |k| k.as_str());
    counter!(JOBS, "kind" => kind.to_string(), "outcome" => outcome.to_string()).increment(1);
    histogram!(JOB_DURATION, "kind" => kind.to_string()).record(elapsed.as_secs_f64());
}

pub fn job_enqueued(kind: &str, priority: &str) {
    counter!(JOBS_ENQUEUED, "kind" => kind.to_string(), "priority" => priority.to_string())
        .increment(1);
}

pub fn queue_depth(priority: &str, depth: i64) {
    gauge!(QUEUE_DEPTH, "priority" => priority.to_string()).set(depth as f64);
}

pub fn dead_jobs(count: i64) {
    gauge!(DEAD_JOBS).set(count as f64);
}

/// Makes the restart counter of `actor` visible (at zero) as soon as it runs.
pub fn actor_started(actor: &str) {
    counter!(ACTOR_RESTARTS, "actor" => actor.to_string()).increment(0);
}

pub fn actor_restart(actor: &str) {
    counter!(ACTOR_RESTARTS, "actor" => actor.to_string()).increment(1);
}

/// A job read its product again from Product Opener: `stored`, `missing`, `retry`
/// (Product Opener down or slow) or `unusable` (the stored copy was used).
pub fn product_refresh(outcome: &'static str) {
    counter!(PRODUCT_REFRESHES, "outcome" => outcome).increment(1);
}

pub fn scheduler_run(task: &str, outcome: &str) {
    counter!(SCHEDULER_RUNS, "task" => task.to_string(), "outcome" => outcome.to_string())
        .increment(1);
}

pub fn shards_owned(count: usize) {
    gauge!(SHARDS_OWNED).set(count as f64);
}

pub fn ann_index_size(size: usize) {
    gauge!(ANN_INDEX_SIZE).set(size as f64);
}

/// Embedded logos in PostgreSQL minus vectors in the index (0 when in step; it moves
/// between catch-ups).
pub fn ann_index_drift(drift: i64) {
    gauge!(ANN_INDEX_DRIFT).set(drift as f64);
}

pub fn ann_search(elapsed: Duration) {
    histogram!(ANN_SEARCH_DURATION).record(elapsed.as_secs_f64());
}

pub fn listener_lag(stream: &str, seconds: f64) {
    gauge!(LISTENER_LAG, "stream" => stream.to_string()).set(seconds);
    histogram!(LISTENER_LAG_HISTOGRAM, "stream" => stream.to_string()).record(seconds);
}

pub fn listener_event(stream: &str, outcome: &str) {
    counter!(LISTENER_EVENTS, "stream" => stream.to_string(), "outcome" => outcome.to_string())
        .increment(1);
}

pub fn cluster_members(count: usize) {
    gauge!(CLUSTER_MEMBERS).set(count as f64);
}

/// Whether the last exchange with the cluster's Redis worked.
pub fn cluster_redis_up(up: bool) {
    gauge!(CLUSTER_REDIS_UP).set(if up { 1.0 } else { 0.0 });
}

/// A change notice: `raised` here, `published` to Redis, `received` from it, `repaired`
/// from PostgreSQL, `applied` here.
pub fn cluster_notice(kind: &'static str, step: &'static str) {
    counter!(CLUSTER_NOTICES, "kind" => kind, "step" => step).increment(1);
}

pub fn cluster_membership_changed() {
    counter!(CLUSTER_MEMBERSHIP_CHANGES).increment(1);
}

/// The listing cache forgot `scope`: "all" listings, or some "voters".
pub fn listing_cache_cleared(scope: &'static str) {
    counter!(LISTING_CACHE_CLEARS, "scope" => scope).increment(1);
}

/// Whether this node holds the update listener's lease.
pub fn cluster_listener_held(held: bool) {
    gauge!(CLUSTER_LISTENER_HELD).set(if held { 1.0 } else { 0.0 });
}

/// An annotation request finished with `status` (a result name, or `error`).
pub fn annotation(status: &str) {
    counter!(ANNOTATIONS, "status" => status.to_string()).increment(1);
}

/// A Product Opener call failed (`kind`: server_error, unreachable, rejected, …).
pub fn product_opener_failure(kind: &str) {
    counter!(PRODUCT_OPENER_FAILURES, "kind" => kind.to_string()).increment(1);
}

/// One insight handled by the automatic processing (`outcome`: a result name or `error`).
pub fn auto_apply(outcome: &str) {
    counter!(AUTO_APPLY, "outcome" => outcome.to_string()).increment(1);
}

/// Readable products in the last product dump downloaded.
pub fn dataset_products(count: u64) {
    gauge!(DATASET_PRODUCTS).set(count as f64);
}
