//! The event pipeline end to end: Product Opener stream events (real Redis) → durable
//! jobs → image row, OCR predictions and insights (real PostgreSQL), with a local HTTP
//! server standing in for Product Opener's image host.

mod common;

use common::{count, fresh_database, redis_url, settings, spawn_app, wait_until};
use robotoff::config::Role;
use robotoff::infra::db::products;
use robotoff::types::{Product, ServerType};
use serde_json::json;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use warp::Filter;

const BARCODE: &str = "0890000001202";

/// Serves the OCR document of image 1 of `BARCODE` (a real Cloud Vision document);
/// every other path is a 404. Counts the requests it answered.
async fn image_host() -> (SocketAddr, Arc<AtomicUsize>) {
    let doc = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/conformance/real_docs/0890000001202_1.json"
    ))
    .expect("real OCR document");
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let route = warp::path!("images" / "products" / "089" / "000" / "000" / "1202" / "1.json").map(
        move || {
            counter.fetch_add(1, Ordering::SeqCst);
            warp::reply::with_header(doc.clone(), "content-type", "application/json")
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(warp::serve(route).incoming(listener).run());
    (addr, hits)
}

async fn xadd(redis: &str, stream: &str, fields: &[(&str, &str)]) {
    let client = redis::Client::open(redis).expect("redis url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("redis");
    let mut cmd = redis::cmd("XADD");
    cmd.arg(stream).arg("*");
    for (k, v) in fields {
        cmd.arg(*k).arg(*v);
    }
    let _: String = cmd.query_async(&mut conn).await.expect("XADD");
}

/// Spec pipeline §2.5–§2.6 and §3.3a/§3.4: upload, then OCR ready, then predictions and
/// insights for the product.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_upload_then_ocr_ready_gives_predictions_and_insights() {
    let (host, hits) = image_host().await;
    let redis = redis_url();
    let mut s = settings(&fresh_database().await);
    s.roles = vec![Role::Listener, Role::Workers];
    s.redis.url = Some(redis.clone());
    s.redis.start_from = "beginning".into();
    let tag = uuid::Uuid::new_v4().simple().to_string();
    s.redis.product_updates_stream = format!("product_updates_{tag}");
    s.redis.ocr_ready_stream = format!("ocr_ready_{tag}");
    s.product_opener.off.images_url = format!("http://{host}");
    let app = spawn_app(s.clone()).await;

    let mut product = Product::new(BARCODE, ServerType::Off);
    product.lang = Some("fr".into());
    product.countries_tags = vec!["en:france".into()];
    product.images =
        json!({"1": {"sizes": {"full": {"w": 1200, "h": 1600}}, "uploaded_t": 1_700_000_000}})
            .as_object()
            .cloned()
            .unwrap_or_default();
    products::upsert_many(&app.pool, &[product])
        .await
        .expect("product in store");

    let upload = [
        ("code", BARCODE),
        ("flavor", "off"),
        ("product_type", "food"),
        ("user_id", "someone"),
        ("action", "updated"),
        ("diffs", r#"{"uploaded_images": {"add": ["1"]}}"#),
    ];
    xadd(&redis, &s.redis.product_updates_stream, &upload).await;
    let pool = app.pool.clone();
    wait_until(Duration::from_secs(30), "image row", || {
        let pool = pool.clone();
        async move { (count(&pool, "SELECT count(*) FROM image").await == 1).then_some(()) }
    })
    .await;
    // The upload alone runs no OCR step.
    assert_eq!(hits.load(Ordering::SeqCst), 0);

    xadd(
        &redis,
        &s.redis.ocr_ready_stream,
        &[
            ("code", BARCODE),
            ("product_type", "food"),
            ("image_id", "1"),
        ],
    )
    .await;
    wait_until(Duration::from_secs(60), "product_weight insight", || {
        let pool = pool.clone();
        async move {
            (count(
                &pool,
                "SELECT count(*) FROM product_insight WHERE type = 'product_weight'",
            )
            .await
                == 1)
                .then_some(())
        }
    })
    .await;
    assert_eq!(hits.load(Ordering::SeqCst), 1);

    let row: (String, i32, i32, bool) =
        sqlx::query_as("SELECT source_image, width, height, deleted FROM image")
            .fetch_one(&pool)
            .await
            .expect("image");
    assert_eq!(
        row,
        ("/089/000/000/1202/1.jpg".to_string(), 1200, 1600, false)
    );
    let types: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT type FROM prediction WHERE source_image = '/089/000/000/1202/1.jpg' ORDER BY type")
            .fetch_all(&pool)
            .await
            .expect("prediction types");
    for expected in [
        "image_lang",
        "image_orientation",
        "nutrient_mention",
        "product_weight",
    ] {
        assert!(
            types.iter().any(|t| t == expected),
            "missing {expected} in {types:?}"
        );
    }
    let (value, automatic, scheduled): (String, bool, bool) = sqlx::query_as(
        "SELECT value, automatic_processing, process_after IS NOT NULL FROM product_insight WHERE type = 'product_weight'",
    )
    .fetch_one(&pool)
    .await
    .expect("insight");
    assert_eq!(value, "4 x 90 g");
    assert!(
        automatic && scheduled,
        "a weight with a mention is applied automatically after the wait"
    );
    let failed = count(
        &pool,
        "SELECT count(*) FROM job WHERE state IN ('dead', 'queued') AND attempts > 0",
    )
    .await;
    assert_eq!(failed, 0, "no job failed on the way");

    // The same OCR-ready event again changes nothing (idempotent jobs).
    let predictions = count(&pool, "SELECT count(*) FROM prediction").await;
    let insights = count(&pool, "SELECT count(*) FROM product_insight").await;
    xadd(
        &redis,
        &s.redis.ocr_ready_stream,
        &[
            ("code", BARCODE),
            ("product_type", "food"),
            ("image_id", "1"),
        ],
    )
    .await;
    wait_until(Duration::from_secs(60), "second OCR fetch", || {
        let hits = hits.clone();
        async move { (hits.load(Ordering::SeqCst) == 2).then_some(()) }
    })
    .await;
    wait_until(Duration::from_secs(30), "queue drained", || {
        let pool = pool.clone();
        async move {
            (count(&pool, "SELECT count(*) FROM job WHERE state <> 'done'").await == 0)
                .then_some(())
        }
    })
    .await;
    assert_eq!(
        count(&pool, "SELECT count(*) FROM prediction").await,
        predictions
    );
    assert_eq!(
        count(&pool, "SELECT count(*) FROM product_insight").await,
        insights
    );
    assert_eq!(count(&pool, "SELECT count(*) FROM image").await, 1);

    // Deletion of the product: predictions and open insights go.
    let deleted = [
        ("code", BARCODE),
        ("product_type", "food"),
        ("user_id", "someone"),
        ("action", "deleted"),
    ];
    xadd(&redis, &s.redis.product_updates_stream, &deleted).await;
    wait_until(Duration::from_secs(30), "predictions deleted", || {
        let pool = pool.clone();
        async move { (count(&pool, "SELECT count(*) FROM prediction").await == 0).then_some(()) }
    })
    .await;
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM product_insight WHERE annotation IS NULL"
        )
        .await,
        0
    );
    app.shutdown().await;
}
