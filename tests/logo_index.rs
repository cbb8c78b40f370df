//! The logo index against a real PostgreSQL: it holds exactly the embedded logos, each
//! under its flavor, after additions, deletions and moves, across restarts, after a crash
//! that lost the last save, and when its files are gone, damaged or too old for the
//! change log (spec pipeline §2.9, §6.4).

mod common;

use rand::{Rng, SeedableRng};
use robotoff::actors::logo_index::{IndexStats, LogoIndexMsg};
use robotoff::actors::LOGO_INDEX;
use robotoff::app::App;
use robotoff::types::ServerType;
use sqlx::PgPool;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

const CALL: Duration = Duration::from_secs(30);

/// A unit vector near the centre of cluster `cluster`.
fn embedding(cluster: u64, seed: u64) -> Vec<f32> {
    let mut centre = rand::rngs::StdRng::seed_from_u64(cluster);
    let mut noise = rand::rngs::StdRng::seed_from_u64(seed.wrapping_mul(7919) ^ 0xabc);
    let v: Vec<f32> = (0..512)
        .map(|_| centre.random_range(-1.0f32..1.0) + noise.random_range(-0.2f32..0.2))
        .collect();
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter().map(|x| x / n).collect()
}

fn bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Inserts a logo of `flavor` with an embedding; returns its id.
async fn add_logo(pool: &PgPool, flavor: &str, cluster: u64, seed: u64) -> i32 {
    add_logo_full(pool, flavor, cluster, seed).await.0
}

/// Inserts a logo of `flavor` with an embedding; returns its id and its image
/// prediction's.
async fn add_logo_full(pool: &PgPool, flavor: &str, cluster: u64, seed: u64) -> (i32, i32) {
    let image: i32 = sqlx::query_scalar(
        "INSERT INTO image (barcode, uploaded_at, image_id, source_image, width, height, deleted, server_type)
         VALUES ('3000000000017', now(), $1, '/300/000/000/0017/' || $1 || '.jpg', 100, 100, false, $2)
         RETURNING id",
    )
    .bind(format!("{seed}"))
    .bind(flavor)
    .fetch_one(pool)
    .await
    .expect("image");
    let ip: i32 = sqlx::query_scalar(
        "INSERT INTO image_prediction (type, model_name, model_version, data, timestamp, image_id, max_confidence)
         VALUES ('object_detection', 'universal_logo_detector', 'v1', '{\"objects\": []}', now(), $1, 0.9)
         RETURNING id",
    )
    .bind(image)
    .fetch_one(pool)
    .await
    .expect("image prediction");
    let logo: i32 = sqlx::query_scalar(
        "INSERT INTO logo_annotation (image_prediction_id, index, bounding_box, score, barcode, source_image, server_type)
         VALUES ($1, 0, '[0.1, 0.1, 0.5, 0.5]', 0.8, '3000000000017', '/x.jpg', $2) RETURNING id",
    )
    .bind(ip)
    .bind(flavor)
    .fetch_one(pool)
    .await
    .expect("logo");
    sqlx::query("INSERT INTO embedding.logo_embedding (logo_id, embedding) VALUES ($1, $2)")
        .bind(logo)
        .bind(bytes(&embedding(cluster, seed)))
        .execute(pool)
        .await
        .expect("embedding");
    (logo, ip)
}

/// The embedded logos and their flavors, as PostgreSQL has them.
async fn truth(pool: &PgPool) -> BTreeMap<i32, String> {
    let rows: Vec<(i32, String)> = sqlx::query_as(
        "SELECT e.logo_id, l.server_type FROM embedding.logo_embedding e
         JOIN logo_annotation l ON l.id = e.logo_id",
    )
    .fetch_all(pool)
    .await
    .expect("truth");
    rows.into_iter().collect()
}

fn index_of(app: &App) -> ractor::ActorRef<LogoIndexMsg> {
    let names = &app.services.names;
    names
        .lookup::<LogoIndexMsg>(&names.of(LOGO_INDEX))
        .expect("logo index running")
}

async fn stats(app: &App) -> IndexStats {
    robotoff::actors::call(&index_of(app), LogoIndexMsg::Stats, CALL)
        .await
        .expect("stats")
}

async fn sync(app: &App) {
    robotoff::actors::call(&index_of(app), |r| LogoIndexMsg::Sync(Some(r)), CALL)
        .await
        .expect("answer")
        .expect("catch-up");
}

async fn search(
    app: &App,
    query: Vec<f32>,
    k: usize,
    flavor: Option<ServerType>,
) -> Vec<(i64, f32)> {
    robotoff::actors::call(
        &index_of(app),
        |reply| LogoIndexMsg::Search {
            query,
            k,
            server_type: flavor,
            exclude: None,
            reply,
        },
        CALL,
    )
    .await
    .expect("answer")
    .expect("search")
    .into_iter()
    .map(|n| (n.logo_id, n.distance))
    .collect()
}

async fn ready(app: &App) -> IndexStats {
    common::wait_until(Duration::from_secs(60), "the logo index", || async {
        let s = stats(app).await;
        s.ready.then_some(s)
    })
    .await
}

/// Asserts that the index holds exactly PostgreSQL's embedded logos, each found under
/// its own flavor by its own vector.
async fn assert_in_step(app: &App, pool: &PgPool) {
    sync(app).await;
    let want = truth(pool).await;
    let s = stats(app).await;
    assert_eq!(s.vectors, want.len(), "{s:?}");
    let index = index_of(app);
    for (id, flavor) in &want {
        let v = robotoff::actors::call(&index, |r| LogoIndexMsg::Vector(i64::from(*id), r), CALL)
            .await
            .expect("vector");
        let v = v.unwrap_or_else(|| panic!("logo {id} missing from the index"));
        let st: ServerType = flavor.parse().expect("flavor");
        let found = search(app, v, 1, Some(st)).await;
        assert_eq!(
            found.first().map(|f| f.0),
            Some(i64::from(*id)),
            "logo {id} under {flavor}"
        );
    }
}

/// Starts a node on the environment's database and index files, waits for its index,
/// checks that it holds exactly PostgreSQL's logos, stops it, and says how the index was
/// obtained (`loaded`, `rebuilt: <why>`).
async fn restart_in_step(e: &Env) -> String {
    let app = common::spawn_app(settings_in(&e.db, &e.dir)).await;
    let opened = ready(&app).await.opened;
    assert_in_step(&app, &e.pool).await;
    app.shutdown().await;
    opened
}

fn settings_in(db: &str, dir: &Path) -> robotoff::config::Settings {
    let mut s = common::settings(db);
    s.index.dir = dir.to_path_buf();
    s.index.quantization = "f32".into();
    s
}

struct Env {
    db: String,
    dir: PathBuf,
    pool: PgPool,
    _tmp: tempfile::TempDir,
}

async fn env() -> Env {
    let db = common::fresh_database().await;
    let pool = PgPool::connect(&db).await.expect("pool");
    let tmp = tempfile::tempdir().expect("tmp");
    Env {
        db,
        dir: tmp.path().join("index"),
        pool,
        _tmp: tmp,
    }
}

/// Spec pipeline §2.9, §6.4: additions, deletions (a logo row, an embedding row), a
/// logo moved to another flavor; kNN equals the brute force over the stored vectors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_index_follows_additions_deletions_and_moves() {
    let e = env().await;
    let mut ids = Vec::new();
    for i in 0..20u64 {
        ids.push(add_logo(&e.pool, "off", i % 4, i).await);
    }
    let app = common::spawn_app(settings_in(&e.db, &e.dir)).await;
    let s = ready(&app).await;
    assert_eq!(s.opened, "rebuilt: no saved index");
    assert_in_step(&app, &e.pool).await;

    // While it runs: more logos, some on another flavor.
    for i in 20..40u64 {
        let flavor = if i % 2 == 0 { "obf" } else { "off" };
        ids.push(add_logo(&e.pool, flavor, i % 4, i).await);
    }
    assert_in_step(&app, &e.pool).await;
    let obf = search(&app, embedding(0, 20), 40, Some(ServerType::Obf)).await;
    assert_eq!(obf.len(), 10, "{obf:?}");
    assert_eq!(obf[0].0, i64::from(ids[20]));
    assert!(obf[0].1.abs() < 1e-5);
    let all = search(&app, embedding(0, 20), 100, None).await;
    assert_eq!(all.len(), 40);
    // Distances in Robotoff's scale: (1 − cosine) / 2, nearest first.
    assert!(all.windows(2).all(|w| w[0].1 <= w[1].1));
    assert!(all.iter().all(|(_, d)| (0.0..=1.0).contains(d)));

    // Deletions: a logo row (its embedding goes by cascade), an embedding alone.
    sqlx::query("DELETE FROM logo_annotation WHERE id = ANY($1)")
        .bind(&ids[0..3])
        .execute(&e.pool)
        .await
        .expect("delete logos");
    sqlx::query("DELETE FROM embedding.logo_embedding WHERE logo_id = $1")
        .bind(ids[5])
        .execute(&e.pool)
        .await
        .expect("delete embedding");
    // A move: the logo is found under its new flavor only.
    sqlx::query("UPDATE logo_annotation SET server_type = 'opff' WHERE id = $1")
        .bind(ids[7])
        .execute(&e.pool)
        .await
        .expect("move");
    assert_in_step(&app, &e.pool).await;
    let off = search(&app, embedding(3, 7), 100, Some(ServerType::Off)).await;
    assert!(off.iter().all(|(id, _)| *id != i64::from(ids[7])));
    let opff = search(&app, embedding(3, 7), 100, Some(ServerType::Opff)).await;
    assert_eq!(
        opff.iter().map(|f| f.0).collect::<Vec<_>>(),
        vec![i64::from(ids[7])]
    );
    app.shutdown().await;
}

/// A restart opens the saved index (no rebuild) and catches up with what changed while
/// the node was down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_loads_the_saved_index_and_catches_up() {
    let e = env().await;
    for i in 0..15u64 {
        add_logo(&e.pool, "off", i % 3, i).await;
    }
    let app = common::spawn_app(settings_in(&e.db, &e.dir)).await;
    ready(&app).await;
    app.shutdown().await;
    assert!(e.dir.join("manifest.json").exists());
    // While down: additions and a deletion.
    for i in 15..25u64 {
        add_logo(&e.pool, "obf", i % 3, i).await;
    }
    sqlx::query("DELETE FROM logo_annotation WHERE id = (SELECT min(id) FROM logo_annotation)")
        .execute(&e.pool)
        .await
        .expect("delete");
    assert_eq!(restart_in_step(&e).await, "loaded");
}

/// A crash after database commits the index had applied but not saved: the files on disk
/// are those of the last save; the next start catches up from its manifest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_that_lost_the_last_save_loses_nothing() {
    let e = env().await;
    for i in 0..10u64 {
        add_logo(&e.pool, "off", i % 2, i).await;
    }
    let app = common::spawn_app(settings_in(&e.db, &e.dir)).await;
    ready(&app).await;
    robotoff::actors::call(&index_of(&app), LogoIndexMsg::Save, CALL)
        .await
        .expect("answer")
        .expect("save");
    let saved = tempfile::tempdir().expect("tmp");
    copy_files(&e.dir, saved.path());
    // Applied in memory, never saved.
    for i in 10..30u64 {
        add_logo(&e.pool, "off", i % 2, i).await;
    }
    sqlx::query("DELETE FROM logo_annotation WHERE id IN (SELECT id FROM logo_annotation ORDER BY id LIMIT 4)")
        .execute(&e.pool)
        .await
        .expect("delete");
    sync(&app).await;
    app.shutdown().await;
    // The disk as the crash left it.
    std::fs::remove_dir_all(&e.dir).expect("rm");
    copy_files(saved.path(), &e.dir);
    assert_eq!(restart_in_step(&e).await, "loaded");
}

/// `kill -9` of a real `robotoff` process while it catches up with a stream of logo
/// changes and saves every second, then more changes while it is down: the restarted
/// node opens the files the crash left (never a half-written set), catches up, and
/// holds exactly PostgreSQL's logos.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_while_catching_up_and_saving_loses_nothing() {
    let e = env().await;
    let mut ids = Vec::new();
    for i in 0..60u64 {
        ids.push(add_logo(&e.pool, "off", i % 3, i).await);
    }
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_robotoff"));
    for (key, _) in std::env::vars() {
        if key.starts_with("ROBOTOFF__") {
            cmd.env_remove(key);
        }
    }
    let mut child = cmd
        .args(["serve", "--roles", "workers"])
        .env("ROBOTOFF__DATABASE__URL", &e.db)
        .env("ROBOTOFF__INDEX__DIR", &e.dir)
        .env("ROBOTOFF__INDEX__QUANTIZATION", "f32")
        .env("ROBOTOFF__INDEX__SYNC_INTERVAL_MS", "20")
        .env("ROBOTOFF__INDEX__SAVE_INTERVAL_SECS", "1")
        .env("ROBOTOFF__DATA__DIR", common::shared_data_dir())
        .env("ROBOTOFF__LOG__LEVEL", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn robotoff serve");
    let manifest = e.dir.join("manifest.json");
    common::wait_until(Duration::from_secs(60), "a first save", || async {
        manifest.exists().then_some(())
    })
    .await;
    // A stream of additions, deletions and moves; the process dies in the middle of it.
    for round in 0..26u64 {
        churn(&e.pool, &mut ids, round).await;
    }
    child.kill().expect("kill -9");
    child.wait().expect("reap");
    for round in 26..40u64 {
        churn(&e.pool, &mut ids, round).await;
    }
    assert_eq!(restart_in_step(&e).await, "loaded");
}

/// One round of logo changes: eight new logos (two on another flavor), the oldest
/// remaining one deleted, a recent one moved to another flavor.
async fn churn(pool: &PgPool, ids: &mut Vec<i32>, round: u64) {
    for j in 0..8u64 {
        let flavor = if j % 4 == 0 { "obf" } else { "off" };
        ids.push(add_logo(pool, flavor, j % 3, 100 + round * 8 + j).await);
    }
    sqlx::query("DELETE FROM logo_annotation WHERE id = $1")
        .bind(ids[round as usize])
        .execute(pool)
        .await
        .expect("delete");
    sqlx::query("UPDATE logo_annotation SET server_type = 'opff' WHERE id = $1")
        .bind(ids[ids.len() - 3])
        .execute(pool)
        .await
        .expect("move");
    tokio::time::sleep(Duration::from_millis(40)).await;
}

/// No files, damaged files, other parameters or a change log that no longer reaches back
/// to the saved index: rebuilt from PostgreSQL, never a crash.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_damaged_or_stale_files_are_rebuilt() {
    let e = env().await;
    for i in 0..12u64 {
        add_logo(&e.pool, if i % 3 == 0 { "opf" } else { "off" }, i % 3, i).await;
    }
    let app = common::spawn_app(settings_in(&e.db, &e.dir)).await;
    ready(&app).await;
    app.shutdown().await;

    // Deleted directory.
    std::fs::remove_dir_all(&e.dir).expect("rm");
    assert_eq!(restart_in_step(&e).await, "rebuilt: no saved index");

    // A flipped byte in the index file.
    let path = e.dir.join(index_file(&e.dir));
    let mut b = std::fs::read(&path).expect("read");
    let mid = b.len() / 2;
    b[mid] ^= 0xff;
    std::fs::write(&path, &b).expect("write");
    let opened = restart_in_step(&e).await;
    assert!(
        opened.starts_with("rebuilt: the saved index does not match"),
        "{opened}"
    );

    // Garbage instead of the index file, with a manifest that matches it.
    std::fs::write(&path, b"not an index at all").expect("write");
    let mut m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(e.dir.join("manifest.json")).expect("manifest"))
            .expect("json");
    for f in m["files"].as_array_mut().expect("files") {
        if f["flavor"] == "off" {
            f["len"] = 19.into();
            f["crc32"] = crc32fast::hash(b"not an index at all").into();
        }
    }
    std::fs::write(e.dir.join("manifest.json"), m.to_string()).expect("manifest");
    let opened = restart_in_step(&e).await;
    assert!(opened.starts_with("rebuilt:"), "{opened}");

    // The change log was pruned past the saved index.
    sqlx::query("UPDATE embedding.logo_index_horizon SET pruned_below = 9223372036854775000")
        .execute(&e.pool)
        .await
        .expect("prune");
    let opened = restart_in_step(&e).await;
    assert!(opened.contains("older than the change log"), "{opened}");

    // Other parameters.
    let mut other = settings_in(&e.db, &e.dir);
    other.index.quantization = "i8".into();
    let app = common::spawn_app(other).await;
    let s = ready(&app).await;
    assert_eq!(
        s.opened,
        "rebuilt: the saved index was built with other parameters"
    );
    app.shutdown().await;
}

fn cli(e: &Env, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_robotoff"))
        .args(args)
        .env("ROBOTOFF__DATABASE__URL", &e.db)
        .env("ROBOTOFF__INDEX__DIR", &e.dir)
        .env("ROBOTOFF__INDEX__QUANTIZATION", "f32")
        .env("ROBOTOFF__DATA__DIR", common::shared_data_dir())
        .env("ROBOTOFF__LOG__LEVEL", "warn")
        .output()
        .expect("run robotoff")
}

fn json_of(out: &std::process::Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON line")
}

/// `robotoff ann rebuild` and `robotoff ann stats`; the service then loads what the
/// command saved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ann_rebuild_and_stats_from_the_command_line() {
    let e = env().await;
    let out = cli(&e, &["ann", "stats"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ann rebuild"));
    assert_eq!(
        cli(&e, &["ann", "rebuild", "--threads", "0"]).status.code(),
        Some(2)
    );

    // A transaction older than the logos holds the horizon back: the saved index records
    // the changes above it that it already holds, so none counts as changed since.
    let mut older = e.pool.begin().await.expect("begin");
    sqlx::query("SELECT txid_current()")
        .execute(&mut *older)
        .await
        .expect("xid");
    for i in 0..30u64 {
        add_logo(&e.pool, "off", i % 5, i).await;
    }
    let built = json_of(&cli(&e, &["ann", "rebuild", "--quiet", "--threads", "2"]));
    assert_eq!(built["vectors"], 30);
    assert_eq!(built["unusable"], 0);
    let stats = json_of(&cli(&e, &["ann", "stats"]));
    assert_eq!(stats["vectors"], 30);
    assert_eq!(stats["drift"], 0);
    assert_eq!(stats["logos_changed_since_save"], 0);
    older.rollback().await.expect("rollback");

    sqlx::query("DELETE FROM logo_annotation WHERE id = (SELECT min(id) FROM logo_annotation)")
        .execute(&e.pool)
        .await
        .expect("delete");
    let stats = json_of(&cli(&e, &["ann", "stats"]));
    assert_eq!(stats["drift"], -1);
    assert_eq!(stats["logos_changed_since_save"], 1);

    assert_eq!(restart_in_step(&e).await, "loaded");
}

/// Spec pipeline §6.4, api-db §1.4: `GET /api/v1/ann/search[/{logo_id}]` and the
/// `POST` by embedding: shapes, filters, errors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ann_search_endpoints() {
    let e = env().await;
    let mut ids = Vec::new();
    for i in 0..12u64 {
        ids.push(add_logo(&e.pool, "off", i % 2, i).await);
    }
    let obf = add_logo(&e.pool, "obf", 0, 99).await;
    let app = common::spawn_app(settings_in(&e.db, &e.dir)).await;
    ready(&app).await;
    let base = format!("http://{}/api/v1", app.addr.expect("api"));
    let http = common::http();
    let get = |path: String| {
        let http = http.clone();
        let url = format!("{base}{path}");
        async move {
            let r = http.get(url).send().await.expect("request");
            let status = r.status().as_u16();
            (status, r.text().await.expect("body"))
        }
    };

    let (status, body) = get(format!("/ann/search/{}?count=5", ids[0])).await;
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["count"], 5);
    assert_eq!(v["query_logo_id"], ids[0]);
    let results = v["results"].as_array().expect("results");
    assert_eq!(results.len(), 5);
    let found: Vec<i64> = results
        .iter()
        .map(|r| r["logo_id"].as_i64().expect("id"))
        .collect();
    assert!(
        !found.contains(&i64::from(ids[0])),
        "the logo itself is left out"
    );
    assert!(!found.contains(&i64::from(obf)), "another flavor's logo");
    // Same cluster (even seeds) first.
    assert!(found.iter().all(|id| ids
        .iter()
        .position(|x| i64::from(*x) == *id)
        .expect("known")
        % 2
        == 0));
    let d: Vec<f64> = results
        .iter()
        .map(|r| r["distance"].as_f64().expect("distance"))
        .collect();
    assert!(d.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(results[0].as_object().map(|o| o.len()), Some(2));

    // The default count is 100: every other logo of the flavor.
    let (_, body) = get(format!("/ann/search/{}", ids[3])).await;
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["count"], 11);

    // Another flavor, by name.
    let (_, body) = get(format!("/ann/search/{}?server_type=obf", ids[0])).await;
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["results"][0]["logo_id"], obf);

    // Errors.
    assert_eq!(get("/ann/search/999999".into()).await, (404, String::new()));
    for bad in ["count=0", "count=501", "count=abc", "server_type=nope"] {
        let (status, body) = get(format!("/ann/search/{}?{bad}", ids[0])).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(
            serde_json::from_str::<serde_json::Value>(&body).is_ok(),
            "{body}"
        );
    }

    // A random logo of the flavor; none of a flavor without logos.
    let (status, body) = get("/ann/search?count=3".into()).await;
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert!(ids.iter().any(|id| v["query_logo_id"] == *id), "{v}");
    assert_eq!(v["count"], 3);
    let (status, body) = get("/ann/search?server_type=opf".into()).await;
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(
        v,
        serde_json::json!({"results": [], "count": 0, "query_logo_id": null})
    );

    // By embedding.
    let post = |body: serde_json::Value| {
        let http = http.clone();
        let url = format!("{base}/ann/search");
        async move {
            let r = http.post(url).json(&body).send().await.expect("request");
            let status = r.status().as_u16();
            (status, r.json::<serde_json::Value>().await.expect("json"))
        }
    };
    let (status, v) = post(serde_json::json!({"embedding": embedding(1, 1), "count": 2})).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["results"][0]["logo_id"], ids[1]);
    assert_eq!(v["count"], 2);
    assert_eq!(v["query_logo_id"], serde_json::Value::Null);
    for bad in [
        serde_json::json!({"embedding": [1.0, 2.0]}),
        serde_json::json!({"embedding": vec![0.0; 512]}),
        serde_json::json!({"embedding": vec![1e303; 512]}),
        serde_json::json!({"embedding": vec![1e-300; 512]}),
        serde_json::json!({"embedding": embedding(1, 1), "count": 0}),
        serde_json::json!({"embedding": embedding(1, 1), "server_type": "nope"}),
        serde_json::json!({"count": 3}),
    ] {
        let (status, v) = post(bad.clone()).await;
        assert_eq!(status, 400, "{bad}: {v}");
    }
    let r = http
        .post(format!("{base}/ann/search"))
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status().as_u16(), 400);
    app.shutdown().await;
}

/// A stored prediction: type, value, value_tag, predictor, predictor_version, confidence,
/// data, automatic_processing.
type PredictionRow = (
    String,
    Option<String>,
    Option<String>,
    String,
    String,
    f64,
    serde_json::Value,
    bool,
);

async fn annotate(pool: &PgPool, id: i32, kind: &str, value: &str, taxonomy: Option<&str>) {
    sqlx::query(
        "UPDATE logo_annotation SET annotation_type = $2, annotation_value = $3,
         taxonomy_value = $4, completed_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(kind)
    .bind(value)
    .bind(taxonomy)
    .execute(pool)
    .await
    .expect("annotate");
}

async fn run_process_created_logos(app: &App, pool: &PgPool, flavor: ServerType, ip: i32) {
    use robotoff::jobs::{JobKind, NewJob, Priority};
    let w = &app.services.settings.workers;
    let job = NewJob::new(JobKind::ProcessCreatedLogos, Priority::High)
        .for_product("3000000000017", flavor)
        .payload(serde_json::json!({"image_prediction_id": ip}));
    let id = robotoff::infra::db::jobs::enqueue(pool, &job, w.shards, w.max_attempts)
        .await
        .expect("enqueue")
        .expect("a new job");
    let pool = pool.clone();
    let state: String = common::wait_until(Duration::from_secs(60), "the job", || {
        let pool = pool.clone();
        async move {
            let s: String = sqlx::query_scalar("SELECT state::text FROM job WHERE id = $1")
                .bind(id)
                .fetch_one(&pool)
                .await
                .expect("job");
            (s != "queued" && s != "running").then_some(s)
        }
    })
    .await;
    assert_eq!(state, "done");
}

/// Spec pipeline §6.4, §6.5: `process_created_logos` stores each new logo's neighbours
/// among its flavor's logos and, on a food flavor, predicts the brand its annotated
/// neighbours agree on; run twice, it leaves one prediction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn created_logos_get_neighbours_and_a_voted_prediction() {
    let e = env().await;
    for i in 0..6u64 {
        let id = add_logo(&e.pool, "off", 0, i).await;
        annotate(&e.pool, id, "brand", "etorki", Some("Etorki")).await;
    }
    for i in 6..9u64 {
        add_logo(&e.pool, "off", 0, i).await;
    }
    let other = add_logo(&e.pool, "obf", 0, 50).await;
    annotate(&e.pool, other, "label", "en:organic", Some("en:organic")).await;
    let (logo, ip) = add_logo_full(&e.pool, "off", 0, 100).await;
    // Predictions are stored for a known product and one of its images.
    sqlx::query(
        "UPDATE logo_annotation SET source_image = '/300/000/000/0017/100.jpg' WHERE id = $1",
    )
    .bind(logo)
    .execute(&e.pool)
    .await
    .expect("source image");
    let mut product = robotoff::types::Product::new("3000000000017", ServerType::Off);
    product
        .images
        .insert("100".into(), serde_json::json!({"imgid": 100}));
    robotoff::infra::db::products::upsert_many(&e.pool, &[product])
        .await
        .expect("product");
    let app = common::spawn_app(settings_in(&e.db, &e.dir)).await;
    ready(&app).await;

    for _ in 0..2 {
        run_process_created_logos(&app, &e.pool, ServerType::Off, ip).await;
    }
    let nn: serde_json::Value =
        sqlx::query_scalar("SELECT nearest_neighbors FROM logo_annotation WHERE id = $1")
            .bind(logo)
            .fetch_one(&e.pool)
            .await
            .expect("neighbours");
    let ids = nn["logo_ids"].as_array().expect("logo_ids");
    let distances = nn["distances"].as_array().expect("distances");
    assert_eq!(ids.len(), 9, "{nn}");
    assert_eq!(distances.len(), 9);
    assert!(!ids.iter().any(|v| *v == logo || *v == other), "{nn}");
    assert!(nn["updated_at"].is_string());
    let d: Vec<f64> = distances.iter().map(|v| v.as_f64().expect("f")).collect();
    assert!(d.windows(2).all(|w| w[0] <= w[1]));

    let rows: Vec<PredictionRow> = sqlx::query_as(
        "SELECT type, value, value_tag, predictor, predictor_version, confidence::float8, data,
                    automatic_processing
             FROM prediction WHERE barcode = '3000000000017'",
    )
    .fetch_all(&e.pool)
    .await
    .expect("predictions");
    assert_eq!(rows.len(), 1, "{rows:?}");
    let (kind, value, tag, predictor, version, confidence, data, auto) = &rows[0];
    assert_eq!(kind, "brand");
    assert_eq!(value.as_deref(), Some("Etorki"));
    assert_eq!(tag.as_deref(), Some("etorki"));
    assert_eq!(predictor, "universal-logo-detector");
    assert_eq!(version, "v1");
    assert!(!auto);
    assert_eq!(data["logo_id"], logo);
    assert_eq!(
        data["bounding_box"],
        serde_json::json!([0.1, 0.1, 0.5, 0.5])
    );
    // Six of nine neighbours, weighted by closeness.
    assert!(*confidence > 0.4 && *confidence < 0.9, "{confidence}");
    // And the brand insight it makes (the product has no brand).
    assert_eq!(
        common::count(
            &e.pool,
            "SELECT count(*) FROM product_insight WHERE type = 'brand' AND value_tag = 'etorki' \
             AND predictor = 'universal-logo-detector'"
        )
        .await,
        1
    );

    // On a non-food flavor: neighbours, no prediction.
    let (obf_logo, obf_ip) = add_logo_full(&e.pool, "obf", 0, 101).await;
    run_process_created_logos(&app, &e.pool, ServerType::Obf, obf_ip).await;
    let nn: serde_json::Value =
        sqlx::query_scalar("SELECT nearest_neighbors FROM logo_annotation WHERE id = $1")
            .bind(obf_logo)
            .fetch_one(&e.pool)
            .await
            .expect("neighbours");
    assert_eq!(nn["logo_ids"], serde_json::json!([other]));
    assert_eq!(
        common::count(&e.pool, "SELECT count(*) FROM prediction").await,
        1
    );
    app.shutdown().await;
}

/// `robotoff ann refresh`: one low-priority `process_created_logos` job per image
/// prediction with an unannotated logo whose neighbours are missing or too old (legacy
/// neighbours without a time count as old); annotated and fresh logos are left alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ann_refresh_queues_old_logos_once() {
    let e = env().await;
    let (_never, ip_never) = add_logo_full(&e.pool, "off", 0, 1).await;
    let (old, ip_old) = add_logo_full(&e.pool, "obf", 0, 2).await;
    let (legacy, ip_legacy) = add_logo_full(&e.pool, "off", 0, 3).await;
    let (fresh, _) = add_logo_full(&e.pool, "off", 0, 4).await;
    let (done, _) = add_logo_full(&e.pool, "off", 0, 5).await;
    annotate(&e.pool, done, "brand", "etorki", Some("Etorki")).await;
    let set = |id: i32, nn: serde_json::Value| {
        let pool = e.pool.clone();
        async move {
            sqlx::query("UPDATE logo_annotation SET nearest_neighbors = $2 WHERE id = $1")
                .bind(id)
                .bind(nn)
                .execute(&pool)
                .await
                .expect("neighbours");
        }
    };
    let days_ago = |d: i64| {
        (chrono::Utc::now() - chrono::Duration::days(d))
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, false)
    };
    set(
        old,
        serde_json::json!({"logo_ids": [], "distances": [], "updated_at": days_ago(9)}),
    )
    .await;
    set(
        legacy,
        serde_json::json!({"logo_ids": [1], "distances": [11.1]}),
    )
    .await;
    set(
        fresh,
        serde_json::json!({"logo_ids": [], "distances": [], "updated_at": days_ago(2)}),
    )
    .await;

    let out = json_of(&cli(
        &e,
        &["ann", "refresh", "--days", "7", "--batch-size", "2"],
    ));
    assert_eq!(out["image_predictions"], 3, "{out}");
    assert_eq!(out["jobs_queued"], 3);
    let queued: Vec<(i32, String, i16)> = sqlx::query_as(
        "SELECT (payload->>'image_prediction_id')::int, server_type, priority FROM job
         WHERE kind = 'process_created_logos' ORDER BY 1",
    )
    .fetch_all(&e.pool)
    .await
    .expect("jobs");
    let low = robotoff::jobs::Priority::Low.as_i16();
    assert_eq!(
        queued,
        vec![
            (ip_never, "off".to_string(), low),
            (ip_old, "obf".to_string(), low),
            (ip_legacy, "off".to_string(), low)
        ]
    );
    // Still waiting: not queued twice.
    let out = json_of(&cli(&e, &["ann", "refresh"]));
    assert_eq!(out["jobs_queued"], 0);
    assert_eq!(
        cli(&e, &["ann", "refresh", "--batch-size", "0"])
            .status
            .code(),
        Some(2)
    );
}

fn write_npy(path: &Path, descr: &str, rows: usize, cols: usize, payload: &[u8]) {
    let mut header =
        format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(payload);
    std::fs::write(path, out).expect("write npy");
}

/// `robotoff ann bench` reads NumPy files and prints the build line and one line per
/// (ef, k) with exactly the keys operators script against.
#[test]
fn ann_bench_prints_its_json_lines() {
    let dir = tempfile::tempdir().expect("tmp");
    let n = 300;
    let base: Vec<Vec<f32>> = (0..n as u64).map(|i| embedding(i % 7, i)).collect();
    let queries: Vec<Vec<f32>> = (0..6u64).map(|i| embedding(i % 7, 1000 + i)).collect();
    // Exact neighbours by brute force: row numbers, nearest first.
    let mut gt: Vec<i64> = Vec::new();
    for q in &queries {
        let mut sims: Vec<(f32, i64)> = base
            .iter()
            .enumerate()
            .map(|(i, b)| (q.iter().zip(b).map(|(x, y)| x * y).sum(), i as i64))
            .collect();
        sims.sort_by(|a, b| b.0.total_cmp(&a.0));
        gt.extend(sims.iter().take(10).map(|s| s.1));
    }
    let f32s = |vs: &[Vec<f32>]| -> Vec<u8> {
        vs.iter()
            .flat_map(|v| v.iter().flat_map(|x| x.to_le_bytes()))
            .collect()
    };
    let (b, q, g) = (
        dir.path().join("base.npy"),
        dir.path().join("q.npy"),
        dir.path().join("gt.npy"),
    );
    write_npy(&b, "<f4", n, 512, &f32s(&base));
    write_npy(&q, "<f4", 6, 512, &f32s(&queries));
    let gt_bytes: Vec<u8> = gt.iter().flat_map(|v| v.to_le_bytes()).collect();
    write_npy(&g, "<i8", 6, 10, &gt_bytes);
    let run = |extra: &[&str]| {
        let mut args = vec![
            "ann",
            "bench",
            "--base",
            b.to_str().expect("utf-8"),
            "--queries",
            q.to_str().expect("utf-8"),
            "--ground-truth",
            g.to_str().expect("utf-8"),
        ];
        args.extend_from_slice(extra);
        std::process::Command::new(env!("CARGO_BIN_EXE_robotoff"))
            .args(&args)
            .env("ROBOTOFF__LOG__LEVEL", "warn")
            .output()
            .expect("run")
    };
    let out = run(&[
        "--k",
        "1,10",
        "--ef",
        "64,512",
        "--quantization",
        "f32",
        "--connectivity",
        "16",
        "--expansion-add",
        "64",
        "--threads",
        "1",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(lines.len(), 5);
    let keys = |v: &serde_json::Value| {
        let mut k: Vec<String> = v.as_object().expect("object").keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(
        keys(&lines[0]),
        ["build_s", "index_mb", "rss_mb", "vectors"]
    );
    assert_eq!(lines[0]["vectors"], n);
    for l in &lines[1..] {
        assert_eq!(keys(l), ["ef", "k", "p50_ms", "p99_ms", "qps", "recall"]);
    }
    assert_eq!(
        (lines[1]["ef"].clone(), lines[1]["k"].clone()),
        (64.into(), 1.into())
    );
    assert_eq!(
        (lines[4]["ef"].clone(), lines[4]["k"].clone()),
        (512.into(), 10.into())
    );
    // A beam at least as wide as the 300 vectors visits all of them: the exact answer.
    assert_eq!(lines[4]["recall"], 1.0);

    // Saved with --save-dir, searched again with --load (no build, no base).
    let saved = dir.path().join("saved");
    let saved = saved.to_str().expect("utf-8");
    // One thread adds the vectors in file order: the same graph on every run.
    let flags = [
        "--quantization",
        "f32",
        "--connectivity",
        "16",
        "--threads",
        "1",
    ];
    let mut extra = vec!["--k", "10", "--ef", "512", "--save-dir", saved];
    extra.extend_from_slice(&flags);
    let out = run(&extra);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = |out: &std::process::Output| -> Vec<serde_json::Value> {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).expect("JSON line"))
            .collect()
    };
    assert_eq!(keys(&lines(&out)[1]), ["files_mb", "reload_s", "save_s"]);
    let load = |with_base: bool| {
        let mut args = vec!["ann", "bench", "--load", saved];
        if with_base {
            args.extend_from_slice(&["--base", b.to_str().expect("utf-8")]);
        }
        args.extend_from_slice(&[
            "--queries",
            q.to_str().expect("utf-8"),
            "--ground-truth",
            g.to_str().expect("utf-8"),
            "--k",
            "10",
            "--ef",
            "512",
        ]);
        args.extend_from_slice(&flags);
        std::process::Command::new(env!("CARGO_BIN_EXE_robotoff"))
            .args(&args)
            .output()
            .expect("run")
    };
    let out = load(false);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let loaded = lines(&out);
    assert_eq!(loaded.len(), 2);
    assert_eq!(keys(&loaded[0]), ["reload_s", "vectors"]);
    assert_eq!(loaded[0]["vectors"], n);
    assert_eq!(loaded[1]["recall"], 1.0);
    assert_eq!(load(true).status.code(), Some(2), "--load and --base");

    for bad in [
        vec!["--quantization", "f64"],
        vec!["--k", "11"],
        vec!["--threads", "0"],
    ] {
        let out = run(&bad);
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        assert!(!out.stderr.is_empty());
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_robotoff"))
        .args([
            "ann",
            "bench",
            "--base",
            "/nonexistent.npy",
            "--queries",
            "x",
            "--ground-truth",
            "y",
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
}

/// A long transaction elsewhere (it holds the horizon back) does not hide later commits
/// from the index, and what it commits itself is picked up when it ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_transaction_does_not_hold_the_index_back() {
    let e = env().await;
    add_logo(&e.pool, "off", 0, 1).await;
    let app = common::spawn_app(settings_in(&e.db, &e.dir)).await;
    ready(&app).await;
    let mut long = e.pool.begin().await.expect("begin");
    sqlx::query(
        "INSERT INTO logo_confidence_threshold (type, value, threshold) VALUES ('x', 'y', 0.5)",
    )
    .execute(&mut *long)
    .await
    .expect("a write: the transaction gets an id");
    let late = add_logo(&e.pool, "off", 1, 2).await;
    sync(&app).await;
    let v = robotoff::actors::call(
        &index_of(&app),
        |r| LogoIndexMsg::Vector(i64::from(late), r),
        CALL,
    )
    .await
    .expect("vector");
    assert!(
        v.is_some(),
        "a commit after the long transaction began is in the index"
    );
    // The long transaction's own logo appears once it commits.
    let image: i32 = sqlx::query_scalar(
        "INSERT INTO image (barcode, uploaded_at, image_id, source_image, width, height, deleted, server_type)
         VALUES ('3000000000017', now(), '77', '/x/77.jpg', 100, 100, false, 'off') RETURNING id",
    )
    .fetch_one(&mut *long)
    .await
    .expect("image");
    let ip: i32 = sqlx::query_scalar(
        "INSERT INTO image_prediction (type, model_name, model_version, data, timestamp, image_id, max_confidence)
         VALUES ('object_detection', 'universal_logo_detector', 'v1', '{}', now(), $1, 0.9) RETURNING id",
    )
    .bind(image)
    .fetch_one(&mut *long)
    .await
    .expect("prediction");
    let logo: i32 = sqlx::query_scalar(
        "INSERT INTO logo_annotation (image_prediction_id, index, bounding_box, score, server_type)
         VALUES ($1, 0, '[0, 0, 1, 1]', 0.5, 'off') RETURNING id",
    )
    .bind(ip)
    .fetch_one(&mut *long)
    .await
    .expect("logo");
    sqlx::query("INSERT INTO embedding.logo_embedding (logo_id, embedding) VALUES ($1, $2)")
        .bind(logo)
        .bind(bytes(&embedding(2, 3)))
        .execute(&mut *long)
        .await
        .expect("embedding");
    sync(&app).await;
    long.commit().await.expect("commit");
    assert_in_step(&app, &e.pool).await;
    app.shutdown().await;
}

/// Copies the files of directory `from` into `to` (created).
fn copy_files(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy");
    }
}

/// The index file of the food logos, as the manifest names it.
fn index_file(dir: &std::path::Path) -> String {
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).expect("manifest"))
            .expect("json");
    m["files"]
        .as_array()
        .expect("files")
        .iter()
        .find(|f| f["flavor"] == "off")
        .and_then(|f| f["file"].as_str())
        .expect("the file of the food logos")
        .to_string()
}

/// Cluster mode: a logo embedded on one node reaches the index of another node through
/// the logos notice at once, though that node's own catch-up timer would not fire for
/// minutes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logo_added_on_one_node_reaches_the_index_of_another_through_its_notice() {
    let e = env().await;
    let name = format!("test-{}", uuid::Uuid::new_v4().simple());
    let node = |id: &str, dir: PathBuf, sync_ms: u64| {
        let mut s = settings_in(&e.db, &dir);
        s.redis.url = Some(common::redis_url().into());
        s.cluster.enabled = true;
        s.cluster.name = name.clone();
        s.cluster.node_id = id.to_string();
        s.cluster.heartbeat_ms = 200;
        s.index.sync_interval_ms = sync_ms;
        s.roles = vec![robotoff::config::Role::Api];
        s
    };
    let a = common::spawn_app(node("a", e.dir.join("a"), 100)).await;
    let b = common::spawn_app(node("b", e.dir.join("b"), 600_000)).await;
    ready(&a).await;
    ready(&b).await;
    // Both nodes listen to the notices channel.
    common::wait_until(Duration::from_secs(10), "b joined", || async {
        (a.services.hub.members().len() == 2 && b.services.hub.members().len() == 2).then_some(())
    })
    .await;
    let logo = add_logo(&e.pool, "off", 1, 1).await;
    sync(&a).await;
    assert_eq!(stats(&a).await.vectors, 1);
    assert_eq!(stats(&b).await.vectors, 0, "b has not caught up by itself");
    a.services.hub.raise(
        robotoff::cluster::NoticeKind::Logos,
        serde_json::Value::Null,
    );
    common::wait_until(Duration::from_secs(2), "b's index has the logo", || async {
        (stats(&b).await.vectors == 1).then_some(())
    })
    .await;
    let found = search(&b, embedding(1, 1), 1, None).await;
    assert_eq!(found.first().map(|(id, _)| *id), Some(i64::from(logo)));
    a.shutdown().await;
    b.shutdown().await;
}
