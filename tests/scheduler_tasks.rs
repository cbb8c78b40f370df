//! The scheduler's periodic jobs that need no model: temporary directory cleanup,
//! taxonomy refresh, product dump download and import, dump-based cleanup. Real
//! PostgreSQL, real HTTP servers on 127.0.0.1.

mod common;

use chrono::{TimeDelta, Utc};
use common::static_files::{Served, StaticServer};
use flate2::write::GzEncoder;
use robotoff::insights::import::shared_resources;
use robotoff::maintenance::taxonomy_refresh;
use robotoff::maintenance::tmp_cleanup::remove_old_tmp_dirs;
use robotoff::ocr::resources::OcrResources;
use robotoff::product_store::cleanup as dump_cleanup;
use robotoff::product_store::dump::{self as dataset, DatasetSource, Download};
use robotoff::taxonomy::{Taxonomies, Taxonomy, TaxonomyType};
use sqlx::PgPool;
use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, SystemTime};

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

fn set_mtime(path: &Path, t: SystemTime) {
    std::fs::File::open(path)
        .and_then(|f| f.set_modified(t))
        .expect("set mtime");
}

fn mtime(path: &Path) -> SystemTime {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .expect("mtime")
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).expect("gzip");
    gz.finish().expect("gzip")
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("gunzip");
    out
}

async fn pool() -> PgPool {
    PgPool::connect(&common::fresh_database().await)
        .await
        .expect("pool")
}

// ---------------------------------------------------------------------------------------
// Temporary directory cleanup.

/// Spec §4: `clean_tmp_files` removes `/tmp/tmp*` directories older than 2 days.
#[test]
fn tmp_cleanup_removes_only_old_tmp_directories() {
    let root = tempfile::tempdir().expect("tempdir");
    let now = SystemTime::now();
    let three_days_ago = now - Duration::from_secs(3 * 24 * 3600);
    let old_tmp = root.path().join("tmpabc123");
    let new_tmp = root.path().join("tmpfresh");
    let old_other = root.path().join("cache-old");
    let old_tmp_file = root.path().join("tmpfile.txt");
    std::fs::create_dir_all(old_tmp.join("nested")).expect("mkdir");
    std::fs::write(old_tmp.join("nested/data.bin"), b"x").expect("write");
    std::fs::create_dir(&new_tmp).expect("mkdir");
    std::fs::create_dir(&old_other).expect("mkdir");
    std::fs::write(&old_tmp_file, b"x").expect("write");
    for p in [&old_tmp, &old_other, &old_tmp_file] {
        set_mtime(p, three_days_ago);
    }
    let outcome =
        remove_old_tmp_dirs(root.path(), Duration::from_secs(48 * 3600), now).expect("cleanup");
    assert_eq!(outcome.removed, 1);
    assert_eq!(outcome.failed, 0);
    assert!(
        !old_tmp.exists(),
        "old tmp* directory removed with its content"
    );
    assert!(new_tmp.exists(), "recent tmp* directory kept");
    assert!(old_other.exists(), "other names kept");
    assert!(old_tmp_file.exists(), "files kept");
    assert!(remove_old_tmp_dirs(&root.path().join("missing"), Duration::ZERO, now).is_err());
}

// ---------------------------------------------------------------------------------------
// Taxonomy refresh.

/// A data directory with the importer's files and every taxonomy, all dated two days ago.
fn data_dir_copy() -> tempfile::TempDir {
    let shared = common::shared_data_dir();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("ocr")).expect("mkdir");
    std::fs::create_dir_all(dir.path().join("taxonomies")).expect("mkdir");
    for file in [
        "ocr/label_whitelist.txt",
        "ocr/brand_taxonomy_blacklist.txt",
        "brand_prefix.json.gz",
    ] {
        std::fs::copy(shared.join(file), dir.path().join(file)).expect("copy");
    }
    let two_days_ago = SystemTime::now() - Duration::from_secs(2 * 24 * 3600);
    for kind in TaxonomyType::ALL {
        let target = kind.path_in(dir.path());
        std::fs::copy(kind.path_in(&shared), &target).expect("copy taxonomy");
        set_mtime(&target, two_days_ago);
    }
    dir
}

const NEW_LABEL: &str = "en:scheduler-refresh-test-label";

/// The shared labels taxonomy with one more node.
fn labels_with_new_entry() -> Vec<u8> {
    let path = TaxonomyType::Label.path_in(&common::shared_data_dir());
    let json = gunzip(&std::fs::read(path).expect("read labels"));
    let mut map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&json).expect("labels JSON");
    map.insert(
        NEW_LABEL.to_string(),
        serde_json::json!({"name": {"en": "Scheduler refresh test label"}, "parents": ["en:organic"]}),
    );
    serde_json::to_vec(&map).expect("JSON")
}

fn taxonomy_path(kind: TaxonomyType) -> String {
    format!("/data/taxonomies/{}.full.json", kind.file_stem())
}

/// Spec §4: `download_taxonomies` fetches a taxonomy only when the server's copy is newer,
/// and the running service uses it without a restart.
#[tokio::test]
async fn taxonomy_refresh_downloads_newer_files_and_reloads_them() {
    let data = data_dir_copy();
    let dir = data.path().to_path_buf();
    let server = StaticServer::start().await;
    let now = SystemTime::now();
    let labels_modified = now - Duration::from_secs(3600);
    for kind in TaxonomyType::ALL {
        let (body, modified) = if kind == TaxonomyType::Label {
            (labels_with_new_entry(), labels_modified)
        } else {
            // Older than the local files: never downloaded (an invalid body would fail).
            (
                b"not a taxonomy".to_vec(),
                now - Duration::from_secs(3 * 24 * 3600),
            )
        };
        server.serve(
            &taxonomy_path(kind),
            Served {
                body,
                last_modified: Some(modified),
                etag: None,
            },
        );
    }

    // Taxonomies already loaded by the importer and by another holder (as the HTTP API's).
    let importer = shared_resources(&dir).await.expect("importer resources");
    let before = importer.taxonomy(TaxonomyType::Label).expect("labels");
    assert!(!before.contains(NEW_LABEL));
    let other = Taxonomies::new(&dir);
    assert!(!other
        .get(TaxonomyType::Label)
        .expect("labels")
        .contains(NEW_LABEL));
    // The OCR extractors keep their own taxonomies inside the OCR resources.
    let ocr = OcrResources::new(&dir);
    let ocr_taxonomies = ocr
        .get_or_load(|d| Ok(Taxonomies::new(d)))
        .expect("OCR taxonomies");
    assert!(!ocr_taxonomies
        .get(TaxonomyType::Label)
        .expect("labels")
        .contains(NEW_LABEL));
    let brands_before = std::fs::read(TaxonomyType::Brand.path_in(&dir)).expect("read");

    let outcome = taxonomy_refresh::refresh(&client(), &server.url, &dir)
        .await
        .expect("refresh");
    assert_eq!(outcome.refreshed, vec![TaxonomyType::Label], "{outcome}");
    assert_eq!(outcome.up_to_date, 6, "{outcome}");
    assert!(outcome.failed.is_empty(), "{outcome}");
    assert!(outcome.holders_reloaded >= 3, "{outcome}");
    assert!(outcome.to_string().starts_with("1 taxonomie(s) refreshed"));
    assert_eq!(server.count("GET", &taxonomy_path(TaxonomyType::Label)), 1);
    assert_eq!(
        server.count_method("GET"),
        1,
        "only the newer taxonomy is downloaded"
    );
    assert_eq!(server.count_method("HEAD"), 7);

    // The file is replaced: gzip, parses, has the new entry, dated as the server's copy.
    let path = TaxonomyType::Label.path_in(&dir);
    let stored = std::fs::read(&path).expect("read");
    assert!(stored.starts_with(&[0x1f, 0x8b]), "stored gzipped");
    assert!(Taxonomy::from_path(&path)
        .expect("parses")
        .contains(NEW_LABEL));
    let stamp = mtime(&path)
        .duration_since(labels_modified)
        .unwrap_or_else(|e| e.duration());
    assert!(
        stamp < Duration::from_secs(2),
        "mtime is the server's Last-Modified"
    );
    assert_eq!(
        std::fs::read(TaxonomyType::Brand.path_in(&dir)).expect("read"),
        brands_before
    );
    assert!(!dir
        .join("taxonomies/.labels.full.json.gz.download")
        .exists());

    // The running service sees the new entry; holders of the old generation keep it.
    let reloaded = shared_resources(&dir).await.expect("importer resources");
    assert!(reloaded
        .taxonomy(TaxonomyType::Label)
        .expect("labels")
        .contains(NEW_LABEL));
    assert!(other
        .get(TaxonomyType::Label)
        .expect("labels")
        .contains(NEW_LABEL));
    let ocr_taxonomies = ocr
        .get_or_load(|d| Ok(Taxonomies::new(d)))
        .expect("OCR taxonomies");
    assert!(ocr_taxonomies
        .get(TaxonomyType::Label)
        .expect("labels")
        .contains(NEW_LABEL));
    assert!(!before.contains(NEW_LABEL));

    // Second run: everything is as new as the server's copy, nothing is downloaded.
    let again = taxonomy_refresh::refresh(&client(), &server.url, &dir)
        .await
        .expect("refresh");
    assert!(again.refreshed.is_empty(), "{again}");
    assert_eq!(again.up_to_date, 7);
    assert_eq!(
        server.count_method("GET"),
        1,
        "no download of a file that is not newer"
    );
}

/// A newer download that does not parse as a taxonomy leaves the current file in place.
#[tokio::test]
async fn taxonomy_refresh_rejects_an_invalid_download() {
    let data = data_dir_copy();
    let dir = data.path().to_path_buf();
    let server = StaticServer::start().await;
    let now = SystemTime::now();
    for kind in TaxonomyType::ALL {
        let newer = kind == TaxonomyType::PackagingShape;
        server.serve(
            &taxonomy_path(kind),
            Served {
                body: if newer {
                    b"{\"en:x\": [1, 2".to_vec()
                } else {
                    Vec::new()
                },
                last_modified: Some(if newer {
                    now - Duration::from_secs(60)
                } else {
                    now - Duration::from_secs(5 * 24 * 3600)
                }),
                etag: None,
            },
        );
    }
    let path = TaxonomyType::PackagingShape.path_in(&dir);
    let before = std::fs::read(&path).expect("read");
    let outcome = taxonomy_refresh::refresh(&client(), &server.url, &dir)
        .await
        .expect("refresh");
    assert!(outcome.refreshed.is_empty(), "{outcome}");
    assert_eq!(outcome.failed.len(), 1, "{outcome}");
    assert_eq!(outcome.failed[0].0, TaxonomyType::PackagingShape);
    assert_eq!(std::fs::read(&path).expect("read"), before, "file kept");
    assert!(!dir
        .join("taxonomies/.packaging_shapes.full.json.gz.download")
        .exists());
}

// ---------------------------------------------------------------------------------------
// Dataset download.

const DUMP_PATH: &str = "/data/openfoodfacts-products.jsonl.gz";

fn dump_of(codes: &[&str]) -> Vec<u8> {
    let mut text = String::new();
    for code in codes {
        text.push_str(&format!(
            "{{\"code\": \"{code}\", \"product_type\": \"food\", \"product_name\": \"P {code}\", \"brands_tags\": [\"b\"]}}\n"
        ));
    }
    text.push_str("not json\n");
    gzip(text.as_bytes())
}

/// Spec §8.4: the dump is downloaded only when its ETag changed, checked for a minimum
/// number of products, moved into place with its ETag saved, then imported.
#[tokio::test]
async fn dataset_download_follows_the_etag_and_imports_products() {
    let pool = pool().await;
    let server = StaticServer::start().await;
    let first = dump_of(&[
        "3000000000001",
        "3000000000002",
        "3000000000003",
        "3000000000004",
    ]);
    server.serve(
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
    server.serve(
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
    server.serve(
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
    server.serve(
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
    server.serve(
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

// ---------------------------------------------------------------------------------------
// Through the scheduler actor.

/// The node's scheduler knows the new tasks: a run started with `RunNow` downloads and
/// imports the dump and is counted in the metrics.
#[tokio::test]
async fn scheduler_runs_the_dataset_task_on_demand() {
    use robotoff::actors::scheduler::{SchedulerMsg, DATASET_REFRESH_TASK, TMP_CLEANUP_TASK};
    use robotoff::actors::SCHEDULER;
    let db = common::fresh_database().await;
    let server = StaticServer::start().await;
    server.serve(
        DUMP_PATH,
        Served {
            body: dump_of(&["3100000000001", "3100000000002"]),
            last_modified: None,
            etag: Some("app-1".into()),
        },
    );
    let datasets = tempfile::tempdir().expect("tempdir");
    let mut o = robotoff::config::Overrides::default();
    o.set("http.addr", "127.0.0.1:0");
    o.set("database.url", db.as_str());
    o.set("data.dir", common::shared_data_dir().display().to_string());
    o.set("log.level", "warn");
    o.set(
        "scheduler.dataset_url",
        format!("{}{DUMP_PATH}", server.url),
    );
    o.set(
        "scheduler.datasets_dir",
        datasets.path().display().to_string(),
    );
    o.set("scheduler.dataset_min_products", 1);
    let settings =
        robotoff::config::Settings::load_with_env(None, &o, Vec::new()).expect("settings");
    let app = common::spawn_app(settings).await;
    let names = app.services.names.clone();
    let actor = names
        .lookup::<SchedulerMsg>(&names.of(SCHEDULER))
        .expect("scheduler running");
    for task in [DATASET_REFRESH_TASK, TMP_CLEANUP_TASK] {
        let started = robotoff::actors::call(
            &actor,
            |r| SchedulerMsg::RunNow(task.to_string(), r),
            Duration::from_secs(5),
        )
        .await
        .expect("scheduler answers");
        assert!(started, "{task} started");
    }
    let unknown = robotoff::actors::call(
        &actor,
        |r| SchedulerMsg::RunNow("no_such_task".to_string(), r),
        Duration::from_secs(5),
    )
    .await
    .expect("scheduler answers");
    assert!(!unknown);
    let runs = common::wait_until(Duration::from_secs(30), "both runs to finish", || {
        let actor = actor.clone();
        async move {
            let runs = robotoff::actors::call(&actor, SchedulerMsg::Runs, Duration::from_secs(5))
                .await
                .ok()?;
            (runs.get(DATASET_REFRESH_TASK) == Some(&1) && runs.get(TMP_CLEANUP_TASK) == Some(&1))
                .then_some(runs)
        }
    })
    .await;
    assert_eq!(runs.get(DATASET_REFRESH_TASK), Some(&1));
    assert_eq!(
        common::count(
            &app.pool,
            "SELECT count(*) FROM product WHERE code LIKE '31000000000%'"
        )
        .await,
        2
    );
    assert_eq!(server.count("GET", DUMP_PATH), 1);
    let metrics = robotoff::infra::metrics::render();
    let ok_line = metrics.lines().any(|l| {
        l.starts_with("robotoff_scheduler_runs_total")
            && l.contains("task=\"update_dataset\"")
            && l.contains("outcome=\"ok\"")
    });
    assert!(ok_line, "run counted as ok:\n{metrics}");
    app.shutdown().await;
}
