//! A realistic stream of Product Opener events (image uploads, their OCR, image
//! deletions) and a Product Opener stand-in that answers for them.

use super::count;
use super::po::{real_ocr_document, ProductOpenerStandIn};
use serde_json::json;
use sqlx::PgPool;
use std::time::Duration;

/// Products that get an image upload and its OCR; the other events are image deletions.
pub const PRODUCTS: usize = 200;
pub const EVENTS: usize = 10_000;

pub fn product_code(i: usize) -> String {
    format!("8{:012}", i)
}

/// Product Opener's product API (any barcode, one image) and image host (one real Cloud
/// Vision document for every image).
pub async fn product_opener() -> ProductOpenerStandIn {
    let po = ProductOpenerStandIn::start().await;
    po.serve_ocr_for_every_image(real_ocr_document());
    po.serve_any_product(json!({"product_type": "food", "lang": "fr",
        "countries_tags": ["en:france"],
        "images": {"1": {"sizes": {"full": {"w": 1000, "h": 1000}}, "uploaded_t": 1700000000}}}));
    po
}

pub struct Streams {
    pub redis: String,
    pub updates: String,
    pub ocr: String,
}

/// The stream: image deletions on other products, with an upload and then the OCR of
/// image 1 of each of the `PRODUCTS` products spread through it.
pub fn events() -> Vec<(bool, Vec<(String, String)>)> {
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

pub async fn produce(streams: &Streams, events: Vec<(bool, Vec<(String, String)>)>) {
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

impl Streams {
    /// Streams of their own on the test Redis at `redis`.
    pub fn unique(redis: String) -> Streams {
        let tag = uuid::Uuid::new_v4().simple().to_string();
        Streams {
            redis,
            updates: format!("product_updates_{tag}"),
            ocr: format!("ocr_ready_{tag}"),
        }
    }
}

impl Clone for Streams {
    fn clone(&self) -> Self {
        Streams {
            redis: self.redis.clone(),
            updates: self.updates.clone(),
            ocr: self.ocr.clone(),
        }
    }
}

/// Every event of [`events`] became exactly one job and every job's effect exists
/// exactly once: no missing and no duplicate image rows, predictions or insights.
pub async fn assert_effects_exactly_once(pool: &PgPool) {
    let pool = pool.clone();
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
