//! Test support: a fresh database per test (cloned from a migrated template), settings
//! pointing at it, the app on port 0, bounded waiting.
#![allow(dead_code)]

pub mod dump;
pub mod po;
pub mod redis_server;
pub mod stream_events;

use robotoff::app::App;
use robotoff::config::{Overrides, Settings};
use sqlx::{Connection, PgConnection, PgPool};
use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Admin URL of the PostgreSQL server the test script started.
pub fn admin_url() -> String {
    std::env::var("ROBOTOFF_TEST_DATABASE_URL")
        .expect("ROBOTOFF_TEST_DATABASE_URL is not set: run the tests with scripts/test")
}

/// Appends an entry of `fields` to `stream`; returns its id.
pub async fn xadd(redis: &str, stream: &str, fields: &[(&str, &str)]) -> String {
    let client = redis::Client::open(redis).expect("redis url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("redis connection");
    let mut cmd = redis::cmd("XADD");
    cmd.arg(stream).arg("*");
    for (k, v) in fields {
        cmd.arg(*k).arg(*v);
    }
    cmd.query_async::<String>(&mut conn).await.expect("XADD")
}

pub fn redis_url() -> String {
    std::env::var("ROBOTOFF_TEST_REDIS_URL")
        .expect("ROBOTOFF_TEST_REDIS_URL is not set: run the tests with scripts/test")
}

fn url_for(db: &str) -> String {
    let admin = admin_url();
    match admin.rfind('/') {
        Some(i) => format!("{}/{db}", &admin[..i]),
        None => panic!("admin URL has no database part: {admin}"),
    }
}

/// Name of the template database: changes whenever a migration changes.
fn template_name() -> String {
    let mut h: u64 = 1469598103934665603;
    for m in robotoff::infra::db::MIGRATOR.iter() {
        for b in m.checksum.iter() {
            h = (h ^ u64::from(*b)).wrapping_mul(1099511628211);
        }
    }
    format!("robotoff_tpl_{:016x}", h)
}

/// A fresh, migrated database; returns its URL.
pub async fn fresh_database() -> String {
    let mut admin = PgConnection::connect(&admin_url())
        .await
        .expect("connect to the test PostgreSQL");
    let template = template_name();
    // Serialise template creation across test processes.
    sqlx::query("SELECT pg_advisory_lock(4242)")
        .execute(&mut admin)
        .await
        .expect("lock");
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&template)
            .fetch_one(&mut admin)
            .await
            .expect("query");
    if !exists {
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {template}")))
            .execute(&mut admin)
            .await
            .expect("create template");
        let pool = PgPool::connect(&url_for(&template))
            .await
            .expect("connect template");
        robotoff::infra::db::migrate(&pool)
            .await
            .expect("migrate template");
        pool.close().await;
    }
    sqlx::query("SELECT pg_advisory_unlock(4242)")
        .execute(&mut admin)
        .await
        .expect("unlock");
    let name = format!("robotoff_t_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE DATABASE {name} TEMPLATE {template}"
    )))
    .execute(&mut admin)
    .await
    .expect("create test database");
    url_for(&name)
}

pub fn shared_data_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data"))
}

/// Settings for a test node on `database_url`: port 0, fast retries, short polling.
pub fn settings(database_url: &str) -> Settings {
    let mut o = Overrides::default();
    o.set("http.addr", "127.0.0.1:0");
    o.set("database.url", database_url);
    o.set("database.max_connections", 10);
    o.set("data.dir", shared_data_dir().display().to_string());
    o.set("workers.retry_base_secs", 0);
    o.set("workers.retry_max_secs", 1);
    o.set("workers.poll_interval_ms", 200);
    o.set("log.level", "warn");
    // Product Opener cannot run here: tests that exercise the refresh point the
    // flavor's api_url at a local stand-in and turn it on.
    o.set("product_opener.refresh_products", false);
    // Test nodes never download the real product dump.
    o.set("scheduler.dataset_url", "");
    // Each node saves its logo index in a directory of its own.
    let index_dir = std::env::temp_dir().join(format!(
        "robotoff-test-index-{}",
        uuid::Uuid::new_v4().simple()
    ));
    o.set("index.dir", index_dir.display().to_string());
    o.set("index.sync_interval_ms", 100);
    Settings::load_with_env(None, &o, Vec::new()).expect("test settings")
}

pub async fn spawn_app(settings: Settings) -> App {
    App::build(settings).await.expect("app starts")
}

/// Polls `check` until it returns `Some`, for at most `limit`.
pub async fn wait_until<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if start.elapsed() > limit {
            panic!("timed out after {limit:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(pool)
        .await
        .expect("count query")
}

/// Waits (at most 30 s) until `sql`, a `count(*)` query, answers `want`.
pub async fn wait_for_count(pool: &PgPool, sql: &str, want: i64, what: &str) {
    wait_until(Duration::from_secs(30), what, || async {
        (count(pool, sql).await == want).then_some(())
    })
    .await
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("http client")
}

/// Sets the modification time of `path`.
pub fn set_mtime(path: &std::path::Path, t: std::time::SystemTime) {
    std::fs::File::open(path)
        .and_then(|f| f.set_modified(t))
        .expect("set mtime");
}

/// The modification time of `path`.
pub fn mtime(path: &std::path::Path) -> std::time::SystemTime {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .expect("mtime")
}

/// Inserts an open category question (`en:seeds`) for `barcode`; returns its id.
pub async fn insert_category_insight<'e>(
    db: impl sqlx::PgExecutor<'e>,
    barcode: &str,
) -> uuid::Uuid {
    let id = uuid::Uuid::new_v4();
    sqlx::query(
        r#"INSERT INTO product_insight (id, barcode, type, data, timestamp, n_votes, value_tag,
             automatic_processing, server_type, reserved_barcode, countries, brands, campaign)
         VALUES ($1, $2, 'category', '{}', now(), 0, 'en:seeds', false, 'off', false,
             '["en:france"]', '[]', '[]')"#,
    )
    .bind(id)
    .bind(barcode)
    .execute(db)
    .await
    .expect("insight");
    id
}
