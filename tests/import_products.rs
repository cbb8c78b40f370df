//! `robotoff import-products`: a small dump (plain and gzip, with bad lines) loaded into
//! the product store, through the library and through the binary.

mod common;

use flate2::write::GzEncoder;
use flate2::Compression;
use robotoff::infra::db::products;
use robotoff::product_store::import::{import, ImportOptions, ImportSummary};
use robotoff::types::ServerType;
use sqlx::PgPool;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::Command;

const DUMP: &str = r#"{"code": "3456300016208", "product_type": "food", "lang": "fr", "product_name": "Biscuits", "categories_tags": ["en:biscuits"], "emb_codes": "EMB 1", "images": {"uploaded": {"1": {"sizes": {"full": {"w": 1000, "h": 2000, "url": "u"}}, "uploaded_t": 1, "uploader": "a"}}, "selected": {"front": {"fr": {"imgid": "1", "rev": "2", "sizes": {}}}}}, "ingredients": [{"id": "en:flour"}]}
{"code": "0000000000017", "product_type": "beauty", "product_name": "Shampoo"}
this is not JSON
{"code": "3456300016208", "product_type": "food", "product_name": "Biscuits v2", "quantity": 250}

{"product_type": "food", "product_name": "no code"}
{"code": "123", "product_type": "cars"}
{"code": "999", "product_type": "petfood", "languages_codes": {"en": 2}, "labels_tags": null}
"#;

fn write_plain(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("products.jsonl");
    std::fs::write(&path, DUMP).expect("write dump");
    path
}

fn write_gz(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("products.jsonl.gz");
    let file = std::fs::File::create(&path).expect("create dump");
    let mut gz = GzEncoder::new(file, Compression::default());
    gz.write_all(DUMP.as_bytes()).expect("compress");
    gz.finish().expect("finish");
    path
}

fn options(server_type: Option<ServerType>) -> ImportOptions {
    ImportOptions {
        server_type,
        batch_size: 2,
        writers: 2,
        parsers: 2,
    }
}

fn expected_summary() -> ImportSummary {
    ImportSummary {
        read: 7,
        imported: 4,
        skipped: BTreeMap::from([
            ("invalid JSON", 1),
            ("missing code", 1),
            ("unknown product_type", 1),
        ]),
    }
}

async fn check_store(pool: &PgPool) {
    let mut conn = pool.acquire().await.expect("conn");
    let biscuits = products::get(&mut conn, "3456300016208", ServerType::Off)
        .await
        .expect("get")
        .expect("stored");
    // The later line of the same product wins.
    assert_eq!(biscuits.product_name.as_deref(), Some("Biscuits v2"));
    assert_eq!(biscuits.quantity.as_deref(), Some("250"));
    let shampoo = products::get(&mut conn, "0000000000017", ServerType::Obf)
        .await
        .expect("get");
    assert_eq!(
        shampoo.and_then(|p| p.product_name),
        Some("Shampoo".to_string())
    );
    let pet = products::get(&mut conn, "999", ServerType::Opff)
        .await
        .expect("get")
        .expect("stored");
    assert_eq!(pet.languages_codes, vec!["en".to_string()]);
    assert_eq!(common::count(pool, "SELECT count(*) FROM product").await, 3);
}

#[tokio::test]
async fn plain_and_gzip_dumps_with_bad_lines() {
    let dir = tempfile::tempdir().expect("tempdir");
    for path in [write_plain(dir.path()), write_gz(dir.path())] {
        let pool = PgPool::connect(&common::fresh_database().await)
            .await
            .expect("pool");
        let file = std::fs::File::open(&path).expect("open");
        let summary = import(&pool, file, &options(None), &|_| {})
            .await
            .expect("import");
        assert_eq!(summary, expected_summary(), "{}", path.display());
        assert_eq!(
            summary.to_string(),
            "7 line(s) read, 4 product(s) imported, 3 skipped (invalid JSON: 1, missing code: 1, unknown product_type: 1)"
        );
        check_store(&pool).await;
        pool.close().await;
    }
}

#[tokio::test]
async fn images_are_stored_in_the_flat_schema() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pool = PgPool::connect(&common::fresh_database().await)
        .await
        .expect("pool");
    let path = dir.path().join("one.jsonl");
    std::fs::write(
        &path,
        r#"{"code": "1", "emb_codes": "EMB 1", "images": {"uploaded": {"1": {"sizes": {"full": {"w": 10, "h": 20, "url": "u"}}, "uploaded_t": 1, "uploader": "a"}}, "selected": {"front": {"fr": {"imgid": "1", "rev": "2", "sizes": {}, "generation": {"angle": "90"}}}}}}"#,
    )
    .expect("write");
    import(
        &pool,
        std::fs::File::open(&path).expect("open"),
        &options(None),
        &|_| {},
    )
    .await
    .expect("import");
    let mut conn = pool.acquire().await.expect("conn");
    let p = products::get(&mut conn, "1", ServerType::Off)
        .await
        .expect("get")
        .expect("stored");
    assert_eq!(p.image_size("1"), Some((10, 20)));
    assert_eq!(
        p.images.get("front_fr"),
        Some(&serde_json::json!({"imgid": "1", "rev": "2", "sizes": {}, "angle": "90"}))
    );
    assert_eq!(p.emb_codes.as_deref(), Some("EMB 1"));
}

#[tokio::test]
async fn a_forced_server_type_files_every_line_under_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pool = PgPool::connect(&common::fresh_database().await)
        .await
        .expect("pool");
    let file = std::fs::File::open(write_plain(dir.path())).expect("open");
    let summary = import(&pool, file, &options(Some(ServerType::Obf)), &|_| {})
        .await
        .expect("import");
    assert_eq!(summary.imported, 5, "{summary}");
    assert_eq!(summary.skipped.get("unknown product_type"), None);
    assert_eq!(
        common::count(
            &pool,
            "SELECT count(*) FROM product WHERE server_type = 'obf'"
        )
        .await,
        4
    );
}

fn robotoff(db: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_robotoff"));
    cmd.env("ROBOTOFF__DATABASE__URL", db)
        .env("ROBOTOFF__LOG__LEVEL", "warn")
        .env_remove("RUST_LOG");
    cmd
}

#[tokio::test]
async fn the_command_prints_a_summary() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = common::fresh_database().await;
    let gz = write_gz(dir.path());
    let out = robotoff(&db)
        .args(["import-products", "--quiet"])
        .arg(&gz)
        .output()
        .expect("run robotoff");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.starts_with(
            "7 line(s) read, 4 product(s) imported, 3 skipped (invalid JSON: 1, missing code: 1, unknown product_type: 1) in "
        ),
        "{stdout}"
    );
    assert!(stdout.contains("products/s, peak RSS "), "{stdout}");
    let pool = PgPool::connect(&db).await.expect("pool");
    check_store(&pool).await;

    let missing = dir.path().join("nope.jsonl");
    let out = robotoff(&db)
        .arg("import-products")
        .arg(&missing)
        .output()
        .expect("run robotoff");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot open") && stderr.contains("nope.jsonl"),
        "{stderr}"
    );

    let out = robotoff(&db)
        .args(["import-products", "--server-type", "moon"])
        .arg(&gz)
        .output()
        .expect("run robotoff");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("moon"));
}
