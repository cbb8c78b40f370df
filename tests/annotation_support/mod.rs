//! Shared setup of the annotation tests: a node whose Product Opener is a recording
//! stand-in, insights and products written straight to the database, and readers of
//! the resulting rows.
#![allow(dead_code)]

use crate::common::{self, po::ProductOpenerStandIn};
use chrono::NaiveDateTime;
use robotoff::actors::shards::{self, RouteError};
use robotoff::annotation::{AnnotateOutcome, AnnotateRequest, AnnotationStatus, Auth, Caller};
use robotoff::app::App;
use robotoff::config::Settings;
use robotoff::infra::db::products;
use robotoff::types::{Product, ServerType};
use serde_json::{json, Value};
use sqlx::PgPool;
use std::time::Duration;
use uuid::Uuid;

pub const ROBOTOFF_USER: &str = "roboto-app";
pub const ROBOTOFF_PASSWORD: &str = "robotoff-secret";

pub struct Env {
    pub app: App,
    pub pool: PgPool,
    pub po: ProductOpenerStandIn,
}

/// Settings of a node on `db` whose every flavor points at `po_url`.
pub fn settings(db: &str, po_url: &str) -> Settings {
    let mut s = common::settings(db);
    for f in [
        &mut s.product_opener.off,
        &mut s.product_opener.obf,
        &mut s.product_opener.opff,
        &mut s.product_opener.opf,
        &mut s.product_opener.off_pro,
    ] {
        f.api_url = po_url.to_string();
        f.images_url = po_url.to_string();
        f.static_url = po_url.to_string();
    }
    s.product_opener.user = ROBOTOFF_USER.into();
    s.product_opener.password = ROBOTOFF_PASSWORD.to_string().into();
    // Runs are triggered by the tests.
    s.annotation.auto_apply_interval_secs = 3600;
    s
}

pub async fn env() -> Env {
    let po = ProductOpenerStandIn::start().await;
    let db = common::fresh_database().await;
    env_with(db, po, |_| {}).await
}

/// A node with adjusted settings (`po` records requests whatever the settings say).
pub async fn env_with(
    db: String,
    po: ProductOpenerStandIn,
    adjust: impl FnOnce(&mut Settings),
) -> Env {
    let mut s = settings(&db, &po.url);
    adjust(&mut s);
    let app = common::spawn_app(s).await;
    let pool = app.pool.clone();
    Env { app, pool, po }
}

impl Env {
    pub async fn annotate(&self, request: AnnotateRequest) -> Result<AnnotateOutcome, RouteError> {
        shards::annotate(&self.app.services, request, Duration::from_secs(60)).await
    }

    /// Annotates and expects an outcome of `status`.
    pub async fn expect(
        &self,
        request: AnnotateRequest,
        status: AnnotationStatus,
    ) -> AnnotateOutcome {
        let outcome = self.annotate(request).await.expect("annotation answered");
        assert_eq!(outcome.status, status, "{outcome:?}");
        outcome
    }

    pub async fn store(&self, product: Product) {
        products::upsert_many(&self.pool, &[product])
            .await
            .expect("store product");
    }

    pub async fn shutdown(self) {
        self.app.shutdown().await;
    }
}

pub fn anonymous(id: Uuid, annotation: i32, device: &str) -> AnnotateRequest {
    AnnotateRequest {
        insight_id: id,
        annotation,
        update: true,
        data: None,
        device_id: device.to_string(),
        client_key: Some(format!("client-of-{device}")),
        caller: Caller::Anonymous,
    }
}

pub fn by_user(id: Uuid, annotation: i32, auth: Auth) -> AnnotateRequest {
    AnnotateRequest {
        insight_id: id,
        annotation,
        update: true,
        data: None,
        device_id: "device-of-user".to_string(),
        client_key: None,
        caller: Caller::User(auth),
    }
}

/// An insight to insert.
#[derive(Debug, Clone)]
pub struct NewInsight {
    pub barcode: String,
    pub kind: &'static str,
    pub value_tag: Option<String>,
    pub value: Option<String>,
    pub data: Value,
    pub source_image: Option<String>,
    pub automatic: bool,
    /// Minutes ago `process_after` passed (`None`: not set).
    pub due_minutes_ago: Option<i64>,
    pub annotation: Option<i32>,
    pub server_type: ServerType,
}

pub fn insight(kind: &'static str, barcode: &str) -> NewInsight {
    NewInsight {
        barcode: barcode.to_string(),
        kind,
        value_tag: None,
        value: None,
        data: json!({}),
        source_image: None,
        automatic: false,
        due_minutes_ago: None,
        annotation: None,
        server_type: ServerType::Off,
    }
}

impl NewInsight {
    pub fn tag(mut self, tag: &str) -> Self {
        self.value_tag = Some(tag.to_string());
        self
    }
    pub fn value(mut self, value: &str) -> Self {
        self.value = Some(value.to_string());
        self
    }
    pub fn data(mut self, data: Value) -> Self {
        self.data = data;
        self
    }
    pub fn image(mut self, source_image: &str) -> Self {
        self.source_image = Some(source_image.to_string());
        self
    }
    pub fn due(mut self, minutes_ago: i64) -> Self {
        self.automatic = true;
        self.due_minutes_ago = Some(minutes_ago);
        self
    }
    pub fn annotated(mut self, annotation: i32) -> Self {
        self.annotation = Some(annotation);
        self
    }

    pub async fn insert(self, pool: &PgPool) -> Uuid {
        let id = Uuid::new_v4();
        sqlx::query(
            r#"INSERT INTO product_insight (id, barcode, type, data, "timestamp", value_tag, value, source_image,
                   automatic_processing, process_after, annotation, completed_at, n_votes, server_type,
                   unique_scans_n, reserved_barcode, countries, brands, campaign)
               VALUES ($1, $2, $3, $4, now() AT TIME ZONE 'utc', $5, $6, $7, $8,
                   CASE WHEN $9::bigint IS NULL THEN NULL
                        ELSE (now() AT TIME ZONE 'utc') - make_interval(mins => $9::int) END,
                   $10, CASE WHEN $10::int IS NULL THEN NULL ELSE (now() AT TIME ZONE 'utc') - interval '10 minutes' END,
                   0, $11, 10, false, '["en:france"]', '[]', '[]')"#,
        )
        .bind(id)
        .bind(&self.barcode)
        .bind(self.kind)
        .bind(&self.data)
        .bind(&self.value_tag)
        .bind(&self.value)
        .bind(&self.source_image)
        .bind(self.automatic)
        .bind(self.due_minutes_ago)
        .bind(self.annotation)
        .bind(self.server_type.name())
        .execute(pool)
        .await
        .expect("insert insight");
        id
    }
}

/// The annotation columns of an insight.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub annotation: Option<i32>,
    pub annotated_result: Option<i32>,
    pub n_votes: i32,
    pub username: Option<String>,
    pub completed_at: Option<NaiveDateTime>,
    pub value_tag: Option<String>,
    pub value: Option<String>,
    pub data: Value,
}

type RowTuple = (
    Option<i32>,
    Option<i32>,
    i32,
    Option<String>,
    Option<NaiveDateTime>,
    Option<String>,
    Option<String>,
    Value,
);

pub async fn row(pool: &PgPool, id: Uuid) -> Row {
    let r: RowTuple =
        sqlx::query_as(
            "SELECT annotation, annotated_result, n_votes, username, completed_at, value_tag, value, data
             FROM product_insight WHERE id = $1",
        )
        .bind(id)
        .fetch_one(pool)
        .await
        .expect("insight row");
    Row {
        annotation: r.0,
        annotated_result: r.1,
        n_votes: r.2,
        username: r.3,
        completed_at: r.4,
        value_tag: r.5,
        value: r.6,
        data: r.7,
    }
}

/// Votes of an insight: (username, value, device_id), oldest first.
pub async fn votes(pool: &PgPool, id: Uuid) -> Vec<(Option<String>, i32, String)> {
    sqlx::query_as(
        r#"SELECT username, value, device_id FROM annotation_vote WHERE insight_id = $1 ORDER BY "timestamp", id"#,
    )
    .bind(id)
    .fetch_all(pool)
    .await
    .expect("votes")
}

/// Adds a vote row directly (a vote cast earlier).
pub async fn add_vote(pool: &PgPool, id: Uuid, value: i32, device: &str) {
    sqlx::query(
        r#"INSERT INTO annotation_vote (id, insight_id, username, value, device_id, "timestamp")
           VALUES (gen_random_uuid(), $1, NULL, $2, $3, now() AT TIME ZONE 'utc')"#,
    )
    .bind(id)
    .bind(value)
    .bind(device)
    .execute(pool)
    .await
    .expect("insert vote");
}

pub fn product(code: &str) -> Product {
    Product::new(code, ServerType::Off)
}

pub fn basic() -> Auth {
    Auth::basic("a", "b")
}
