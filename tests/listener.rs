//! The update listener against a real Redis: events become durable jobs with Robotoff's
//! routing (spec pipeline §3.3–§3.4, §10.2–§10.5), positions survive restarts, and a
//! Redis outage loses nothing.

mod common;

use common::redis_server::{free_port, redis_ready, OwnRedis};
use common::{count, fresh_database, redis_url, settings, spawn_app, wait_until, xadd};
use robotoff::actors::update_listener::ListenerMsg;
use robotoff::actors::{call, UPDATE_LISTENER};
use robotoff::app::App;
use robotoff::config::{Role, Settings};
use robotoff::events::stream::{positions, StreamContext};
use serde_json::Value;
use sqlx::PgPool;
use std::process::Command;
use std::time::Duration;

fn listener_settings(db: &str, redis: &str) -> Settings {
    let mut s = settings(db);
    s.roles = vec![Role::Listener];
    s.redis.url = Some(redis.to_string().into());
    let tag = uuid::Uuid::new_v4().simple().to_string();
    s.redis.product_updates_stream = format!("product_updates_{tag}");
    s.redis.ocr_ready_stream = format!("ocr_ready_{tag}");
    s
}

async fn start_listening(s: Settings) -> App {
    let app = spawn_app(s).await;
    let name = app.services.names.of(UPDATE_LISTENER);
    wait_until(Duration::from_secs(20), "listener ready", || {
        let name = name.clone();
        async move {
            let actor = ractor::ActorRef::<ListenerMsg>::where_is(name)?;
            let status = call(&actor, ListenerMsg::Status, Duration::from_secs(2))
                .await
                .ok()?;
            status.ready.then_some(())
        }
    })
    .await;
    app
}

fn update<'a>(
    code: &'a str,
    user: &'a str,
    extra: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut f = vec![
        ("code", code),
        ("flavor", "off"),
        ("product_type", "food"),
        ("user_id", user),
        ("action", "updated"),
    ];
    f.extend_from_slice(extra);
    f
}

#[derive(Debug, sqlx::FromRow)]
struct JobRow {
    kind: String,
    barcode: Option<String>,
    server_type: Option<String>,
    priority: i16,
    payload: Value,
    delay_ms: f64,
    dedupe_key: Option<String>,
}

async fn jobs_of(pool: &PgPool) -> Vec<JobRow> {
    sqlx::query_as::<_, JobRow>(
        "SELECT kind, barcode, server_type, priority, payload,
                (EXTRACT(EPOCH FROM (run_after - created_at)) * 1000)::float8 AS delay_ms, dedupe_key
         FROM job ORDER BY id",
    )
    .fetch_all(pool)
    .await
    .expect("jobs")
}

async fn wait_for_jobs(pool: &PgPool, n: i64) {
    let pool = pool.clone();
    wait_until(Duration::from_secs(20), &format!("{n} jobs"), move || {
        let pool = pool.clone();
        async move { (count(&pool, "SELECT count(*) FROM job").await >= n).then_some(()) }
    })
    .await;
}

/// Spec pipeline §10.2–§10.5, driven by real XADDs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_routed_as_robotoff_does() {
    let redis = redis_url();
    let s = listener_settings(&fresh_database().await, &redis);
    let (updates, ocr) = (
        s.redis.product_updates_stream.clone(),
        s.redis.ocr_ready_stream.clone(),
    );
    let app = start_listening(s).await;
    let pool = app.pool.clone();

    xadd(&redis, &updates, &update("1234567890123", "test_user", &[])).await;
    xadd(&redis, &updates, &update("1234567890124", "scanbot", &[])).await;
    xadd(
        &redis,
        &updates,
        &update("1234567890125", "roboto-app", &[]),
    )
    .await;
    xadd(
        &redis,
        &updates,
        &update(
            "1234567890126",
            "someone",
            &[("comment", "[robotoff] Test update")],
        ),
    )
    .await;
    xadd(
        &redis,
        &updates,
        &update("1234567890127", "test_user", &[("action", "deleted")]),
    )
    .await;
    xadd(
        &redis,
        &updates,
        &update(
            "1234567890128",
            "test_user",
            &[("diffs", r#"{"uploaded_images": {"add": ["1"]}}"#)],
        ),
    )
    .await;
    xadd(
        &redis,
        &updates,
        &update(
            "1234567890129",
            "test_user",
            &[("diffs", r#"{"uploaded_images": {"delete": ["4"]}}"#)],
        ),
    )
    .await;
    xadd(
        &redis,
        &ocr,
        &[
            ("code", "1234567890130"),
            ("product_type", "beauty"),
            ("image_id", "4"),
            ("json_url", "x"),
        ],
    )
    .await;
    wait_for_jobs(&pool, 6).await;
    // Give a skipped event time to be (wrongly) enqueued before counting.
    let last = xadd(&redis, &updates, &update("1234567890131", "test_user", &[])).await;
    wait_for_jobs(&pool, 7).await;

    let mut jobs = jobs_of(&pool).await;
    // Bot edits are enqueued by the bulk lane: compare in barcode order.
    jobs.sort_by(|a, b| a.barcode.cmp(&b.barcode));
    let summary: Vec<(&str, &str, i16)> = jobs
        .iter()
        .map(|j| {
            (
                j.kind.as_str(),
                j.barcode.as_deref().unwrap_or(""),
                j.priority,
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("update_insights", "1234567890123", 0),
            ("update_insights", "1234567890124", 2),
            ("delete_product_insights", "1234567890127", 0),
            ("import_image", "1234567890128", 0),
            ("deleted_image", "1234567890129", 0),
            ("import_image", "1234567890130", 0),
            ("update_insights", "1234567890131", 0),
        ]
    );
    let by_code = |code: &str| {
        jobs.iter()
            .find(|j| j.barcode.as_deref() == Some(code))
            .expect("job")
    };
    let generic = by_code("1234567890123");
    assert!(
        (generic.delay_ms - 10_000.0).abs() < 50.0,
        "update waits 10 s, got {} ms",
        generic.delay_ms
    );
    assert_eq!(generic.payload["diffs"], Value::Null);
    assert_eq!(
        generic.dedupe_key.as_deref(),
        Some("update_insights:off:1234567890123")
    );
    assert!(
        by_code("1234567890127").delay_ms.abs() < 50.0,
        "deletion is immediate"
    );
    let upload = by_code("1234567890128");
    assert!(upload.delay_ms.abs() < 50.0);
    assert_eq!(upload.payload["image_id"], "1");
    assert_eq!(
        upload.payload["exclude_flags"].as_array().map(Vec::len),
        Some(5)
    );
    assert!((by_code("1234567890129").delay_ms - 10_000.0).abs() < 50.0);
    assert_eq!(by_code("1234567890129").payload["image_id"], "4");
    let ocr_job = by_code("1234567890130");
    assert_eq!(ocr_job.server_type.as_deref(), Some("obf"));
    assert_eq!(
        ocr_job.payload["include_flags"].as_array().map(Vec::len),
        Some(5)
    );

    let positions = positions(&stream_context(&app)).await.expect("positions");
    assert_eq!(
        positions.get(&updates),
        Some(&last),
        "one position per stream"
    );
    assert!(positions.contains_key(&ocr));
    app.shutdown().await;
}

/// Several updates of one product inside the 10 s wait become one job.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_inside_the_wait_collapse_into_one_job() {
    let redis = redis_url();
    let s = listener_settings(&fresh_database().await, &redis);
    let updates = s.redis.product_updates_stream.clone();
    let app = start_listening(s).await;
    for diffs in [
        r#"{"fields": {"change": ["labels"]}}"#,
        r#"{"fields": {"change": ["product_name"]}}"#,
    ] {
        xadd(
            &redis,
            &updates,
            &update("3000000000001", "u", &[("diffs", diffs)]),
        )
        .await;
    }
    xadd(&redis, &updates, &update("3000000000002", "u", &[])).await;
    wait_for_jobs(&app.pool, 2).await;
    let marker = xadd(&redis, &updates, &update("3000000000003", "u", &[])).await;
    wait_for_jobs(&app.pool, 3).await;
    let _ = marker;
    assert_eq!(
        count(
            &app.pool,
            "SELECT count(*) FROM job WHERE barcode = '3000000000001'"
        )
        .await,
        1
    );
    let jobs = jobs_of(&app.pool).await;
    let merged = jobs
        .iter()
        .find(|j| j.barcode.as_deref() == Some("3000000000001"))
        .expect("job");
    assert_eq!(
        merged.payload["diffs"],
        Value::Null,
        "differing diffs: anything may have changed"
    );
    app.shutdown().await;
}

/// Positions are stored with the jobs: a restart reads on from where it stopped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_resumes_from_the_stored_positions() {
    let redis = redis_url();
    let db = fresh_database().await;
    let s = listener_settings(&db, &redis);
    let updates = s.redis.product_updates_stream.clone();
    let app = start_listening(s.clone()).await;
    xadd(
        &redis,
        &updates,
        &update("4000000000001", "u", &[("action", "deleted")]),
    )
    .await;
    wait_for_jobs(&app.pool, 1).await;
    app.shutdown().await;

    // Written while no listener runs.
    xadd(
        &redis,
        &updates,
        &update("4000000000002", "u", &[("action", "deleted")]),
    )
    .await;
    xadd(
        &redis,
        &updates,
        &update("4000000000003", "u", &[("action", "deleted")]),
    )
    .await;
    let app = start_listening(s).await;
    wait_for_jobs(&app.pool, 3).await;
    xadd(
        &redis,
        &updates,
        &update("4000000000004", "u", &[("action", "deleted")]),
    )
    .await;
    wait_for_jobs(&app.pool, 4).await;
    let codes: Vec<String> = sqlx::query_scalar("SELECT barcode FROM job ORDER BY id")
        .fetch_all(&app.pool)
        .await
        .expect("codes");
    assert_eq!(
        codes,
        vec![
            "4000000000001",
            "4000000000002",
            "4000000000003",
            "4000000000004"
        ]
    );
    app.shutdown().await;
}

/// Architecture invariant 5: Redis going away stalls the listener, which reconnects and
/// catches up by itself; nothing is lost or doubled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_then_catch_up() {
    let port = free_port();
    let dir = tempfile::tempdir().expect("dir");
    let redis = OwnRedis::start(dir.path(), port);
    redis_ready(&redis.url(), "own redis up").await;
    let s = listener_settings(&fresh_database().await, &redis.url());
    let updates = s.redis.product_updates_stream.clone();
    let app = start_listening(s).await;
    for i in 0..50 {
        xadd(
            &redis.url(),
            &updates,
            &update(&format!("5{i:012}"), "u", &[("action", "deleted")]),
        )
        .await;
    }
    wait_for_jobs(&app.pool, 50).await;

    drop(redis);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let redis = OwnRedis::start(dir.path(), port);
    // A restarted Redis refuses commands while it loads its saved data (BUSY LOADING).
    redis_ready(&redis.url(), "own redis back").await;
    for i in 50..100 {
        xadd(
            &redis.url(),
            &updates,
            &update(&format!("5{i:012}"), "u", &[("action", "deleted")]),
        )
        .await;
    }
    wait_for_jobs(&app.pool, 100).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(count(&app.pool, "SELECT count(*) FROM job").await, 100);
    assert_eq!(
        count(&app.pool, "SELECT count(DISTINCT barcode) FROM job").await,
        100
    );
    app.shutdown().await;
}

/// `robotoff replay-updates --since` re-reads the streams without moving the positions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_reenqueues_without_moving_positions() {
    let redis = redis_url();
    let db = fresh_database().await;
    let s = listener_settings(&db, &redis);
    let updates = s.redis.product_updates_stream.clone();
    let app = start_listening(s.clone()).await;
    let since = chrono::Utc::now().timestamp_millis() - 1000;
    xadd(
        &redis,
        &updates,
        &update("6000000000001", "u", &[("action", "deleted")]),
    )
    .await;
    xadd(
        &redis,
        &updates,
        &update("6000000000002", "u", &[("action", "deleted")]),
    )
    .await;
    wait_for_jobs(&app.pool, 2).await;
    let before = positions(&stream_context(&app)).await.expect("positions");
    app.shutdown().await;

    let out = Command::new(env!("CARGO_BIN_EXE_robotoff"))
        .args(["replay-updates", "--since", &since.to_string()])
        .env("ROBOTOFF__DATABASE__URL", &db)
        .env("ROBOTOFF__REDIS__URL", &redis)
        .env("ROBOTOFF__REDIS__PRODUCT_UPDATES_STREAM", &updates)
        .env(
            "ROBOTOFF__REDIS__OCR_READY_STREAM",
            &s.redis.ocr_ready_stream,
        )
        .env("ROBOTOFF__LOG__LEVEL", "warn")
        .output()
        .expect("replay");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("2 events read, 2 jobs enqueued"));
    let pool = PgPool::connect(&db).await.expect("pool");
    assert_eq!(count(&pool, "SELECT count(*) FROM job").await, 4);
    let streams = StreamContext {
        settings: std::sync::Arc::new(s),
        pool: pool.clone(),
        fence: None,
    };
    let after = positions(&streams).await.expect("positions");
    assert_eq!(before, after);

    let bad = Command::new(env!("CARGO_BIN_EXE_robotoff"))
        .args(["replay-updates", "--since", "last tuesday"])
        .env("ROBOTOFF__DATABASE__URL", &db)
        .env("ROBOTOFF__REDIS__URL", &redis)
        .output()
        .expect("replay");
    assert_eq!(bad.status.code(), Some(2));
}

/// Bot edits are read by the bulk lane and user edits by the interactive lane: each
/// event becomes exactly one job, and each lane keeps its own position.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bot_burst_and_user_events_each_enqueued_once() {
    let redis = redis_url();
    let s = listener_settings(&fresh_database().await, &redis);
    let updates = s.redis.product_updates_stream.clone();
    let app = start_listening(s).await;
    let client = redis::Client::open(redis.as_str()).expect("redis url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("redis connection");
    let mut pipe = redis::pipe();
    for i in 0..2000 {
        pipe.cmd("XADD")
            .arg(&updates)
            .arg("*")
            .arg("code")
            .arg(format!("8{i:012}"))
            .arg("product_type")
            .arg("food")
            .arg("user_id")
            .arg("update_all_products")
            .arg("action")
            .arg("deleted")
            .ignore();
    }
    let _: () = pipe.query_async(&mut conn).await.expect("burst");
    let user = xadd(
        &redis,
        &updates,
        &update("9000000000001", "someone", &[("action", "deleted")]),
    )
    .await;
    wait_for_jobs(&app.pool, 2001).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(count(&app.pool, "SELECT count(*) FROM job").await, 2001);
    assert_eq!(
        count(&app.pool, "SELECT count(*) FROM job WHERE priority = 2").await,
        2000
    );
    assert_eq!(
        count(&app.pool, "SELECT count(*) FROM job WHERE priority = 0").await,
        1
    );
    let positions = positions(&stream_context(&app)).await.expect("positions");
    assert_eq!(positions.get(&updates), Some(&user));
    let bulk: Option<String> =
        sqlx::query_scalar("SELECT last_id FROM stream_offset WHERE stream = $1")
            .bind(format!("{updates}#bulk"))
            .fetch_optional(&app.pool)
            .await
            .expect("bulk position");
    assert_eq!(
        bulk.as_ref(),
        Some(&user),
        "the bulk lane read up to the last entry too"
    );
    let event_ids = count(
        &app.pool,
        "SELECT count(*) FROM job WHERE payload ? 'event_id'",
    )
    .await;
    assert_eq!(
        event_ids, 2001,
        "every job names the stream entry it came from"
    );
    app.shutdown().await;
}

/// Events PostgreSQL cannot store (a NUL character in the barcode or in the diffs, a
/// barcode over 100 characters) are invalid events: skipped and counted, never a
/// listener stuck on them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_postgresql_cannot_hold_are_skipped() {
    let redis = redis_url();
    let db = fresh_database().await;
    let s = listener_settings(&db, &redis);
    let updates = s.redis.product_updates_stream.clone();
    let app = start_listening(s).await;
    xadd(
        &redis,
        &updates,
        &update("40000\u{0}00001", "u", &[("action", "deleted")]),
    )
    .await;
    xadd(
        &redis,
        &updates,
        &update(
            "4000000000002",
            "u",
            &[("diffs", r#"{"fields": {"change": ["a\u0000b"]}}"#)],
        ),
    )
    .await;
    xadd(
        &redis,
        &updates,
        &update(
            "4000000000003",
            "update_all_products",
            &[("diffs", r#"{"x": "\u0000"}"#)],
        ),
    )
    .await;
    let long = "4".repeat(101);
    xadd(
        &redis,
        &updates,
        &update(&long, "u", &[("action", "deleted")]),
    )
    .await;
    xadd(
        &redis,
        &updates,
        &update("4000000000004", "u", &[("action", "deleted")]),
    )
    .await;
    xadd(
        &redis,
        &updates,
        &update(
            "4000000000005",
            "update_all_products",
            &[("action", "deleted")],
        ),
    )
    .await;
    wait_for_jobs(&app.pool, 2).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let codes: Vec<String> = sqlx::query_scalar("SELECT barcode FROM job ORDER BY barcode")
        .fetch_all(&app.pool)
        .await
        .expect("codes");
    assert_eq!(codes, vec!["4000000000004", "4000000000005"]);
    app.shutdown().await;
}

fn stream_context(app: &App) -> StreamContext {
    StreamContext {
        settings: app.services.settings.clone(),
        pool: app.pool.clone(),
        fence: None,
    }
}

/// A lane that only skips entries (the user lane reading a bot burst) still stores its
/// position within about a second, so a restart does not read the burst again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_skipping_lane_stores_its_position_every_second() {
    let redis = redis_url();
    let s = listener_settings(&fresh_database().await, &redis);
    let updates = s.redis.product_updates_stream.clone();
    let app = start_listening(s).await;
    let ctx = stream_context(&app);
    let start = positions(&ctx).await.expect("positions");
    let mut last = String::new();
    for i in 0..20 {
        last = xadd(
            &redis,
            &updates,
            &update(&format!("9{i:012}"), "scanbot", &[]),
        )
        .await;
    }
    let stored = wait_until(Duration::from_secs(10), "the user lane's position", || {
        let ctx = stream_context(&app);
        let updates = updates.clone();
        let last = last.clone();
        async move {
            let p = positions(&ctx).await.ok()?;
            (p.get(&updates) == Some(&last)).then_some(p)
        }
    })
    .await;
    assert_ne!(start.get(&updates), stored.get(&updates));
    app.shutdown().await;
}
