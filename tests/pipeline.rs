//! The event pipeline end to end: Product Opener stream events (real Redis) → durable
//! jobs → image row, OCR predictions and insights (real PostgreSQL), with a local HTTP
//! server standing in for Product Opener's image host.

mod common;

use common::po::{product_json, real_ocr_document, ProductOpenerStandIn};
use common::{count, fresh_database, redis_url, settings, spawn_app, wait_until, xadd};
use robotoff::config::{Role, Settings};
use robotoff::infra::db::{jobs, products};
use robotoff::jobs::{JobKind, NewJob, Priority};
use robotoff::types::ServerType;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

const BARCODE: &str = "0890000001202";

/// Settings of a node whose product and image jobs read products from `po`.
fn with_stand_in(s: &mut Settings, po: &ProductOpenerStandIn) {
    s.product_opener.refresh_products = true;
    po.point(s);
}

/// Spec pipeline §2.5–§2.6 and §3.3a/§3.4: upload, then OCR ready, then predictions and
/// insights for the product.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_upload_then_ocr_ready_gives_predictions_and_insights() {
    let po = Arc::new(ProductOpenerStandIn::start().await);
    po.serve_ocr(
        "/images/products/089/000/000/1202/1.json",
        real_ocr_document(),
    );
    po.put(
        "off",
        product_json(
            BARCODE,
            "food",
            json!({"1": {"sizes": {"full": {"w": 1200, "h": 1600}}, "uploaded_t": 1_700_000_000}}),
        ),
    );
    let redis = redis_url();
    let mut s = settings(&fresh_database().await);
    s.roles = vec![Role::Listener, Role::Workers];
    s.redis.url = Some(redis.clone().into());
    s.redis.start_from = "beginning".into();
    let tag = uuid::Uuid::new_v4().simple().to_string();
    s.redis.product_updates_stream = format!("product_updates_{tag}");
    s.redis.ocr_ready_stream = format!("ocr_ready_{tag}");
    with_stand_in(&mut s, &po);
    let app = spawn_app(s.clone()).await;

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
    assert_eq!(po.ocr_hits(), 0);
    // The job read the product from Product Opener into the store.
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM product WHERE code = '0890000001202' AND server_type = 'off'"
        )
        .await,
        1
    );

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
    assert_eq!(po.ocr_hits(), 1);

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
        let po = po.clone();
        async move { (po.ocr_hits() == 2).then_some(()) }
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

async fn run_job(app: &robotoff::app::App, job: NewJob) -> i64 {
    let w = &app.services.settings.workers;
    let id = jobs::enqueue(&app.pool, &job, w.shards, w.max_attempts)
        .await
        .expect("enqueue")
        .expect("job id");
    let pool = app.pool.clone();
    wait_until(Duration::from_secs(30), "job done", || {
        let pool = pool.clone();
        async move {
            let state: Option<String> = sqlx::query_scalar("SELECT state FROM job WHERE id = $1")
                .bind(id)
                .fetch_optional(&pool)
                .await
                .ok()
                .flatten();
            (state.as_deref() == Some("done")).then_some(())
        }
    })
    .await;
    id
}

/// Product Opener down: the job fails and is retried, nothing is written; once Product
/// Opener answers, the retry imports the image. A product Product Opener no longer has
/// is removed from the store and its image skipped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_refresh_the_product_and_retry_while_product_opener_is_down() {
    let po = ProductOpenerStandIn::start().await;
    po.put(
        "off",
        product_json(
            BARCODE,
            "food",
            json!({"1": {"sizes": {"full": {"w": 800, "h": 600}}, "uploaded_t": 1_700_000_000}}),
        ),
    );
    po.set_down(true);
    let mut s = settings(&fresh_database().await);
    s.roles = vec![Role::Workers];
    s.workers.retry_base_secs = 1;
    s.workers.max_attempts = 100;
    with_stand_in(&mut s, &po);
    let app = spawn_app(s).await;
    let pool = app.pool.clone();
    let w = &app.services.settings.workers;
    let job = NewJob::new(JobKind::ImportImage, Priority::High)
        .for_product(BARCODE, ServerType::Off)
        .payload(json!({"image_id": "1", "include_flags": []}));
    let id = jobs::enqueue(&pool, &job, w.shards, w.max_attempts)
        .await
        .expect("enqueue")
        .expect("id");
    wait_until(Duration::from_secs(30), "a failed attempt", || {
        let pool = pool.clone();
        async move {
            let attempts: i32 = sqlx::query_scalar("SELECT attempts FROM job WHERE id = $1")
                .bind(id)
                .fetch_one(&pool)
                .await
                .ok()?;
            (attempts >= 1).then_some(())
        }
    })
    .await;
    assert_eq!(count(&pool, "SELECT count(*) FROM image").await, 0);
    assert_eq!(count(&pool, "SELECT count(*) FROM product").await, 0);

    po.set_down(false);
    wait_until(Duration::from_secs(30), "image imported on retry", || {
        let pool = pool.clone();
        async move { (count(&pool, "SELECT count(*) FROM image").await == 1).then_some(()) }
    })
    .await;
    assert_eq!(count(&pool, "SELECT count(*) FROM product").await, 1);

    // Gone from Product Opener: removed from the store, the update does nothing else.
    po.remove("off", BARCODE);
    run_job(
        &app,
        NewJob::new(JobKind::UpdateInsights, Priority::High)
            .for_product(BARCODE, ServerType::Off)
            .payload(json!({"diffs": null, "force_category_prediction": false})),
    )
    .await;
    assert_eq!(count(&pool, "SELECT count(*) FROM product").await, 0);
    app.shutdown().await;
}

/// Spec pipeline §2.3: a food product that became a beauty product. Its records on off
/// go (the annotated insight stays), the product is read from obf, and every image of
/// it plus an update with forced category prediction are queued on obf.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn product_type_switch_moves_the_product_to_its_new_flavor() {
    let po = ProductOpenerStandIn::start().await;
    let mut s = settings(&fresh_database().await);
    s.roles = vec![Role::Workers];
    with_stand_in(&mut s, &po);
    let app = spawn_app(s).await;
    let pool = app.pool.clone();

    // What the service holds for the product on off.
    let mut off = robotoff::types::Product::new(BARCODE, ServerType::Off);
    off.lang = Some("fr".into());
    products::upsert_many(&pool, &[off])
        .await
        .expect("off product");
    for (id, annotation) in [
        ("00000000-0000-0000-0000-000000000001", None),
        ("00000000-0000-0000-0000-000000000002", Some(1)),
    ] {
        sqlx::query(
            "INSERT INTO product_insight (id, barcode, type, data, timestamp, server_type, \
             value_tag, source_image, annotation, automatic_processing, reserved_barcode, \
             unique_scans_n, countries, brands, n_votes, confidence, campaign) \
             VALUES ($1::uuid, $2, 'label', '{}', now(), 'off', 'en:organic', '/089/000/000/1202/1.jpg', \
             $3, false, false, 0, '[]', '[]', 0, NULL, '[]')",
        )
        .bind(id)
        .bind(BARCODE)
        .bind(annotation)
        .execute(&pool)
        .await
        .expect("insight");
    }
    sqlx::query(
        "INSERT INTO prediction (barcode, type, data, timestamp, value_tag, source_image, \
         automatic_processing, server_type) VALUES ($1, 'label', '{}', now(), 'en:organic', \
         '/089/000/000/1202/1.jpg', false, 'off')",
    )
    .bind(BARCODE)
    .execute(&pool)
    .await
    .expect("prediction");
    sqlx::query(
        "INSERT INTO image (barcode, uploaded_at, image_id, source_image, width, height, \
         server_type, deleted) VALUES ($1, now(), '1', '/089/000/000/1202/1.jpg', 10, 10, 'off', false)",
    )
    .bind(BARCODE)
    .execute(&pool)
    .await
    .expect("image");

    // Product Opener now has it on obf, with two images (and a selected-image key).
    po.put(
        "obf",
        product_json(
            BARCODE,
            "beauty",
            json!({
                "1": {"sizes": {"full": {"w": 10, "h": 10}}},
                "2": {"sizes": {"full": {"w": 10, "h": 10}}},
                "front_fr": {"imgid": "2"}
            }),
        ),
    );
    let switch = run_job(
        &app,
        NewJob::new(JobKind::ProductTypeSwitched, Priority::High)
            .for_product(BARCODE, ServerType::Off),
    )
    .await;

    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM prediction WHERE server_type = 'off'"
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM image WHERE server_type = 'off'"
        )
        .await,
        0
    );
    let kept: Vec<String> = sqlx::query_scalar(
        "SELECT id::text FROM product_insight WHERE server_type = 'off' ORDER BY id",
    )
    .fetch_all(&pool)
    .await
    .expect("insights");
    assert_eq!(
        kept,
        vec!["00000000-0000-0000-0000-000000000002".to_string()]
    );
    let flavors: Vec<String> =
        sqlx::query_scalar("SELECT server_type FROM product WHERE code = $1")
            .bind(BARCODE)
            .fetch_all(&pool)
            .await
            .expect("products");
    assert_eq!(flavors, vec!["obf".to_string()]);
    let queued: Vec<(String, Option<String>, Value)> = sqlx::query_as(
        "SELECT kind, server_type, payload FROM job WHERE id > $1 AND kind IN ('import_image', 'update_insights') \
         ORDER BY id",
    )
    .bind(switch)
    .fetch_all(&pool)
    .await
    .expect("jobs");
    let images: Vec<&str> = queued
        .iter()
        .filter(|(k, _, _)| k == "import_image")
        .filter_map(|(_, _, p)| p["image_id"].as_str())
        .collect();
    assert_eq!(images, vec!["1", "2"]);
    assert!(
        queued.iter().all(|(_, st, _)| st.as_deref() == Some("obf")),
        "{queued:?}"
    );
    let update: Vec<&Value> = queued
        .iter()
        .filter(|(k, _, _)| k == "update_insights")
        .map(|(_, _, p)| p)
        .collect();
    assert_eq!(update.len(), 1);
    assert_eq!(update[0]["force_category_prediction"], json!(true));

    // Switching again is a no-op: the product already is on obf there.
    let before = count(&pool, "SELECT count(*) FROM job").await;
    run_job(
        &app,
        NewJob::new(JobKind::ProductTypeSwitched, Priority::High)
            .for_product(BARCODE, ServerType::Obf),
    )
    .await;
    assert_eq!(count(&pool, "SELECT count(*) FROM job").await, before + 1);
    app.shutdown().await;
}
