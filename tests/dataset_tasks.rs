//! The product dump's tasks: download with ETag and import into the product store, and
//! the daily dump-based cleanup of predictions and insights. Real PostgreSQL, the Product
//! Opener stand-in as static host.

mod common;

use chrono::{TimeDelta, Utc};
use common::dump::{dump_of, gzip, DUMP_PATH};
use common::po::{ProductOpenerStandIn, Served};
use common::set_mtime;
use robotoff::product_store::cleanup as dump_cleanup;
use robotoff::product_store::dump::{self as dataset, DatasetSource, Download};
use sqlx::PgPool;
use std::time::{Duration, SystemTime};

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

async fn pool() -> PgPool {
    PgPool::connect(&common::fresh_database().await)
        .await
        .expect("pool")
}

// ---------------------------------------------------------------------------------------
// Dataset download.

/// Spec §8.4: the dump is downloaded only when its ETag changed, checked for a minimum
/// number of products, moved into place with its ETag saved, then imported.
#[tokio::test]
async fn dataset_download_follows_the_etag_and_imports_products() {
    let pool = pool().await;
    let server = ProductOpenerStandIn::start().await;
    let first = dump_of(&[
        "3000000000001",
        "3000000000002",
        "3000000000003",
        "3000000000004",
    ]);
    server.serve_file(
        DUMP_PATH,
        Served {
            body: first.clone(),
            last_modified: None,
            etag: Some("v1-abc".into()),
        },
    );
    let datasets = tempfile::tempdir().expect("tempdir");
    let source = DatasetSource {
        url: format!("{}{DUMP_PATH}", server.url),
        dir: datasets.path().join("datasets"),
        min_products: 3,
    };

    // First run: no stored ETag → GET only, products imported.
    let summary = dataset::refresh(&client(), &pool, &source)
        .await
        .expect("first refresh");
    assert!(summary.contains("4 product(s)"), "{summary}");
    assert_eq!(server.count("GET", DUMP_PATH), 1);
    assert_eq!(server.count("HEAD", DUMP_PATH), 0);
    assert_eq!(std::fs::read(source.dataset_path()).expect("dump"), first);
    assert_eq!(
        std::fs::read_to_string(source.etag_path()).expect("etag"),
        "v1-abc",
        "ETag saved without quotes"
    );
    assert_eq!(
        common::count(
            &pool,
            "SELECT count(*) FROM product WHERE code LIKE '30000000000%'"
        )
        .await,
        4
    );

    // Second run, same ETag: a HEAD and no download.
    sqlx::query("DELETE FROM product")
        .execute(&pool)
        .await
        .expect("delete");
    let summary = dataset::refresh(&client(), &pool, &source)
        .await
        .expect("second refresh");
    assert!(summary.contains("unchanged"), "{summary}");
    assert_eq!(server.count("HEAD", DUMP_PATH), 1);
    assert_eq!(
        server.count("GET", DUMP_PATH),
        1,
        "no GET when the ETag is the same"
    );
    assert_eq!(
        common::count(&pool, "SELECT count(*) FROM product").await,
        0
    );

    // A new ETag with too few products: rejected, the previous dump and ETag stay.
    server.serve_file(
        DUMP_PATH,
        Served {
            body: dump_of(&["3000000000009", "3000000000010"]),
            last_modified: None,
            etag: Some("v2-small".into()),
        },
    );
    let error = dataset::download(&client(), &source)
        .await
        .expect_err("too small");
    assert!(error.contains("fewer than 3"), "{error}");
    assert_eq!(server.count("HEAD", DUMP_PATH), 2);
    assert_eq!(server.count("GET", DUMP_PATH), 2);
    assert_eq!(std::fs::read(source.dataset_path()).expect("dump"), first);
    assert_eq!(
        std::fs::read_to_string(source.etag_path()).expect("etag"),
        "v1-abc"
    );
    assert!(!source.dir.join(".products.jsonl.gz.download").exists());

    // A truncated gzip is a read error: rejected too.
    let mut truncated = dump_of(&["1", "2", "3", "4", "5"]);
    truncated.truncate(truncated.len() / 2);
    server.serve_file(
        DUMP_PATH,
        Served {
            body: truncated,
            last_modified: None,
            etag: Some("v3-broken".into()),
        },
    );
    assert!(dataset::download(&client(), &source).await.is_err());
    assert_eq!(std::fs::read(source.dataset_path()).expect("dump"), first);

    // A new, large enough dump replaces the old one.
    let second = dump_of(&["3000000000005", "3000000000006", "3000000000007"]);
    server.serve_file(
        DUMP_PATH,
        Served {
            body: second.clone(),
            last_modified: None,
            etag: Some("v4-ok".into()),
        },
    );
    let outcome = dataset::download(&client(), &source)
        .await
        .expect("download");
    assert_eq!(
        outcome,
        Download::Replaced {
            products: 3,
            etag: Some("v4-ok".into())
        }
    );
    assert_eq!(std::fs::read(source.dataset_path()).expect("dump"), second);
    assert_eq!(
        std::fs::read_to_string(source.etag_path()).expect("etag"),
        "v4-ok"
    );

    // A new dump that cannot be imported: its ETag is forgotten, so the next run retries.
    server.serve_file(
        DUMP_PATH,
        Served {
            body: dump_of(&["3000000000011", "3000000000012", "3000000000013"]),
            last_modified: None,
            etag: Some("v5-import-fails".into()),
        },
    );
    let closed = pool.clone();
    closed.close().await;
    let error = dataset::refresh(&client(), &closed, &source)
        .await
        .expect_err("import fails");
    assert!(error.contains("importing"), "{error}");
    assert!(!source.etag_path().exists());
    let gets = server.count("GET", DUMP_PATH);
    let pool = self::pool().await;
    let summary = dataset::refresh(&client(), &pool, &source)
        .await
        .expect("retried refresh");
    assert!(summary.contains("3 product(s)"), "{summary}");
    assert_eq!(server.count("GET", DUMP_PATH), gets + 1);
    assert_eq!(
        common::count(
            &pool,
            "SELECT count(*) FROM product WHERE code LIKE '30000000000%'"
        )
        .await,
        3
    );
}

// ---------------------------------------------------------------------------------------
// Dump-based cleanup.

const A: &str = "1111111111111";
const B: &str = "2222222222222";
const C: &str = "3560070880973";
const GONE: &str = "9999999999999";

fn cleanup_dump() -> Vec<u8> {
    let lines = [
        serde_json::json!({"code": A, "brands_tags": ["brand-a"], "countries_tags": ["en:france"],
            "unique_scans_n": 5, "images": {"1": {}, "2": {}, "front_fr": {"imgid": "2"}}}),
        serde_json::json!({"code": B, "brands_tags": [], "countries_tags": ["en:spain"],
            "images": {"uploaded": {"1": {}}, "selected": {}}}),
        serde_json::json!({"code": C, "brands_tags": [], "countries_tags": [], "unique_scans_n": 0}),
    ];
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    gzip(text.as_bytes())
}

async fn add_prediction(
    pool: &PgPool,
    barcode: &str,
    source_image: Option<&str>,
    timestamp: chrono::NaiveDateTime,
    server_type: &str,
) -> i32 {
    sqlx::query_scalar(
        "INSERT INTO prediction (barcode, type, data, \"timestamp\", source_image, server_type)
         VALUES ($1, 'label', '{}'::jsonb, $2, $3, $4) RETURNING id",
    )
    .bind(barcode)
    .bind(timestamp)
    .bind(source_image)
    .bind(server_type)
    .fetch_one(pool)
    .await
    .expect("insert prediction")
}

struct InsightRow<'a> {
    barcode: &'a str,
    kind: &'a str,
    source_image: Option<&'a str>,
    timestamp: chrono::NaiveDateTime,
    annotation: Option<i32>,
    brands: serde_json::Value,
    countries: serde_json::Value,
    predictor: Option<&'a str>,
    value_tag: Option<&'a str>,
}

async fn add_insight(pool: &PgPool, row: InsightRow<'_>) -> uuid::Uuid {
    let id = uuid::Uuid::new_v4();
    sqlx::query(
        "INSERT INTO product_insight (id, barcode, type, data, \"timestamp\", annotation, n_votes,
             countries, brands, source_image, automatic_processing, server_type, unique_scans_n,
             reserved_barcode, predictor, value_tag)
         VALUES ($1, $2, $3, '{}'::jsonb, $4, $5, 0, $6, $7, $8, false, 'off', 0, false, $9, $10)",
    )
    .bind(id)
    .bind(row.barcode)
    .bind(row.kind)
    .bind(row.timestamp)
    .bind(row.annotation)
    .bind(row.countries)
    .bind(row.brands)
    .bind(row.source_image)
    .bind(row.predictor)
    .bind(row.value_tag)
    .execute(pool)
    .await
    .expect("insert insight");
    id
}

fn insight<'a>(barcode: &'a str, source_image: Option<&'a str>) -> InsightRow<'a> {
    InsightRow {
        barcode,
        kind: "label",
        source_image,
        timestamp: (Utc::now() - TimeDelta::days(2)).naive_utc(),
        annotation: None,
        brands: serde_json::json!([]),
        countries: serde_json::json!([]),
        predictor: None,
        value_tag: None,
    }
}

async fn prediction_ids(pool: &PgPool) -> Vec<i32> {
    sqlx::query_scalar("SELECT id FROM prediction ORDER BY id")
        .fetch_all(pool)
        .await
        .expect("ids")
}

async fn insight_exists(pool: &PgPool, id: uuid::Uuid) -> bool {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM product_insight WHERE id = $1)")
        .bind(id)
        .fetch_one(pool)
        .await
        .expect("exists")
}

/// Spec §4.2: the daily dump-based refresh deletes predictions and non-annotated insights
/// of products or images gone from the dump, updates brands/countries/scans of the other
/// non-annotated insights, deletes brand insights failing the brand lists, and leaves
/// annotated rows, rows newer than today 00:00 UTC and other flavors alone.
#[tokio::test]
async fn dump_cleanup_deletes_and_updates_exactly_the_stale_rows() {
    let pool = pool().await;
    let old = (Utc::now() - TimeDelta::days(2)).naive_utc();
    let today = Utc::now().naive_utc();
    let img = |id: &str| format!("/111/111/111/1111/{id}.jpg");

    let p_kept = add_prediction(&pool, A, Some(&img("1")), old, "off").await;
    let p_image_gone = add_prediction(&pool, A, Some(&img("3")), old, "off").await;
    let p_not_digit = add_prediction(&pool, A, Some(&img("front_fr")), old, "off").await;
    let p_no_image = add_prediction(&pool, A, None, old, "off").await;
    let p_product_gone = add_prediction(&pool, GONE, None, old, "off").await;
    let p_recent = add_prediction(&pool, GONE, None, today, "off").await;
    let p_other_flavor = add_prediction(&pool, GONE, None, old, "obf").await;
    let p_b_kept = add_prediction(&pool, B, Some("/222/222/222/2222/1.jpg"), old, "off").await;

    let i_updated = add_insight(&pool, insight(A, Some(&img("1")))).await;
    let i_image_gone = add_insight(&pool, insight(A, Some(&img("3")))).await;
    let i_product_gone = add_insight(&pool, insight(GONE, None)).await;
    let i_annotated_gone = add_insight(
        &pool,
        InsightRow {
            annotation: Some(1),
            ..insight(GONE, None)
        },
    )
    .await;
    let i_recent_gone = add_insight(
        &pool,
        InsightRow {
            timestamp: today,
            ..insight(GONE, None)
        },
    )
    .await;
    let i_same = add_insight(
        &pool,
        InsightRow {
            countries: serde_json::json!(["en:spain"]),
            ..insight(B, None)
        },
    )
    .await;
    let i_annotated_stale = add_insight(
        &pool,
        InsightRow {
            annotation: Some(0),
            ..insight(A, Some(&img("3")))
        },
    )
    .await;
    // Brand insights: `asia` is blacklisted; carrefour matches C's barcode range.
    let i_brand_invalid = add_insight(
        &pool,
        InsightRow {
            kind: "brand",
            predictor: Some("taxonomy"),
            value_tag: Some("asia"),
            countries: serde_json::json!(["en:spain"]),
            ..insight(B, None)
        },
    )
    .await;
    let i_brand_valid = add_insight(
        &pool,
        InsightRow {
            kind: "brand",
            predictor: Some("taxonomy"),
            value_tag: Some("carrefour"),
            ..insight(C, None)
        },
    )
    .await;
    let i_brand_unchecked = add_insight(
        &pool,
        InsightRow {
            kind: "brand",
            predictor: Some("universal-logo-detector"),
            value_tag: Some("asia"),
            ..insight(C, None)
        },
    )
    .await;

    let datasets = tempfile::tempdir().expect("tempdir");
    let dump = datasets.path().join("products.jsonl.gz");

    // A dump not modified today: nothing happens.
    std::fs::write(&dump, cleanup_dump()).expect("write dump");
    set_mtime(
        &dump,
        SystemTime::now() - Duration::from_secs(2 * 24 * 3600),
    );
    let error = dump_cleanup::cleanup(&pool, &dump, &common::shared_data_dir(), Utc::now())
        .await
        .expect_err("stale dump");
    assert!(error.contains("not today"), "{error}");
    assert_eq!(prediction_ids(&pool).await.len(), 8);

    set_mtime(&dump, SystemTime::now());
    let outcome = dump_cleanup::cleanup(&pool, &dump, &common::shared_data_dir(), Utc::now())
        .await
        .expect("cleanup");
    assert_eq!(outcome.dump_products, 3);
    assert_eq!(outcome.counts.predictions_product_gone, 1, "{outcome}");
    assert_eq!(outcome.counts.predictions_image_gone, 2, "{outcome}");
    assert_eq!(outcome.counts.insights_product_gone, 1, "{outcome}");
    assert_eq!(outcome.counts.insights_image_gone, 1, "{outcome}");
    assert_eq!(outcome.counts.insights_updated, 1, "{outcome}");
    assert_eq!(outcome.invalid_brand_insights, 1, "{outcome}");

    let mut kept = vec![p_kept, p_no_image, p_recent, p_other_flavor, p_b_kept];
    kept.sort();
    assert_eq!(prediction_ids(&pool).await, kept);
    for gone in [p_image_gone, p_not_digit, p_product_gone] {
        assert!(!kept.contains(&gone));
    }
    for id in [i_image_gone, i_product_gone, i_brand_invalid] {
        assert!(!insight_exists(&pool, id).await, "{id} deleted");
    }
    for id in [
        i_updated,
        i_annotated_gone,
        i_recent_gone,
        i_same,
        i_annotated_stale,
        i_brand_valid,
        i_brand_unchecked,
    ] {
        assert!(insight_exists(&pool, id).await, "{id} kept");
    }
    let (brands, countries, scans): (serde_json::Value, serde_json::Value, i32) = sqlx::query_as(
        "SELECT brands, countries, unique_scans_n FROM product_insight WHERE id = $1",
    )
    .bind(i_updated)
    .fetch_one(&pool)
    .await
    .expect("updated insight");
    assert_eq!(brands, serde_json::json!(["brand-a"]));
    assert_eq!(countries, serde_json::json!(["en:france"]));
    assert_eq!(scans, 5);
    let stale: serde_json::Value =
        sqlx::query_scalar("SELECT brands FROM product_insight WHERE id = $1")
            .bind(i_annotated_stale)
            .fetch_one(&pool)
            .await
            .expect("annotated insight");
    assert_eq!(
        stale,
        serde_json::json!([]),
        "annotated insights are not updated"
    );

    // A second run finds nothing more to do.
    let again = dump_cleanup::cleanup(&pool, &dump, &common::shared_data_dir(), Utc::now())
        .await
        .expect("cleanup");
    assert_eq!(again.counts, Default::default(), "{again}");
    assert_eq!(again.invalid_brand_insights, 0);
}
