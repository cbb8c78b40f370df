//! Fixtures: a node serving the API on a fresh database, rows inserted from JSON.
#![allow(dead_code)]

use crate::common;
use robotoff::app::App;
use robotoff::config::Settings;
use serde_json::{json, Value};
use sqlx::PgPool;

/// The fixture insight of Robotoff's test_api.py (spec api-db §8).
pub const INSIGHT_ID: &str = "94371643-c2bc-4291-a585-af2cb1a5270a";

pub struct Api {
    pub app: App,
    pub pool: PgPool,
    pub base: String,
    pub client: reqwest::Client,
}

impl Api {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// GET, returning status and JSON body (Null when the body is not JSON).
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let resp = self
            .client
            .get(self.url(path))
            .send()
            .await
            .expect("request");
        let status = resp.status().as_u16();
        let body = resp.json::<Value>().await.unwrap_or(Value::Null);
        (status, body)
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let (status, body) = self.get(path).await;
        assert_eq!(status, 200, "GET {path} → {status}: {body}");
        body
    }

    /// POST a form, returning status and JSON body.
    pub async fn post_form(
        &self,
        path: &str,
        form: &[(&str, &str)],
        auth: Option<&str>,
    ) -> (u16, Value) {
        let mut req = self.client.post(self.url(path)).form(form);
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        (status, resp.json::<Value>().await.unwrap_or(Value::Null))
    }

    pub async fn stop(self) {
        self.app.shutdown().await;
    }
}

/// Settings of an API-only node on a fresh database, images on the staging host.
pub async fn settings() -> Settings {
    let url = common::fresh_database().await;
    let mut s = common::settings(&url);
    s.roles = vec![robotoff::config::Role::Api];
    s.product_opener.off.images_url = "https://images.openfoodfacts.net".into();
    // Fixtures change between requests: listings are read fresh unless a test opts in.
    s.http.listing_cache_ms = 0;
    s
}

pub async fn start_with(settings: Settings) -> Api {
    let app = common::spawn_app(settings).await;
    let addr = app.addr.expect("api address");
    let pool = app.pool.clone();
    Api {
        app,
        pool,
        base: format!("http://{addr}"),
        client: common::http(),
    }
}

pub async fn start() -> Api {
    start_with(settings().await).await
}

fn merge(mut base: Value, over: Value) -> Value {
    if let (Some(b), Some(o)) = (base.as_object_mut(), over.as_object()) {
        for (k, v) in o {
            b.insert(k.clone(), v.clone());
        }
    }
    base
}

/// Inserts an insight: an open `category` insight of barcode 00000001 unless `over` says
/// otherwise. Returns its id.
pub async fn insight(pool: &PgPool, over: Value) -> String {
    let row = merge(
        json!({
            "id": uuid::Uuid::new_v4().to_string(), "barcode": "00000001", "type": "category",
            "data": {}, "timestamp": "2024-01-02T03:04:05", "n_votes": 0, "countries": ["en:france"],
            "brands": [], "value_tag": "en:seeds", "automatic_processing": false, "server_type": "off",
            "unique_scans_n": 10, "reserved_barcode": false, "campaign": [], "predictor": "neural",
        }),
        over,
    );
    let id = row["id"].as_str().unwrap_or_default().to_string();
    sqlx::query("INSERT INTO product_insight SELECT * FROM jsonb_populate_record(NULL::product_insight, $1)")
        .bind(&row)
        .execute(pool)
        .await
        .expect("insert insight");
    id
}

/// The fixture insight of Robotoff's test_api.py.
pub async fn fixture_insight(pool: &PgPool) -> String {
    insight(pool, json!({"id": INSIGHT_ID})).await
}

pub async fn vote(
    pool: &PgPool,
    insight_id: &str,
    device: &str,
    username: Option<&str>,
    value: i32,
) {
    sqlx::query(
        "INSERT INTO annotation_vote (id, insight_id, username, value, device_id, timestamp)
         VALUES (gen_random_uuid(), $1::uuid, $2, $3, $4, now())",
    )
    .bind(insight_id)
    .bind(username)
    .bind(value)
    .bind(device)
    .execute(pool)
    .await
    .expect("insert vote");
}

/// Inserts a product into the product store with these `images`.
pub async fn product(pool: &PgPool, code: &str, images: Value) {
    sqlx::query("INSERT INTO product (code, server_type, images) VALUES ($1, 'off', $2)")
        .bind(code)
        .bind(images)
        .execute(pool)
        .await
        .expect("insert product");
}

/// Inserts an image and returns its id.
pub async fn image(pool: &PgPool, barcode: &str, image_id: &str) -> i32 {
    sqlx::query_scalar(
        "INSERT INTO image (barcode, uploaded_at, image_id, source_image, width, height, deleted, server_type, fingerprint)
         VALUES ($1, '2024-01-01T00:00:00', $2, '/000/000/000/0001/' || $2 || '.jpg', 1000, 2000, false, 'off', 42)
         RETURNING id",
    )
    .bind(barcode)
    .bind(image_id)
    .fetch_one(pool)
    .await
    .expect("insert image")
}

/// Inserts an image prediction of `image` and returns its id.
pub async fn image_prediction(pool: &PgPool, image: i32) -> i32 {
    sqlx::query_scalar(
        "INSERT INTO image_prediction (type, model_name, model_version, data, timestamp, image_id, max_confidence)
         VALUES ('object_detection', 'universal_logo_detector', 'v1', '{\"objects\": []}', '2024-01-01T00:00:01', $1, 0.9)
         RETURNING id",
    )
    .bind(image)
    .fetch_one(pool)
    .await
    .expect("insert image prediction")
}

/// Inserts a logo of `image_prediction` and returns its id.
pub async fn logo(
    pool: &PgPool,
    image_prediction: i32,
    index: i32,
    barcode: &str,
    kind: Option<&str>,
    value: Option<&str>,
) -> i32 {
    sqlx::query_scalar(
        "INSERT INTO logo_annotation (image_prediction_id, index, bounding_box, score, annotation_value,
                                      annotation_value_tag, annotation_type, barcode, source_image, server_type)
         VALUES ($1, $2, '[0.1, 0.1, 0.5, 0.5]', 0.75, $3, lower($3), $4, $5, '/000/000/000/0001/1.jpg', 'off')
         RETURNING id",
    )
    .bind(image_prediction)
    .bind(index)
    .bind(value)
    .bind(kind)
    .bind(barcode)
    .fetch_one(pool)
    .await
    .expect("insert logo")
}

pub async fn prediction(pool: &PgPool, barcode: &str, kind: &str, value_tag: &str) -> i32 {
    sqlx::query_scalar(
        "INSERT INTO prediction (barcode, type, data, timestamp, value_tag, source_image, automatic_processing,
                                 predictor, confidence, server_type)
         VALUES ($1, $2, '{}', '2024-01-01T00:00:00.5', $3, '/000/000/000/0001/1.jpg', false, 'regex', 0.5, 'off')
         RETURNING id",
    )
    .bind(barcode)
    .bind(kind)
    .bind(value_tag)
    .fetch_one(pool)
    .await
    .expect("insert prediction")
}

/// Sorted keys of a JSON object.
pub fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    k.sort();
    k
}

pub fn sorted(list: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = list.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

pub const INSIGHT_KEYS: [&str; 27] = [
    "id",
    "barcode",
    "type",
    "data",
    "timestamp",
    "completed_at",
    "annotation",
    "annotated_result",
    "n_votes",
    "username",
    "countries",
    "brands",
    "process_after",
    "value_tag",
    "value",
    "source_image",
    "automatic_processing",
    "server_type",
    "unique_scans_n",
    "reserved_barcode",
    "predictor",
    "predictor_version",
    "campaign",
    "confidence",
    "bounding_box",
    "lc",
    "with_image",
];
