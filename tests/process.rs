//! The `robotoff` binary as a process: crash safety under `kill -9`, the private
//! PostgreSQL of a local run, configuration errors.

mod common;

use common::{count, fresh_database, wait_until};
use robotoff::infra::db::jobs;
use robotoff::jobs::{JobKind, NewJob, Priority};
use robotoff::types::ServerType;
use serde_json::json;
use sqlx::PgPool;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn robotoff() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_robotoff"));
    // The test's own settings only: nothing from the developer's environment.
    for (key, _) in std::env::vars() {
        if key.starts_with("ROBOTOFF__") {
            cmd.env_remove(key);
        }
    }
    cmd.env("ROBOTOFF__LOG__LEVEL", "warn");
    cmd.env("ROBOTOFF__DATA__DIR", common::shared_data_dir());
    cmd
}

fn serve_workers(url: &str) -> Child {
    robotoff()
        .args(["serve", "--roles", "workers"])
        .env("ROBOTOFF__DATABASE__URL", url)
        .env("ROBOTOFF__WORKERS__POLL_INTERVAL_MS", "200")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn robotoff serve")
}

/// Architecture invariant 2: `kill -9` while jobs are in flight, then a restart:
/// every job completes, and its effect exists exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_with_jobs_in_flight_then_restart_completes_each_job_once() {
    let url = fresh_database().await;
    let pool = PgPool::connect(&url).await.expect("pool");
    let batch: Vec<NewJob> = (0..600)
        .map(|i| {
            NewJob::new(JobKind::Probe, Priority::High)
                .for_product(format!("7{:012}", i % 40), ServerType::Off)
                .payload(json!({"sleep_ms": 10}))
        })
        .collect();
    jobs::enqueue_many(&pool, &batch, 6, 5)
        .await
        .expect("enqueue");

    let mut first = serve_workers(&url);
    wait_until(Duration::from_secs(60), "some jobs done", || {
        let pool = pool.clone();
        async move {
            (count(&pool, "SELECT count(*) FROM job WHERE state = 'done'").await >= 100)
                .then_some(())
        }
    })
    .await;
    first.kill().expect("kill -9");
    first.wait().expect("reap");
    let done_at_kill = count(&pool, "SELECT count(*) FROM job WHERE state = 'done'").await;
    assert!(
        done_at_kill < 600,
        "the kill came too late to interrupt anything"
    );

    let mut second = serve_workers(&url);
    wait_until(
        Duration::from_secs(120),
        "all jobs done after restart",
        || {
            let pool = pool.clone();
            async move {
                (count(&pool, "SELECT count(*) FROM job WHERE state = 'done'").await == 600)
                    .then_some(())
            }
        },
    )
    .await;
    second.kill().expect("kill");
    second.wait().expect("reap");

    assert_eq!(
        count(&pool, "SELECT count(*) FROM job_probe").await,
        600,
        "each job's effect exactly once"
    );
    assert_eq!(
        count(&pool, "SELECT count(DISTINCT job_id) FROM job_probe").await,
        600
    );
    let overlaps = count(
        &pool,
        "SELECT count(*) FROM (
             SELECT started_at, lag(finished_at) OVER (PARTITION BY barcode ORDER BY started_at) AS prev_end
             FROM job_probe) t WHERE prev_end IS NOT NULL AND started_at < prev_end",
    )
    .await;
    assert_eq!(overlaps, 0);
}

/// README command 1: with no database URL the service runs its own PostgreSQL under
/// `database.local_dir`, serves, and stops that PostgreSQL when it stops.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_run_starts_and_stops_its_own_postgres() {
    let dir = tempfile::Builder::new()
        .prefix("rbt-local")
        .tempdir_in("/tmp")
        .expect("temp dir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let pg_dir = dir.path().join("pg");
    let mut child = robotoff()
        .args(["serve", "--http-addr", "127.0.0.1:0"])
        .env("ROBOTOFF__DATABASE__LOCAL_DIR", &pg_dir)
        .env("ROBOTOFF__DATABASE__URL", "")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(addr) = line.strip_prefix("robotoff: serving on ") {
                let _ = tx.send(addr.to_string());
            }
        }
    });
    let base = rx
        .recv_timeout(Duration::from_secs(120))
        .expect("service announced its address");
    let body: serde_json::Value = common::http()
        .get(format!("{base}/api/v1/status"))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(body["status"], "running");
    assert!(
        pg_dir.join("data").join("PG_VERSION").is_file(),
        "cluster initialised under local_dir"
    );
    assert!(
        pg_dir.join("data").join("postmaster.pid").is_file(),
        "cluster running"
    );

    // SIGTERM: graceful shutdown stops the private PostgreSQL.
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .expect("kill");
    assert!(status.success());
    let exit = child.wait().expect("wait");
    assert!(exit.success(), "{exit:?}");
    assert!(
        !pg_dir.join("data").join("postmaster.pid").exists(),
        "PostgreSQL still running after the service stopped"
    );
}

#[test]
fn unknown_config_key_is_an_error_naming_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("robotoff.toml");
    std::fs::write(&file, "[workers]\nshardz = 3\n").expect("write");
    let out = robotoff()
        .arg("--config")
        .arg(&file)
        .arg("migrate")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("shardz"), "{err}");

    let out = robotoff()
        .arg("migrate")
        .env("ROBOTOFF__HTTP__ADRESS", "x")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("adress"));

    let out = robotoff()
        .arg("--config")
        .arg(dir.path().join("missing.toml"))
        .arg("migrate")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_commands_enqueue_and_reject_bad_input() {
    let url = fresh_database().await;
    let out = robotoff()
        .args([
            "jobs",
            "enqueue",
            "--kind",
            "noop",
            "--barcode",
            "123",
            "--priority",
            "low",
        ])
        .env("ROBOTOFF__DATABASE__URL", &url)
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pool = PgPool::connect(&url).await.expect("pool");
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM job WHERE barcode = '123' AND priority = 2"
        )
        .await,
        1
    );

    for bad in [
        vec!["jobs", "enqueue", "--kind", "nope"],
        vec!["jobs", "enqueue", "--kind", "noop", "--priority", "urgent"],
        vec![
            "jobs",
            "enqueue",
            "--kind",
            "noop",
            "--payload",
            "{not json",
        ],
        vec![
            "jobs",
            "enqueue",
            "--kind",
            "noop",
            "--barcode",
            "1",
            "--server-type",
            "xyz",
        ],
    ] {
        let out = robotoff()
            .args(&bad)
            .env("ROBOTOFF__DATABASE__URL", &url)
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        assert!(!out.stderr.is_empty());
    }
    assert_eq!(
        count(&pool, "SELECT count(*) FROM job").await,
        1,
        "bad input changed nothing"
    );
}

/// With PostgreSQL gone, a request that needs it answers 503 with a JSON body in about
/// a second (`database.acquire_timeout_secs`), and SIGTERM still stops the service in a
/// few seconds. The private PostgreSQL's socket sits in a directory only its user may
/// enter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_down_fails_fast_and_sigterm_still_stops() {
    let dir = tempfile::Builder::new()
        .prefix("rbt-down")
        .tempdir_in("/tmp")
        .expect("temp dir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let mut pg = robotoff::infra::local_pg::LocalPostgres::start(dir.path(), true)
        .await
        .expect("local postgres");
    let mode = std::fs::metadata(pg.socket_dir())
        .expect("socket dir")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700, "socket directory mode {mode:o}");
    let mut child = robotoff()
        .args(["serve", "--http-addr", "127.0.0.1:0"])
        .env("ROBOTOFF__DATABASE__URL", pg.url())
        .env("ROBOTOFF__SCHEDULER__DATASET_URL", "")
        .env("ROBOTOFF__HTTP__LISTING_CACHE_MS", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(addr) = line.strip_prefix("robotoff: serving on ") {
                let _ = tx.send(addr.to_string());
            }
        }
    });
    let base = rx
        .recv_timeout(Duration::from_secs(120))
        .expect("service announced its address");
    let questions = format!("{base}/api/v1/questions");
    let resp = common::http()
        .get(&questions)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 200);

    pg.stop().expect("stop postgres");
    let clock = std::time::Instant::now();
    let resp = common::http()
        .get(&questions)
        .send()
        .await
        .expect("request");
    let waited = clock.elapsed();
    assert_eq!(resp.status().as_u16(), 503);
    assert!(resp.headers().contains_key("retry-after"));
    let body: serde_json::Value = resp.json().await.expect("json body");
    assert_eq!(body["error"], "database_unavailable");
    // Generous bound: it used to take 10 s.
    assert!(waited < Duration::from_secs(5), "503 after {waited:?}");

    let clock = std::time::Instant::now();
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .expect("kill");
    assert!(status.success());
    let exited = loop {
        if let Some(exit) = child.try_wait().expect("wait") {
            break Some(exit);
        }
        if clock.elapsed() > Duration::from_secs(20) {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let Some(exit) = exited else {
        let _ = child.kill();
        panic!("the service was still running 20 s after SIGTERM");
    };
    assert!(exit.success(), "{exit:?}");
    eprintln!(
        "stopped {:?} after SIGTERM with PostgreSQL down",
        clock.elapsed()
    );
}
