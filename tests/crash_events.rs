//! Crash safety of the event pipeline: `robotoff serve` (listener and workers) is killed
//! with SIGKILL in the middle of a 10,000-event stream, then restarted. Every event
//! becomes exactly one job, and every job's effect exists exactly once: no missing and
//! no duplicate image rows, predictions or insights.

mod common;

use common::po::{real_ocr_document, ProductOpenerStandIn};
use common::{count, fresh_database, redis_url, wait_until};
use serde_json::json;
use sqlx::PgPool;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Products that get an image upload and its OCR; the other events are image deletions.
const PRODUCTS: usize = 200;
const EVENTS: usize = 10_000;

fn product_code(i: usize) -> String {
    format!("8{:012}", i)
}

/// Product Opener's product API (any barcode, one image) and image host (one real Cloud
/// Vision document for every image).
async fn product_opener() -> ProductOpenerStandIn {
    let po = ProductOpenerStandIn::start().await;
    po.serve_ocr_for_every_image(real_ocr_document());
    po.serve_any_product(json!({"product_type": "food", "lang": "fr",
        "countries_tags": ["en:france"],
        "images": {"1": {"sizes": {"full": {"w": 1000, "h": 1000}}, "uploaded_t": 1700000000}}}));
    po
}

struct Streams {
    redis: String,
    updates: String,
    ocr: String,
}

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

/// The stream: image deletions on other products, with an upload and then the OCR of
/// image 1 of each of the `PRODUCTS` products spread through it.
fn events() -> Vec<(bool, Vec<(String, String)>)> {
    let f = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let stride = EVENTS / PRODUCTS;
    let mut out = Vec::with_capacity(EVENTS);
    for e in 0..EVENTS {
        let (slot, at) = (e / stride, e % stride);
        let code = product_code(slot);
        let event = match at {
            0 => (
                false,
                f(&[
                    ("code", &code),
                    ("flavor", "off"),
                    ("product_type", "food"),
                    ("user_id", "someone"),
                    ("action", "updated"),
                    ("diffs", r#"{"uploaded_images": {"add": ["1"]}}"#),
                ]),
            ),
            1 => (
                true,
                f(&[("code", &code), ("product_type", "food"), ("image_id", "1")]),
            ),
            _ => {
                let other = format!("9{:012}", e);
                (
                    false,
                    f(&[
                        ("code", &other),
                        ("flavor", "off"),
                        ("product_type", "food"),
                        ("user_id", "someone"),
                        ("action", "updated"),
                        ("diffs", r#"{"uploaded_images": {"delete": ["5"]}}"#),
                    ]),
                )
            }
        };
        out.push(event);
    }
    out
}

async fn produce(streams: &Streams, events: Vec<(bool, Vec<(String, String)>)>) {
    let client = redis::Client::open(streams.redis.as_str()).expect("redis url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("redis");
    for chunk in events.chunks(100) {
        let mut pipe = redis::pipe();
        for (ocr, fields) in chunk {
            let stream = if *ocr { &streams.ocr } else { &streams.updates };
            let cmd = pipe.cmd("XADD").arg(stream).arg("*");
            for (k, v) in fields {
                cmd.arg(k).arg(v);
            }
        }
        let _: Vec<String> = pipe.query_async(&mut conn).await.expect("XADD");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
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

    let by_kind: Vec<(String, i64)> =
        sqlx::query_as("SELECT kind, count(*) FROM job GROUP BY kind ORDER BY kind")
            .fetch_all(&pool)
            .await
            .expect("jobs by kind");
    let n = PRODUCTS as i64;
    assert_eq!(
        by_kind,
        vec![
            ("deleted_image".to_string(), EVENTS as i64 - 2 * n),
            ("import_image".to_string(), 2 * n),
            ("import_insights_from_image".to_string(), n),
            // The model steps of each upload, then of each OCR import.
            ("run_image_models".to_string(), 2 * n),
        ],
        "each event enqueued exactly once"
    );
    assert_eq!(count(&pool, "SELECT count(*) FROM image").await, n);
    assert_eq!(
        count(&pool, "SELECT count(DISTINCT barcode) FROM prediction").await,
        n,
        "every product got its OCR predictions"
    );
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM (SELECT 1 FROM prediction
               GROUP BY barcode, server_type, type, value_tag, value, source_image, predictor, predictor_version
               HAVING count(*) > 1) d"
        )
        .await,
        0,
        "no duplicate prediction"
    );
    let per_product: Vec<i64> =
        sqlx::query_scalar("SELECT count(*) FROM prediction GROUP BY barcode ORDER BY 1")
            .fetch_all(&pool)
            .await
            .expect("predictions per product");
    assert_eq!(
        per_product.first(),
        per_product.last(),
        "every product has the same predictions (the same document)"
    );
    assert_eq!(
        count(
            &pool,
            "SELECT count(DISTINCT barcode) FROM product_insight WHERE type = 'product_weight'"
        )
        .await,
        n
    );
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM (SELECT 1 FROM product_insight
               GROUP BY barcode, server_type, type, value_tag, value, source_image
               HAVING count(*) > 1) d"
        )
        .await,
        0,
        "no duplicate insight"
    );
}
