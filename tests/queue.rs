//! The durable job queue through the running node: ordering per product, delays,
//! retries, dead jobs, dedupe, priorities, wake-ups.

mod common;

use common::{count, fresh_database, settings, spawn_app, wait_until};
use robotoff::infra::db::jobs;
use robotoff::jobs::{JobKind, NewJob, Priority};
use robotoff::types::ServerType;
use serde_json::json;
use sqlx::PgPool;
use std::time::Duration;

fn probe(barcode: &str, sleep_ms: u64) -> NewJob {
    NewJob::new(JobKind::Probe, Priority::High)
        .for_product(barcode, ServerType::Off)
        .payload(json!({ "sleep_ms": sleep_ms }))
}

async fn enqueue(pool: &PgPool, job: &NewJob, shards: u32) -> i64 {
    jobs::enqueue(pool, job, shards, 5)
        .await
        .expect("enqueue")
        .expect("not deduplicated")
}

/// For every barcode, probe runs ordered by start never overlap.
async fn assert_no_overlap(pool: &PgPool) {
    let overlaps = count(
        pool,
        "SELECT count(*) FROM (
             SELECT barcode, started_at,
                    lag(finished_at) OVER (PARTITION BY barcode ORDER BY started_at) AS prev_end
             FROM job_probe) t
         WHERE prev_end IS NOT NULL AND started_at < prev_end",
    )
    .await;
    assert_eq!(overlaps, 0, "two jobs of one product ran at the same time");
}

/// Architecture invariant 1: two jobs for the same product never run at the same
/// time, here with 8 shards on each of two nodes sharing the queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn jobs_of_one_product_never_overlap_across_shards_and_nodes() {
    let url = fresh_database().await;
    let mut s = settings(&url);
    s.workers.shards = 8;
    let a = spawn_app(s.clone()).await;
    let b = spawn_app(s.clone()).await;
    let pool = a.pool.clone();
    let barcodes: Vec<String> = (0..12).map(|i| format!("30000000000{i:02}")).collect();
    let mut ids = Vec::new();
    for round in 0..25u64 {
        for (i, barcode) in barcodes.iter().enumerate() {
            ids.push(enqueue(&pool, &probe(barcode, (round + i as u64) % 4), 8).await);
        }
    }
    let total = ids.len() as i64;
    wait_until(Duration::from_secs(120), "all probe jobs done", || {
        let pool = pool.clone();
        async move {
            (count(&pool, "SELECT count(*) FROM job WHERE state = 'done'").await == total)
                .then_some(())
        }
    })
    .await;
    assert_no_overlap(&pool).await;
    assert_eq!(
        count(&pool, "SELECT count(*) FROM job_probe").await,
        total,
        "each job has exactly one effect"
    );
    assert_eq!(
        count(&pool, "SELECT count(DISTINCT job_id) FROM job_probe").await,
        total
    );
    // Per product, jobs enqueued with the same priority and delay run in enqueue order.
    let out_of_order = count(
        &pool,
        "SELECT count(*) FROM (
             SELECT job_id, lag(job_id) OVER (PARTITION BY barcode ORDER BY started_at) AS prev FROM job_probe) t
         WHERE prev IS NOT NULL AND prev > job_id",
    )
    .await;
    assert_eq!(out_of_order, 0);
    b.shutdown().await;
    a.shutdown().await;
}

/// Architecture invariant 3: a delay is a stored time, not a sleeping task.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delayed_job_survives_a_restart_and_runs_after_its_time() {
    let url = fresh_database().await;
    let s = settings(&url);
    let first = spawn_app(s.clone()).await;
    let id = enqueue(
        &first.pool,
        &probe("3456300016208", 0).delay(Duration::from_secs(3)),
        s.workers.shards,
    )
    .await;
    first.shutdown().await;

    let second = spawn_app(s.clone()).await;
    let pool = second.pool.clone();
    let job = wait_until(Duration::from_secs(30), "delayed job done", || {
        let pool = pool.clone();
        async move {
            jobs::get(&pool, id)
                .await
                .ok()
                .flatten()
                .filter(|j| j.state == "done")
        }
    })
    .await;
    let started = job.started_at.expect("started_at recorded");
    assert!(
        started >= job.run_after,
        "ran at {started}, before its time {}",
        job.run_after
    );
    assert!(job.run_after - job.created_at >= chrono::Duration::milliseconds(2900));
    second.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_job_is_retried_then_kept_dead_and_can_be_rerun() {
    let url = fresh_database().await;
    let mut s = settings(&url);
    s.workers.max_attempts = 3;
    let app = spawn_app(s.clone()).await;
    let pool = app.pool.clone();
    let w = &s.workers;
    // Fails (by panicking) once, then succeeds.
    let flaky = NewJob::new(JobKind::Probe, Priority::High)
        .for_product("111", ServerType::Off)
        .payload(json!({"fail_attempts": 1, "panic": true}));
    let flaky = jobs::enqueue(&pool, &flaky, w.shards, w.max_attempts)
        .await
        .expect("enqueue")
        .expect("id");
    // Always fails.
    let doomed = NewJob::new(JobKind::Probe, Priority::High)
        .for_product("222", ServerType::Off)
        .payload(json!({"fail_attempts": 100}));
    let doomed = jobs::enqueue(&pool, &doomed, w.shards, w.max_attempts)
        .await
        .expect("enqueue")
        .expect("id");

    let done = wait_until(Duration::from_secs(30), "flaky job done", || {
        let pool = pool.clone();
        async move {
            jobs::get(&pool, flaky)
                .await
                .ok()
                .flatten()
                .filter(|j| j.state == "done")
        }
    })
    .await;
    assert_eq!(done.attempts, 2);
    let dead = wait_until(Duration::from_secs(30), "doomed job dead", || {
        let pool = pool.clone();
        async move {
            jobs::get(&pool, doomed)
                .await
                .ok()
                .flatten()
                .filter(|j| j.state == "dead")
        }
    })
    .await;
    assert_eq!(dead.attempts, 3);
    assert!(
        dead.last_error
            .as_deref()
            .unwrap_or("")
            .contains("asked to fail"),
        "{:?}",
        dead.last_error
    );
    let listed = jobs::list_dead(&pool, 10).await.expect("list dead");
    assert_eq!(
        listed.iter().map(|j| j.id).collect::<Vec<_>>(),
        vec![doomed]
    );
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM job_probe WHERE barcode = '222'"
        )
        .await,
        0
    );

    assert!(jobs::retry_dead(&pool, doomed).await.expect("retry"));
    assert!(
        !jobs::retry_dead(&pool, flaky)
            .await
            .expect("retry of a done job"),
        "only dead jobs are re-run"
    );
    wait_until(Duration::from_secs(30), "re-run job dead again", || {
        let pool = pool.clone();
        async move {
            jobs::get(&pool, doomed)
                .await
                .ok()
                .flatten()
                .filter(|j| j.state == "dead" && j.attempts == 3)
        }
    })
    .await;
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dedupe_key_keeps_one_queued_job() {
    let url = fresh_database().await;
    let pool = PgPool::connect(&url).await.expect("pool");
    let job = probe("333", 0)
        .delay(Duration::from_secs(60))
        .dedupe("update:off:333");
    let first = jobs::enqueue(&pool, &job, 6, 5).await.expect("enqueue");
    let second = jobs::enqueue(&pool, &job, 6, 5).await.expect("enqueue");
    assert!(first.is_some());
    assert_eq!(second, None, "a queued job with the same key exists");
    assert_eq!(count(&pool, "SELECT count(*) FROM job").await, 1);
    // Once that job is no longer queued, the key can be used again.
    sqlx::query("UPDATE job SET state = 'done'")
        .execute(&pool)
        .await
        .expect("update");
    assert!(jobs::enqueue(&pool, &job, 6, 5)
        .await
        .expect("enqueue")
        .is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claim_takes_high_before_low_leaves_ml_to_the_model_lane_and_only_due_jobs() {
    let url = fresh_database().await;
    let pool = PgPool::connect(&url).await.expect("pool");
    let barcode = "3456300016208";
    let shard = robotoff::shard::shard_of(barcode, 6) as i32;
    let mk = |p: Priority| NewJob::new(JobKind::Noop, p).for_product(barcode, ServerType::Off);
    let low = enqueue(&pool, &mk(Priority::Low), 6).await;
    let ml = enqueue(&pool, &mk(Priority::Ml), 6).await;
    let _later = enqueue(
        &pool,
        &mk(Priority::High).delay(Duration::from_secs(3600)),
        6,
    )
    .await;
    let high = enqueue(&pool, &mk(Priority::High), 6).await;
    let claimed = jobs::claim(&pool, &[(shard, 10)], "test-node")
        .await
        .expect("claim");
    let ids: Vec<i64> = claimed.iter().map(|j| j.id).collect();
    assert_eq!(ids, vec![high, low]);
    assert!(claimed.iter().all(|j| j.attempts == 1 && j.shard == shard));
    // The model lane claims `ml` jobs on its own budget, from the shards it is given.
    assert!(
        jobs::claim_model_steps(&pool, &[shard + 1], 10, "test-node")
            .await
            .expect("claim")
            .is_empty()
    );
    let lane = jobs::claim_model_steps(&pool, &[shard], 10, "test-node")
        .await
        .expect("claim");
    assert_eq!(lane.iter().map(|j| j.id).collect::<Vec<_>>(), vec![ml]);
    assert_eq!(lane[0].attempts, 1);
    // Claimed jobs are not claimed twice.
    assert!(jobs::claim(&pool, &[(shard, 10)], "other")
        .await
        .expect("claim")
        .is_empty());
    // Completing with a stale lease does nothing.
    let mut conn = pool.acquire().await.expect("conn");
    let stale = uuid::Uuid::new_v4();
    assert!(!jobs::complete(&mut conn, high, stale, chrono::Utc::now())
        .await
        .expect("complete"));
    assert!(
        jobs::complete(&mut conn, high, claimed[0].lease, chrono::Utc::now())
            .await
            .expect("complete")
    );
}

/// A job enqueued while the node is idle runs at once: the insert notifies the
/// dispatcher (polling is set to a minute here, so only the notification can wake it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enqueue_wakes_the_dispatcher_through_notify() {
    let url = fresh_database().await;
    let mut s = settings(&url);
    s.workers.poll_interval_ms = 60_000;
    let app = spawn_app(s.clone()).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let id = enqueue(&app.pool, &probe("444", 0), s.workers.shards).await;
    let pool = app.pool.clone();
    wait_until(Duration::from_secs(10), "notified job done", || {
        let pool = pool.clone();
        async move {
            jobs::get(&pool, id)
                .await
                .ok()
                .flatten()
                .filter(|j| j.state == "done")
        }
    })
    .await;
    app.shutdown().await;
}

/// Jobs left running by a node that died are queued again by the next owner of their shard.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_left_running_by_a_dead_node_are_recovered() {
    let url = fresh_database().await;
    let pool = PgPool::connect(&url).await.expect("pool");
    let id = enqueue(&pool, &probe("555", 0), 6).await;
    let shard = robotoff::shard::shard_of("555", 6) as i32;
    let claimed = jobs::claim(&pool, &[(shard, 1)], "node-that-dies")
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 1);
    let app = spawn_app(settings(&url)).await;
    let done = wait_until(Duration::from_secs(20), "recovered job done", || {
        let pool = pool.clone();
        async move {
            jobs::get(&pool, id)
                .await
                .ok()
                .flatten()
                .filter(|j| j.state == "done")
        }
    })
    .await;
    assert_eq!(done.attempts, 2);
    // The dead node's late completion is refused: its lease is gone.
    let mut conn = pool.acquire().await.expect("conn");
    assert!(
        !jobs::complete(&mut conn, id, claimed[0].lease, chrono::Utc::now())
            .await
            .expect("complete")
    );
    assert_eq!(count(&pool, "SELECT count(*) FROM job_probe").await, 1);
    app.shutdown().await;
}
