//! Crash safety of the event pipeline: `robotoff serve` (listener and workers) is killed
//! with SIGKILL in the middle of a 10,000-event stream, then restarted. Every event
//! becomes exactly one job, and every job's effect exists exactly once: no missing and
//! no duplicate image rows, predictions or insights.

mod common;

use common::stream_events::{
    assert_effects_exactly_once, events, produce, product_opener, Streams, EVENTS, PRODUCTS,
};
use common::{count, fresh_database, redis_url, wait_until};
use sqlx::PgPool;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn serve(db: &str, streams: &Streams, po: SocketAddr) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_robotoff"));
    for (key, _) in std::env::vars() {
        if key.starts_with("ROBOTOFF__") {
            cmd.env_remove(key);
        }
    }
    cmd.args(["serve", "--roles", "workers,listener"])
        .env("ROBOTOFF__LOG__LEVEL", "warn")
        .env("ROBOTOFF__DATA__DIR", common::shared_data_dir())
        .env("ROBOTOFF__DATABASE__URL", db)
        .env("ROBOTOFF__REDIS__URL", &streams.redis)
        .env("ROBOTOFF__REDIS__PRODUCT_UPDATES_STREAM", &streams.updates)
        .env("ROBOTOFF__REDIS__OCR_READY_STREAM", &streams.ocr)
        .env("ROBOTOFF__REDIS__START_FROM", "beginning")
        .env("ROBOTOFF__WORKERS__UPDATE_WAIT_SECS", "0.2")
        .env("ROBOTOFF__WORKERS__POLL_INTERVAL_MS", "200")
        .env("ROBOTOFF__PRODUCT_OPENER__REFRESH_PRODUCTS", "true")
        .env(
            "ROBOTOFF__PRODUCT_OPENER__OFF__API_URL",
            format!("http://{po}"),
        )
        .env(
            "ROBOTOFF__PRODUCT_OPENER__OFF__IMAGES_URL",
            format!("http://{po}"),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn robotoff serve")
}

async fn all_done(pool: &PgPool, jobs: i64) {
    let pool = pool.clone();
    wait_until(Duration::from_secs(600), "every job done", move || {
        let pool = pool.clone();
        async move {
            let done = count(&pool, "SELECT count(*) FROM job WHERE state = 'done'").await;
            let open = count(&pool, "SELECT count(*) FROM job WHERE state <> 'done'").await;
            (done >= jobs && open == 0).then_some(())
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_in_the_middle_of_a_stream_then_restart_processes_every_event_once() {
    let po = product_opener().await;
    let db = fresh_database().await;
    let pool = PgPool::connect(&db).await.expect("pool");
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let streams = Streams {
        redis: redis_url(),
        updates: format!("product_updates_{tag}"),
        ocr: format!("ocr_ready_{tag}"),
    };

    let mut first = serve(&db, &streams, po.addr);
    let producer = {
        let streams = Streams {
            redis: streams.redis.clone(),
            updates: streams.updates.clone(),
            ocr: streams.ocr.clone(),
        };
        tokio::spawn(async move { produce(&streams, events()).await })
    };
    wait_until(Duration::from_secs(120), "a third of the events in", || {
        let pool = pool.clone();
        async move { (count(&pool, "SELECT count(*) FROM job").await >= 3_000).then_some(()) }
    })
    .await;
    first.kill().expect("kill -9");
    first.wait().expect("reap");
    let jobs_at_kill = count(&pool, "SELECT count(*) FROM job").await;
    let done_at_kill = count(&pool, "SELECT count(*) FROM job WHERE state = 'done'").await;
    producer.await.expect("producer");

    let mut second = serve(&db, &streams, po.addr);
    // Every event is one job; each OCR import queues one more, and each image import
    // one model-step job.
    let expected_jobs = (EVENTS + 3 * PRODUCTS) as i64;
    all_done(&pool, expected_jobs).await;
    second.kill().expect("kill");
    second.wait().expect("reap");
    assert!(
        jobs_at_kill < EVENTS as i64 && done_at_kill < expected_jobs,
        "the kill interrupted the stream and the work ({jobs_at_kill} jobs, {done_at_kill} done)"
    );

    assert_effects_exactly_once(&pool).await;
}
