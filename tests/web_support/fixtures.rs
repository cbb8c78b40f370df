//! What the page tests start from: a node whose Product Opener is the stand-in, open
//! questions, logos with embeddings and images, dead jobs, and readers of the rows the
//! pages write.

use super::png;
use crate::common;
use crate::common::po::Served;
use crate::support::{self, Env};
use robotoff::config::Settings;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

pub const ADMIN_TOKEN: &str = "admin-token-for-tests";
/// A Product Opener user the stand-in knows, with a password easy to look for.
pub const VOLUNTEER: (&str, &str) = ("volunteer", "correct-horse-battery-staple");

pub async fn node(adjust: impl FnOnce(&mut Settings)) -> Env {
    let po = common::po::ProductOpenerStandIn::start().await;
    let db = common::fresh_database().await;
    let env = support::env_with(db, po, adjust).await;
    env.po.add_user(VOLUNTEER.0, VOLUNTEER.1);
    env
}

pub fn base(env: &Env) -> String {
    format!("http://{}", env.app.addr.expect("api role"))
}

/// One open question of the `off` flavor.
pub struct Q<'a> {
    pub barcode: &'a str,
    pub kind: &'a str,
    pub value_tag: &'a str,
    pub value: Option<&'a str>,
    pub country: &'a str,
    pub brand: Option<&'a str>,
    pub scans: i32,
    pub source_image: Option<&'a str>,
}

pub async fn question(pool: &PgPool, q: Q<'_>) -> Uuid {
    let id = Uuid::new_v4();
    let brands: Vec<&str> = q.brand.into_iter().collect();
    sqlx::query(
        r#"INSERT INTO product_insight (id, barcode, type, data, timestamp, n_votes, value_tag, value,
             automatic_processing, server_type, reserved_barcode, countries, brands, campaign,
             unique_scans_n, source_image)
         VALUES ($1, $2, $3, '{}', now() AT TIME ZONE 'utc', 0, $4, $5, false, 'off', false, $6, $7,
             '[]', $8, $9)"#,
    )
    .bind(id)
    .bind(q.barcode)
    .bind(q.kind)
    .bind(q.value_tag)
    .bind(q.value)
    .bind(json!([q.country]))
    .bind(json!(brands))
    .bind(q.scans)
    .bind(q.source_image)
    .execute(pool)
    .await
    .expect("insight");
    id
}

/// Five questions, most scanned first: a brand question with an image, then categories
/// and a brand from France, Germany and Spain.
pub async fn five_questions(env: &Env) -> [Uuid; 5] {
    let pool = &env.pool;
    env.po.serve_file(
        "/images/products/300/000/000/0001/1.400.jpg",
        Served {
            body: png(120, 90, [200, 40, 40]),
            last_modified: None,
            etag: None,
        },
    );
    [
        question(
            pool,
            Q {
                barcode: "3000000000001",
                kind: "brand",
                value_tag: "acme",
                value: Some("Acme"),
                country: "en:france",
                brand: Some("acme"),
                scans: 50,
                source_image: Some("/300/000/000/0001/1.jpg"),
            },
        )
        .await,
        question(
            pool,
            Q {
                barcode: "3000000000002",
                kind: "category",
                value_tag: "en:seeds",
                value: None,
                country: "en:france",
                brand: None,
                scans: 40,
                source_image: None,
            },
        )
        .await,
        question(
            pool,
            Q {
                barcode: "3000000000003",
                kind: "category",
                value_tag: "en:teas",
                value: None,
                country: "en:germany",
                brand: None,
                scans: 30,
                source_image: None,
            },
        )
        .await,
        question(
            pool,
            Q {
                barcode: "3000000000004",
                kind: "brand",
                value_tag: "bobo",
                value: Some("Bobo"),
                country: "en:germany",
                brand: Some("bobo"),
                scans: 20,
                source_image: None,
            },
        )
        .await,
        question(
            pool,
            Q {
                barcode: "3000000000005",
                kind: "category",
                value_tag: "en:seeds",
                value: None,
                country: "en:spain",
                brand: None,
                scans: 10,
                source_image: None,
            },
        )
        .await,
    ]
}

/// The vote of this browser's device on `insight`.
pub async fn vote(pool: &PgPool, insight: Uuid) -> Option<(i32, String)> {
    sqlx::query_as("SELECT value, device_id FROM annotation_vote WHERE insight_id = $1")
        .bind(insight)
        .fetch_optional(pool)
        .await
        .expect("vote query")
}

pub async fn wait_vote(pool: &PgPool, insight: Uuid) -> (i32, String) {
    super::wait_for(super::PAGE_WAIT, "the vote row", || async {
        vote(pool, insight).await
    })
    .await
}

/// A logo of product `code` with its image row, an embedding near `centre`, and the
/// image served by the stand-in.
pub async fn embedded_logo(env: &Env, code: &str, image: u32, centre: f32) -> i32 {
    // 13 digits split 3/3/3/4, as Product Opener lays out its image folders.
    let source = format!(
        "/{}/{}/{}/{}/{image}.jpg",
        &code[..3],
        &code[3..6],
        &code[6..9],
        &code[9..]
    );
    let image_id: i32 = sqlx::query_scalar(
        "INSERT INTO image (barcode, uploaded_at, image_id, source_image, width, height, deleted, server_type)
         VALUES ($1, now(), $2, $3, 200, 200, false, 'off') RETURNING id",
    )
    .bind(code)
    .bind(image.to_string())
    .bind(&source)
    .fetch_one(&env.pool)
    .await
    .expect("image");
    let prediction: i32 = sqlx::query_scalar(
        "INSERT INTO image_prediction (type, model_name, model_version, data, timestamp, image_id, max_confidence)
         VALUES ('object_detection', 'universal_logo_detector', 'v1', '{\"objects\": []}', now(), $1, 0.9)
         RETURNING id",
    )
    .bind(image_id)
    .fetch_one(&env.pool)
    .await
    .expect("image prediction");
    let logo: i32 = sqlx::query_scalar(
        "INSERT INTO logo_annotation (image_prediction_id, index, bounding_box, score, barcode, source_image, server_type)
         VALUES ($1, 0, '[0.1, 0.1, 0.6, 0.6]', 0.8, $2, $3, 'off') RETURNING id",
    )
    .bind(prediction)
    .bind(code)
    .bind(&source)
    .fetch_one(&env.pool)
    .await
    .expect("logo");
    let vector: Vec<u8> = (0..512)
        .map(|i| {
            if i == 0 {
                1.0
            } else if i == 1 {
                centre
            } else {
                0.01 * (i % 7) as f32
            }
        })
        .flat_map(|x: f32| x.to_le_bytes())
        .collect();
    sqlx::query("INSERT INTO embedding.logo_embedding (logo_id, embedding) VALUES ($1, $2)")
        .bind(logo)
        .bind(vector)
        .execute(&env.pool)
        .await
        .expect("embedding");
    env.po.serve_file(
        &format!("/images/products{source}"),
        Served {
            body: png(200, 200, [30, 90, 200]),
            last_modified: None,
            etag: None,
        },
    );
    logo
}

/// A dead probe job (it succeeds when run again); returns its id.
pub async fn dead_job(pool: &PgPool) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO job (kind, shard_key, shard, priority, payload, state, attempts, max_attempts,
                          last_error, finished_at)
         VALUES ('probe', 0, 0, 2, '{}', 'dead', 3, 3, 'probe failed on purpose', now())
         RETURNING id",
    )
    .fetch_one(pool)
    .await
    .expect("dead job")
}

pub async fn job_state(pool: &PgPool, id: i64) -> String {
    sqlx::query_scalar("SELECT state FROM job WHERE id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .expect("job state")
}
