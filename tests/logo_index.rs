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
    logo
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
    let app = common::spawn_app(settings_in(&e.db, &e.dir)).await;
    let s = ready(&app).await;
    assert_eq!(s.opened, "loaded");
    assert_in_step(&app, &e.pool).await;
    app.shutdown().await;
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
    for f in ["logos.usearch", "manifest.json"] {
        std::fs::copy(e.dir.join(f), saved.path().join(f)).expect("copy");
    }
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
    for f in ["logos.usearch", "manifest.json"] {
        std::fs::copy(saved.path().join(f), e.dir.join(f)).expect("restore");
    }
    let app = common::spawn_app(settings_in(&e.db, &e.dir)).await;
    let s = ready(&app).await;
    assert_eq!(s.opened, "loaded");
    assert_in_step(&app, &e.pool).await;
    app.shutdown().await;
}

/// No files, damaged files, other parameters or a change log that no longer reaches back
/// to the saved index: rebuilt from PostgreSQL, never a crash.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_damaged_or_stale_files_are_rebuilt() {
    let e = env().await;
    for i in 0..12u64 {
        add_logo(&e.pool, if i % 3 == 0 { "opf" } else { "off" }, i % 3, i).await;
    }
    let start = |e: &Env| common::spawn_app(settings_in(&e.db, &e.dir));

    let app = start(&e).await;
    ready(&app).await;
    app.shutdown().await;

    // Deleted directory.
    std::fs::remove_dir_all(&e.dir).expect("rm");
    let app = start(&e).await;
    assert_eq!(ready(&app).await.opened, "rebuilt: no saved index");
    assert_in_step(&app, &e.pool).await;
    app.shutdown().await;

    // A flipped byte in the index file.
    let path = e.dir.join("logos.usearch");
    let mut b = std::fs::read(&path).expect("read");
    let mid = b.len() / 2;
    b[mid] ^= 0xff;
    std::fs::write(&path, &b).expect("write");
    let app = start(&e).await;
    let s = ready(&app).await;
    assert!(
        s.opened
            .starts_with("rebuilt: the saved index does not match"),
        "{s:?}"
    );
    assert_in_step(&app, &e.pool).await;
    app.shutdown().await;

    // Garbage instead of the index file, with a manifest that matches it.
    std::fs::write(&path, b"not an index at all").expect("write");
    let mut m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(e.dir.join("manifest.json")).expect("manifest"))
            .expect("json");
    m["file_len"] = 19.into();
    m["file_crc32"] = crc32fast::hash(b"not an index at all").into();
    std::fs::write(e.dir.join("manifest.json"), m.to_string()).expect("manifest");
    let app = start(&e).await;
    let s = ready(&app).await;
    assert!(s.opened.starts_with("rebuilt:"), "{s:?}");
    assert_in_step(&app, &e.pool).await;
    app.shutdown().await;

    // The change log was pruned past the saved index.
    sqlx::query("UPDATE embedding.logo_index_horizon SET pruned_below = 9223372036854775000")
        .execute(&e.pool)
        .await
        .expect("prune");
    let app = start(&e).await;
    let s = ready(&app).await;
    assert!(s.opened.contains("older than the change log"), "{s:?}");
    assert_in_step(&app, &e.pool).await;
    app.shutdown().await;

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
