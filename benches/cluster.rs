//! Cluster benchmark (not a test): 1, 2 and 3 `robotoff serve` processes (release build)
//! on one PostgreSQL and one Redis, on this machine. For each size: stream events per
//! second (image deletions, jobs that only touch PostgreSQL), `/questions/{barcode}`
//! requests per second spread over the nodes, with the CPU each node used. With three
//! nodes also: failover (SIGKILL of the node holding the listener's lease → its shards
//! locked by the others, the lease taken over) and a vote storm (votes on one node at a
//! fixed rate while the others serve listings: their rate with and without it, and the
//! notices they received).
//!
//! Run through `scripts/bench-cluster`, which starts the servers and sets
//! ROBOTOFF_BENCH_DATABASE_URL (admin URL), ROBOTOFF_BENCH_REDIS_URL and
//! ROBOTOFF_BENCH_BIN. Knobs: ROBOTOFF_BENCH_EVENTS (20000), ROBOTOFF_BENCH_SECONDS (10),
//! ROBOTOFF_BENCH_VOTE_RATE (1000 per second), ROBOTOFF_BENCH_NODES (0,1,2,3; 0 is one
//! node with cluster mode off, for comparison).

use futures::StreamExt;
use sqlx::{Connection, PgConnection, PgPool};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SHARDS: u32 = 12;
const INSIGHTS: usize = 20_000;

fn env_or<T: std::str::FromStr>(key: &str, default: T) -> T {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn required(key: &str) -> String {
    match std::env::var(key) {
        Ok(v) => v,
        Err(_) => {
            eprintln!("{key} is not set: run scripts/bench-cluster");
            std::process::exit(2);
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(0)
}

struct Node {
    id: String,
    port: u16,
    env: Vec<(String, String)>,
    child: Option<Child>,
}

impl Node {
    fn start(&mut self, bin: &str) {
        let mut cmd = Command::new(bin);
        cmd.arg("serve");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        self.child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().ok();
    }

    fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    fn kill_9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let _ = c.wait();
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill_9();
    }
}

/// CPU seconds a process has used (user + system).
fn cpu_secs(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0.0;
    };
    let Some(rest) = stat.rsplit(')').next() else {
        return 0.0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // Fields 14 and 15 of the stat line; `rest` starts at field 3.
    (ticks(11) + ticks(12)) / 100.0
}

fn cpu_of(nodes: &[Node]) -> Vec<f64> {
    nodes
        .iter()
        .map(|n| n.pid().map(cpu_secs).unwrap_or(0.0))
        .collect()
}

fn cpu_line(before: &[f64], after: &[f64], secs: f64) -> String {
    before
        .iter()
        .zip(after)
        .enumerate()
        .map(|(i, (b, a))| format!("node-{}: {:.0}%", i + 1, 100.0 * (a - b) / secs))
        .collect::<Vec<_>>()
        .join(", ")
}

async fn wait_for<F, Fut>(limit: Duration, mut check: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < limit {
        if check().await {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(pool)
        .await
        .unwrap_or(-1)
}

async fn members(client: &reqwest::Client, node: &Node) -> usize {
    let Ok(r) = client.get(node.url("/api/v1/cluster")).send().await else {
        return 0;
    };
    let v: serde_json::Value = r.json().await.unwrap_or_default();
    v["members"].as_array().map(Vec::len).unwrap_or(0)
}

/// Requests `paths` (in turn) for `secs` with `concurrency` callers; returns req/s.
async fn load(
    client: &reqwest::Client,
    paths: Arc<Vec<String>>,
    secs: f64,
    concurrency: usize,
) -> f64 {
    let done = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let start = Instant::now();
    futures::stream::iter(0..concurrency)
        .for_each_concurrent(concurrency, |w| {
            let client = client.clone();
            let paths = paths.clone();
            let done = done.clone();
            let errors = errors.clone();
            async move {
                let mut i = w;
                while Instant::now() < deadline {
                    let url = &paths[i % paths.len()];
                    i += concurrency;
                    match client.get(url).send().await {
                        Ok(r) if r.status().is_success() => {
                            let _ = r.bytes().await;
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                        _ => {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }
        })
        .await;
    let e = errors.load(Ordering::Relaxed);
    if e > 0 {
        eprintln!("  ({e} failed requests)");
    }
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

fn question_paths(nodes: &[Node]) -> Arc<Vec<String>> {
    Arc::new(
        (0..4_000)
            .map(|i| {
                let node = &nodes[i % nodes.len()];
                node.url(&format!("/api/v1/questions/{}", barcode(i * 7 % INSIGHTS)))
            })
            .collect(),
    )
}

fn barcode(i: usize) -> String {
    format!("4{:012}", i)
}

async fn fresh_database(admin: &str, name: &str) -> String {
    let mut conn = PgConnection::connect(admin)
        .await
        .expect("admin connection");
    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name}"
    )))
    .execute(&mut conn)
    .await;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .expect("create database");
    match admin.rfind('/') {
        Some(i) => format!("{}/{name}", &admin[..i]),
        None => panic!("admin URL has no database part"),
    }
}

async fn seed_insights(pool: &PgPool) {
    sqlx::query(
        r#"INSERT INTO product_insight (id, barcode, type, data, timestamp, n_votes, value_tag,
             automatic_processing, server_type, reserved_barcode, countries, brands, campaign)
         SELECT gen_random_uuid(), '4' || lpad(g::text, 12, '0'), 'category', '{}', now(), 0,
             'en:seeds', false, 'off', false, '["en:france"]', '[]', '[]'
           FROM generate_series(0, $1 - 1) g"#,
    )
    .bind(INSIGHTS as i64)
    .execute(pool)
    .await
    .expect("seed insights");
}

async fn xadd_deletions(redis: &str, stream: &str, n: usize) {
    let client = redis::Client::open(redis).expect("redis url");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("redis");
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let mut pipe = redis::pipe();
        for i in chunk {
            pipe.cmd("XADD")
                .arg(stream)
                .arg("*")
                .arg("code")
                .arg(format!("9{:012}", i))
                .arg("flavor")
                .arg("off")
                .arg("product_type")
                .arg("food")
                .arg("user_id")
                .arg("someone")
                .arg("action")
                .arg("updated")
                .arg("diffs")
                .arg(r#"{"uploaded_images": {"delete": ["5"]}}"#);
        }
        let _: Vec<String> = pipe.query_async(&mut conn).await.expect("XADD");
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let admin = required("ROBOTOFF_BENCH_DATABASE_URL");
    let redis = required("ROBOTOFF_BENCH_REDIS_URL");
    let bin = required("ROBOTOFF_BENCH_BIN");
    let events: usize = env_or("ROBOTOFF_BENCH_EVENTS", 20_000);
    let secs: f64 = env_or("ROBOTOFF_BENCH_SECONDS", 10.0);
    let vote_rate: u64 = env_or("ROBOTOFF_BENCH_VOTE_RATE", 1_000);
    let sizes: Vec<usize> = std::env::var("ROBOTOFF_BENCH_NODES")
        .unwrap_or_else(|_| "0,1,2,3".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    println!("cluster benchmark: {events} events, {secs} s per load run, {vote_rate} votes/s");
    for size in sizes {
        let clustered = size > 0;
        let n = size.max(1);
        let db = fresh_database(&admin, &format!("bench_cluster_{size}")).await;
        let status = Command::new(&bin)
            .arg("migrate")
            .env("ROBOTOFF__DATABASE__URL", &db)
            .env("ROBOTOFF__LOG__LEVEL", "warn")
            .status()
            .expect("migrate");
        assert!(status.success(), "migrations");
        let pool = PgPool::connect(&db).await.expect("pool");
        seed_insights(&pool).await;
        let tag = uuid::Uuid::new_v4().simple().to_string();
        let stream = format!("bench_updates_{tag}");
        let data_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data");
        let mut nodes: Vec<Node> = (1..=n)
            .map(|i| {
                let port = free_port();
                let env: Vec<(String, String)> = [
                    ("ROBOTOFF__LOG__LEVEL", "error".to_string()),
                    ("ROBOTOFF__DATA__DIR", data_dir.to_string()),
                    ("ROBOTOFF__DATABASE__URL", db.clone()),
                    ("ROBOTOFF__DATABASE__MAX_CONNECTIONS", "16".into()),
                    ("ROBOTOFF__REDIS__URL", redis.clone()),
                    ("ROBOTOFF__REDIS__PRODUCT_UPDATES_STREAM", stream.clone()),
                    (
                        "ROBOTOFF__REDIS__OCR_READY_STREAM",
                        format!("bench_ocr_{tag}"),
                    ),
                    ("ROBOTOFF__REDIS__START_FROM", "beginning".into()),
                    ("ROBOTOFF__CLUSTER__ENABLED", clustered.to_string()),
                    ("ROBOTOFF__CLUSTER__NAME", format!("bench-{tag}")),
                    ("ROBOTOFF__CLUSTER__NODE_ID", format!("node-{i}")),
                    ("ROBOTOFF__HTTP__ADDR", format!("127.0.0.1:{port}")),
                    ("ROBOTOFF__WORKERS__SHARDS", SHARDS.to_string()),
                    ("ROBOTOFF__WORKERS__UPDATE_WAIT_SECS", "0".into()),
                    ("ROBOTOFF__ANNOTATION__VOTES_TO_APPLY", "1000000".into()),
                    ("ROBOTOFF__SCHEDULER__DATASET_URL", String::new()),
                    (
                        "ROBOTOFF__SCHEDULER__TAXONOMY_REFRESH_INTERVAL_SECS",
                        "0".into(),
                    ),
                    (
                        "ROBOTOFF__INDEX__DIR",
                        std::env::temp_dir()
                            .join(format!("robotoff-bench-index-{tag}-{i}"))
                            .display()
                            .to_string(),
                    ),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
                let mut node = Node {
                    id: format!("node-{i}"),
                    port,
                    env,
                    child: None,
                };
                node.start(&bin);
                node
            })
            .collect();
        for node in &nodes {
            let seen = wait_for(Duration::from_secs(90), || async {
                if clustered {
                    members(&client, node).await == n
                } else {
                    client
                        .get(node.url("/api/v1/status"))
                        .send()
                        .await
                        .is_ok_and(|r| r.status().is_success())
                }
            })
            .await;
            assert!(seen.is_some(), "{} did not start", node.id);
        }
        if clustered {
            println!("\n== {n} node(s)");
        } else {
            println!("\n== 1 node, cluster mode off");
        }

        // Events per second: from the first entry written to the last job done.
        let cpu0 = cpu_of(&nodes);
        let t0 = Instant::now();
        xadd_deletions(&redis, &stream, events).await;
        let done = wait_for(Duration::from_secs(900), || async {
            count(&pool, "SELECT count(*) FROM job WHERE state = 'done'").await >= events as i64
        })
        .await;
        let elapsed = done.map(|_| t0.elapsed().as_secs_f64()).unwrap_or(f64::NAN);
        let cpu1 = cpu_of(&nodes);
        println!(
            "events: {events} in {elapsed:.2} s = {:.0} events/s (CPU {})",
            events as f64 / elapsed,
            cpu_line(&cpu0, &cpu1, elapsed)
        );

        // Question listings spread over the nodes.
        let paths = question_paths(&nodes);
        let _ = load(&client, paths.clone(), 2.0, 16).await;
        let cpu0 = cpu_of(&nodes);
        let rps = load(&client, paths.clone(), secs, 16).await;
        let cpu1 = cpu_of(&nodes);
        println!(
            "/questions/{{barcode}}: {rps:.0} req/s over {n} node(s), 16 callers (CPU {})",
            cpu_line(&cpu0, &cpu1, secs)
        );

        if n == 3 {
            failover(&client, &pool, &mut nodes, &bin).await;
            vote_storm(&client, &nodes, secs, vote_rate).await;
        }
        for node in &mut nodes {
            node.stop();
        }
        pool.close().await;
    }
}

async fn holder(pool: &PgPool) -> Option<String> {
    sqlx::query_scalar(
        "SELECT holder FROM cluster_lease WHERE name = 'update_listener' AND expires_at > now()",
    )
    .fetch_optional(pool)
    .await
    .ok()
    .flatten()
}

/// Shards locked per node name, from PostgreSQL's lock table.
async fn locked_by(pool: &PgPool, node: &str) -> (usize, usize) {
    let holders = robotoff::infra::db::cluster::shard_holders(pool)
        .await
        .unwrap_or_default();
    let mine = holders.iter().filter(|(_, h)| h == node).count();
    (mine, holders.len())
}

async fn failover(client: &reqwest::Client, pool: &PgPool, nodes: &mut [Node], bin: &str) {
    let mut shards_times = Vec::new();
    let mut lease_times = Vec::new();
    for _ in 0..3 {
        let Some(h) = holder(pool).await else {
            println!("failover: no listener holder");
            return;
        };
        let Some(i) = nodes.iter().position(|n| n.id == h) else {
            return;
        };
        let (owned, _) = locked_by(pool, &h).await;
        nodes[i].kill_9();
        // Both measured from the kill.
        let t0 = Instant::now();
        let (mut shards, mut lease) = (None, None);
        while t0.elapsed() < Duration::from_secs(60) && (shards.is_none() || lease.is_none()) {
            if shards.is_none() {
                let (mine, all) = locked_by(pool, &h).await;
                if mine == 0 && all == SHARDS as usize {
                    shards = Some(t0.elapsed());
                }
            }
            if lease.is_none() && holder(pool).await.is_some_and(|x| x != h) {
                lease = Some(t0.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if let (Some(s), Some(l)) = (shards, lease) {
            shards_times.push(s.as_secs_f64());
            lease_times.push(l.as_secs_f64());
            println!(
                "failover: kill -9 of {h} ({owned} shards) → its shards locked elsewhere after {:.2} s, listener taken over after {:.2} s",
                s.as_secs_f64(),
                l.as_secs_f64()
            );
        }
        nodes[i].start(bin);
        let node = &nodes[i];
        let _ = wait_for(Duration::from_secs(90), || async {
            members(client, node).await == 3
        })
        .await;
        // Let rendezvous hand the restarted node its shards back.
        let _ = wait_for(Duration::from_secs(30), || async {
            locked_by(pool, &h).await.0 > 0
        })
        .await;
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
    };
    println!(
        "failover median: shards {:.2} s, listener {:.2} s",
        median(&mut shards_times),
        median(&mut lease_times)
    );
}

/// Votes on node 1 at `rate` a second for `secs`, each from a device of its own, on
/// the first 100 category questions; returns (sent, accepted).
fn storm(
    client: &reqwest::Client,
    node: &Node,
    secs: f64,
    rate: u64,
    round: &'static str,
) -> tokio::task::JoinHandle<(u64, u64)> {
    let client = client.clone();
    let url = node.url("/api/v1/insights/annotate");
    let ids_url = node.url("/api/v1/questions?count=100&insight_types=category");
    tokio::spawn(async move {
        let ids: Vec<String> = match client.get(&ids_url).send().await {
            Ok(r) => r
                .json::<serde_json::Value>()
                .await
                .ok()
                .and_then(|v| {
                    v["questions"].as_array().map(|q| {
                        q.iter()
                            .filter_map(|x| x["insight_id"].as_str().map(String::from))
                            .collect()
                    })
                })
                .unwrap_or_default(),
            Err(_) => Vec::new(),
        };
        if ids.is_empty() {
            return (0u64, 0u64);
        }
        let start = Instant::now();
        let total = (rate as f64 * secs) as u64;
        let sent = Arc::new(AtomicU64::new(0));
        let ok = Arc::new(AtomicU64::new(0));
        futures::stream::iter(0..total)
            .for_each_concurrent(64, |k| {
                let client = client.clone();
                let url = url.clone();
                let id = ids[k as usize % ids.len()].clone();
                let sent = sent.clone();
                let ok = ok.clone();
                async move {
                    let due = Duration::from_secs_f64(k as f64 / rate as f64);
                    if let Some(wait) = due.checked_sub(start.elapsed()) {
                        tokio::time::sleep(wait).await;
                    }
                    sent.fetch_add(1, Ordering::Relaxed);
                    let form = [
                        ("insight_id", id),
                        ("annotation", "0".to_string()),
                        ("update", "0".to_string()),
                        ("device_id", format!("storm-{round}-{k}")),
                    ];
                    if let Ok(r) = client.post(&url).form(&form).send().await {
                        if r.status().is_success() {
                            ok.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
            .await;
        (sent.load(Ordering::Relaxed), ok.load(Ordering::Relaxed))
    })
}

/// The cost of the listing notices of a vote storm on node 1: the CPU nodes 2 and 3
/// spend idle, then receiving the storm's notices with no other work, then the rate of
/// listings they serve without and with the storm.
async fn vote_storm(client: &reqwest::Client, nodes: &[Node], secs: f64, rate: u64) {
    let paths = question_paths(&nodes[1..]);
    let cpu0 = cpu_of(nodes);
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    let cpu1 = cpu_of(nodes);
    println!("idle: CPU {}", cpu_line(&cpu0, &cpu1, secs));
    let received_before = notices(client, &nodes[1]).await;
    let (sent, ok) = storm(client, &nodes[0], secs, rate, "a")
        .await
        .unwrap_or((0, 0));
    let cpu2 = cpu_of(nodes);
    let received = notices(client, &nodes[1]).await - received_before;
    println!(
        "vote storm alone: {ok}/{sent} votes on node-1 in {secs} s; node-2 received {received} listing notices (CPU {})",
        cpu_line(&cpu1, &cpu2, secs)
    );
    let quiet = load(client, paths.clone(), secs, 16).await;
    let cpu3 = cpu_of(nodes);
    println!(
        "listings alone on nodes 2-3: {quiet:.0} req/s (CPU {})",
        cpu_line(&cpu2, &cpu3, secs)
    );
    let received_before = notices(client, &nodes[1]).await;
    let clears_before = full_clears(client, &nodes[1]).await;
    let voter = storm(client, &nodes[0], secs, rate, "b");
    let stormy = load(client, paths, secs, 16).await;
    let (sent, ok) = voter.await.unwrap_or((0, 0));
    let cpu4 = cpu_of(nodes);
    let received = notices(client, &nodes[1]).await - received_before;
    let clears = full_clears(client, &nodes[1]).await - clears_before;
    println!(
        "listings on nodes 2-3 during the storm: {stormy:.0} req/s; {ok}/{sent} votes; node-2 received {received} listing notices and cleared its whole cache {clears} times (CPU {})",
        cpu_line(&cpu3, &cpu4, secs)
    );
}

/// The sum of a node's metric lines starting with `name` and holding every label of `labels`.
async fn metric(client: &reqwest::Client, node: &Node, name: &str, labels: &[&str]) -> u64 {
    let Ok(r) = client.get(node.url("/metrics")).send().await else {
        return 0;
    };
    let text = r.text().await.unwrap_or_default();
    text.lines()
        .filter(|l| l.starts_with(name) && labels.iter().all(|x| l.contains(x)))
        .filter_map(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()))
        .sum::<f64>() as u64
}

/// Listing notices a node received from the others.
async fn notices(client: &reqwest::Client, node: &Node) -> u64 {
    let labels = ["kind=\"listings\"", "step=\"received\""];
    metric(client, node, "robotoff_cluster_notices_total", &labels).await
}

/// Times a node's listing cache forgot everything.
async fn full_clears(client: &reqwest::Client, node: &Node) -> u64 {
    let labels = ["scope=\"all\""];
    metric(client, node, "robotoff_listing_cache_clears_total", &labels).await
}
