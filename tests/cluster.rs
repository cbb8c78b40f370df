//! Cluster mode with three `robotoff serve` processes on one PostgreSQL and one Redis
//! (architecture "Cluster mode"; invariants 1 and 2 across nodes): a node killed with
//! SIGKILL in the middle of a stream, Redis stopped for 30 s, nodes started and stopped
//! in random order, a vote seen by every node's listings, cluster-wide tasks run once,
//! and the update listener's lease fencing a holder that lost it.

mod common;

use common::redis_server::{free_port, redis_ready, OwnRedis};
use common::stream_events::{
    assert_effects_exactly_once, events, produce, product_opener, Streams, EVENTS, PRODUCTS,
};
use common::{count, fresh_database, redis_url, wait_until};
use rand::Rng;
use robotoff::infra::db::{cluster as lease, jobs};
use robotoff::jobs::{JobKind, NewJob, Priority};
use robotoff::types::ServerType;
use serde_json::{json, Value};
use sqlx::PgPool;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SHARDS: u32 = 12;

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

/// One node of a test cluster: a `robotoff serve` process that can be killed and
/// started again with the same identity.
struct Node {
    id: String,
    port: u16,
    env: Vec<(String, String)>,
    child: Option<Child>,
}

struct ClusterSpec<'a> {
    db: &'a str,
    redis: &'a str,
    name: String,
    streams: Option<&'a Streams>,
    po: Option<SocketAddr>,
    extra: Vec<(&'static str, String)>,
}

impl<'a> ClusterSpec<'a> {
    fn new(db: &'a str, redis: &'a str) -> Self {
        ClusterSpec {
            db,
            redis,
            name: format!("test-{}", uuid::Uuid::new_v4().simple()),
            streams: None,
            po: None,
            extra: Vec::new(),
        }
    }

    fn node(&self, i: usize) -> Node {
        self.node_with(i, &[])
    }

    /// Node `i` with settings of its own over the cluster's.
    fn node_with(&self, i: usize, own: &[(&str, &str)]) -> Node {
        let port = free_port();
        let index = std::env::temp_dir().join(format!("robotoff-cluster-index-{}-{i}", self.name));
        let mut env: Vec<(String, String)> = vec![
            ("ROBOTOFF__LOG__LEVEL", "warn".to_string()),
            (
                "ROBOTOFF__DATA__DIR",
                common::shared_data_dir().display().to_string(),
            ),
            ("ROBOTOFF__DATABASE__URL", self.db.to_string()),
            ("ROBOTOFF__DATABASE__MAX_CONNECTIONS", "12".to_string()),
            ("ROBOTOFF__REDIS__URL", self.redis.to_string()),
            ("ROBOTOFF__CLUSTER__ENABLED", "true".to_string()),
            ("ROBOTOFF__CLUSTER__NAME", self.name.clone()),
            ("ROBOTOFF__CLUSTER__NODE_ID", format!("node-{i}")),
            ("ROBOTOFF__CLUSTER__HEARTBEAT_MS", "300".to_string()),
            ("ROBOTOFF__CLUSTER__LEASE_MS", "2000".to_string()),
            ("ROBOTOFF__CLUSTER__REPAIR_MS", "500".to_string()),
            ("ROBOTOFF__HTTP__ADDR", format!("127.0.0.1:{port}")),
            ("ROBOTOFF__WORKERS__SHARDS", SHARDS.to_string()),
            ("ROBOTOFF__WORKERS__POLL_INTERVAL_MS", "200".to_string()),
            ("ROBOTOFF__WORKERS__UPDATE_WAIT_SECS", "0.2".to_string()),
            ("ROBOTOFF__WORKERS__RETRY_BASE_SECS", "0".to_string()),
            ("ROBOTOFF__WORKERS__RETRY_MAX_SECS", "1".to_string()),
            ("ROBOTOFF__INDEX__DIR", index.display().to_string()),
            ("ROBOTOFF__SCHEDULER__DATASET_URL", String::new()),
            (
                "ROBOTOFF__SCHEDULER__TAXONOMY_REFRESH_INTERVAL_SECS",
                "0".to_string(),
            ),
            ("ROBOTOFF__REDIS__START_FROM", "beginning".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        if let Some(s) = self.streams {
            env.push((
                "ROBOTOFF__REDIS__PRODUCT_UPDATES_STREAM".into(),
                s.updates.clone(),
            ));
            env.push(("ROBOTOFF__REDIS__OCR_READY_STREAM".into(), s.ocr.clone()));
        }
        if let Some(po) = self.po {
            env.push((
                "ROBOTOFF__PRODUCT_OPENER__REFRESH_PRODUCTS".into(),
                "true".into(),
            ));
            env.push((
                "ROBOTOFF__PRODUCT_OPENER__OFF__API_URL".into(),
                format!("http://{po}"),
            ));
            env.push((
                "ROBOTOFF__PRODUCT_OPENER__OFF__IMAGES_URL".into(),
                format!("http://{po}"),
            ));
        }
        for (k, v) in &self.extra {
            env.push((k.to_string(), v.clone()));
        }
        for (k, v) in own {
            env.push((k.to_string(), v.to_string()));
        }
        let mut node = Node {
            id: format!("node-{i}"),
            port,
            env,
            child: None,
        };
        node.start();
        node
    }
}

impl Node {
    fn start(&mut self) {
        if self.child.is_some() {
            return;
        }
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_robotoff"));
        for (key, _) in std::env::vars() {
            if key.starts_with("ROBOTOFF__") {
                cmd.env_remove(key);
            }
        }
        cmd.arg("serve");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn robotoff serve");
        self.child = Some(child);
    }

    fn kill_9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, then waits for the process to end.
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if matches!(c.try_wait(), Ok(Some(_))) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    async fn cluster(&self) -> Option<Value> {
        let r = http().get(self.url("/api/v1/cluster")).send().await.ok()?;
        r.json().await.ok()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill_9();
    }
}

/// Waits until every running node sees `n` members.
async fn members_seen(nodes: &[Node], n: usize, limit: Duration) {
    for node in nodes.iter().filter(|n| n.child.is_some()) {
        wait_until(
            limit,
            &format!("{} sees {n} members", node.id),
            || async move {
                let c = node.cluster().await?;
                (c["members"].as_array()?.len() == n).then_some(())
            },
        )
        .await;
    }
}

/// Probe jobs spread over `products` products: each records when it ran, so any two
/// runs of one product overlapping in time can be found.
async fn enqueue_probes(pool: &PgPool, n: usize, products: usize, sleep_ms: u64) {
    let batch: Vec<NewJob> = (0..n)
        .map(|i| {
            NewJob::new(JobKind::Probe, Priority::High)
                .for_product(format!("5{:012}", i % products), ServerType::Off)
                .payload(json!({"sleep_ms": sleep_ms}))
        })
        .collect();
    jobs::enqueue_many(pool, &batch, SHARDS, 5)
        .await
        .expect("enqueue probes");
}

/// Every probe ran exactly once, and no two jobs of one product overlapped.
async fn assert_probes_once_without_overlap(pool: &PgPool, n: i64) {
    assert_eq!(
        count(pool, "SELECT count(*) FROM job_probe").await,
        n,
        "each probe's effect once"
    );
    assert_eq!(
        count(pool, "SELECT count(DISTINCT job_id) FROM job_probe").await,
        n
    );
    let overlaps = count(
        pool,
        "SELECT count(*) FROM (
             SELECT started_at, lag(finished_at) OVER (PARTITION BY barcode ORDER BY started_at) AS prev_end
             FROM job_probe) t WHERE prev_end IS NOT NULL AND started_at < prev_end",
    )
    .await;
    assert_eq!(
        overlaps, 0,
        "jobs of one product never overlap, across nodes"
    );
}

async fn all_jobs_done(pool: &PgPool, want: i64, limit: Duration) {
    let pool = pool.clone();
    wait_until(limit, "every job done", move || {
        let pool = pool.clone();
        async move {
            let done = count(&pool, "SELECT count(*) FROM job WHERE state = 'done'").await;
            let open = count(&pool, "SELECT count(*) FROM job WHERE state <> 'done'").await;
            (done >= want && open == 0).then_some(())
        }
    })
    .await;
}

async fn listener_holder(pool: &PgPool) -> Option<(String, i64)> {
    sqlx::query_as("SELECT holder, epoch FROM cluster_lease WHERE name = 'update_listener' AND expires_at > now()")
        .fetch_optional(pool)
        .await
        .expect("lease")
}

/// Shard → holders, from PostgreSQL's lock table.
async fn shard_holders(pool: &PgPool) -> Vec<(i32, String)> {
    lease::shard_holders(pool).await.expect("shard holders")
}

/// 10,000 stream events and 1,200 probe jobs while the node reading the stream is
/// killed with SIGKILL and later restarted: the listener is taken over, every event's
/// effects exist exactly once, and no product's jobs ever overlap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_events_through_a_kill_9_of_the_listener_node() {
    let po = product_opener().await;
    let db = fresh_database().await;
    let pool = PgPool::connect(&db).await.expect("pool");
    let streams = Streams::unique(redis_url());
    let redis = redis_url();
    let mut spec = ClusterSpec::new(&db, &redis);
    spec.streams = Some(&streams);
    spec.po = Some(po.addr);
    let mut nodes: Vec<Node> = (1..=3).map(|i| spec.node(i)).collect();
    members_seen(&nodes, 3, Duration::from_secs(60)).await;
    enqueue_probes(&pool, 1_200, 60, 5).await;

    let producer = {
        let streams = streams.clone();
        tokio::spawn(async move { produce(&streams, events()).await })
    };
    wait_until(Duration::from_secs(120), "a third of the events in", || {
        let pool = pool.clone();
        async move {
            (count(&pool, "SELECT count(*) FROM job WHERE kind <> 'probe'").await >= 3_000)
                .then_some(())
        }
    })
    .await;
    let (holder, epoch) = listener_holder(&pool)
        .await
        .expect("a node reads the stream");
    let victim = nodes
        .iter()
        .position(|n| n.id == holder)
        .expect("holder is a node");
    nodes[victim].kill_9();
    let killed_at = Instant::now();
    let (new_holder, new_epoch) =
        wait_until(Duration::from_secs(30), "listener taken over", || {
            let pool = pool.clone();
            let holder = holder.clone();
            async move { listener_holder(&pool).await.filter(|(h, _)| *h != holder) }
        })
        .await;
    let takeover = killed_at.elapsed();
    assert!(new_epoch > epoch, "a takeover moves the epoch on");
    assert_ne!(new_holder, holder);
    producer.await.expect("producer");
    nodes[victim].start();

    let expected_jobs = (EVENTS + 3 * PRODUCTS) as i64 + 1_200;
    all_jobs_done(&pool, expected_jobs, Duration::from_secs(600)).await;
    eprintln!("listener taken over {takeover:?} after the kill");
    members_seen(&nodes, 3, Duration::from_secs(30)).await;
    for n in &mut nodes {
        n.stop();
    }
    assert_probes_once_without_overlap(&pool, 1_200).await;
    sqlx::query("DELETE FROM job WHERE kind = 'probe'")
        .execute(&pool)
        .await
        .expect("probes out of the job counts");
    assert_effects_exactly_once(&pool).await;
}

/// Redis stopped for 30 s under load: no shard changes hands while the nodes cannot see
/// each other (the locks they hold keep every shard fenced; a node restarted meanwhile
/// starts and takes none), no job is lost or doubled, and membership heals when Redis
/// returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopped_for_30_s_moves_no_shard_and_loses_no_job() {
    let dir = tempfile::tempdir().expect("dir");
    let port = free_port();
    let own = OwnRedis::start(dir.path(), port);
    redis_ready(&own.url(), "own redis up").await;
    let db = fresh_database().await;
    let pool = PgPool::connect(&db).await.expect("pool");
    let redis = own.url();
    let spec = ClusterSpec::new(&db, &redis);
    let mut nodes: Vec<Node> = (1..=3).map(|i| spec.node(i)).collect();
    members_seen(&nodes, 3, Duration::from_secs(60)).await;
    wait_until(Duration::from_secs(30), "every shard owned", || {
        let pool = pool.clone();
        async move { (shard_holders(&pool).await.len() == SHARDS as usize).then_some(()) }
    })
    .await;
    let probes = 3_000;
    enqueue_probes(&pool, probes, 90, 10).await;
    let before: BTreeSet<(i32, String)> = shard_holders(&pool).await.into_iter().collect();

    own.stop();
    let outage = Instant::now();
    let mut seen: BTreeSet<(i32, String)> = BTreeSet::new();
    let mut restarted = false;
    while outage.elapsed() < Duration::from_secs(30) {
        if !restarted && outage.elapsed() > Duration::from_secs(5) {
            // A node that starts while Redis is away starts, and takes no shard.
            nodes[2].kill_9();
            nodes[2].start();
            restarted = true;
        }
        let holders = shard_holders(&pool).await;
        let mut per_shard: BTreeMap<i32, usize> = BTreeMap::new();
        for (s, _) in &holders {
            *per_shard.entry(*s).or_default() += 1;
        }
        assert!(
            per_shard.values().all(|n| *n == 1),
            "a shard has one owner: {holders:?}"
        );
        seen.extend(holders);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        seen.is_subset(&before),
        "no shard changed hands without Redis: before {before:?}, during {seen:?}"
    );
    let status = http()
        .get(nodes[2].url("/api/v1/status"))
        .send()
        .await
        .map(|r| r.status().as_u16());
    assert_eq!(status.ok(), Some(200), "a node starts without Redis");
    let done_during = count(&pool, "SELECT count(*) FROM job_probe").await;
    assert!(
        done_during > 0,
        "the nodes went on working on the shards they held"
    );

    let back = OwnRedis::start(dir.path(), port);
    redis_ready(&back.url(), "own redis back").await;
    members_seen(&nodes, 3, Duration::from_secs(30)).await;
    all_jobs_done(&pool, probes as i64, Duration::from_secs(300)).await;
    for n in &mut nodes {
        n.stop();
    }
    assert_probes_once_without_overlap(&pool, probes as i64).await;
}

/// A vote on node A (an api-only node), then the question listings on nodes B and C,
/// which had cached them: the question is gone from both within 200 ms for its voter,
/// still asked of other callers, and gone for everyone once a second vote settles it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vote_on_one_node_leaves_the_listings_of_the_others_within_200_ms() {
    let db = fresh_database().await;
    let pool = PgPool::connect(&db).await.expect("pool");
    let redis = redis_url();
    let mut spec = ClusterSpec::new(&db, &redis);
    spec.extra
        .push(("ROBOTOFF__HTTP__LISTING_CACHE_MS", "5000".into()));
    spec.extra
        .push(("ROBOTOFF__ANNOTATION__VOTES_TO_APPLY", "2".into()));
    spec.extra
        .push(("ROBOTOFF__HTTP__TRUSTED_PROXIES", r#"["127.0.0.1"]"#.into()));
    // Node A serves the API only: it annotates without product shards of its own.
    let nodes: Vec<Node> = vec![
        spec.node_with(1, &[("ROBOTOFF__ROLES", "api")]),
        spec.node(2),
        spec.node(3),
    ];
    members_seen(&nodes, 3, Duration::from_secs(60)).await;
    let holders = wait_until(
        Duration::from_secs(30),
        "the worker nodes own every shard",
        || {
            let pool = pool.clone();
            async move {
                let holders = shard_holders(&pool).await;
                (holders.len() == SHARDS as usize).then_some(holders)
            }
        },
    )
    .await;
    for (shard, node) in holders {
        assert_ne!(node, "node-1", "an api node owns no shard ({shard})");
    }
    let client = http();
    let listed = |node: &Node, barcode: &str, device: &str| {
        let url = node.url(&format!("/api/v1/questions/{barcode}?device_id={device}"));
        let client = client.clone();
        async move {
            let body: Value = client
                .get(url)
                .send()
                .await
                .expect("list")
                .json()
                .await
                .expect("json");
            body["questions"].as_array().map(Vec::len).unwrap_or(0)
        }
    };
    // Each voter comes from an address of its own (anonymous votes count once per address).
    let vote = |id: uuid::Uuid, device: &str, address: &'static str| {
        let form = [
            ("insight_id", id.to_string()),
            ("annotation", "0".to_string()),
            ("update", "0".to_string()),
            ("device_id", device.to_string()),
        ];
        let req = client
            .post(nodes[0].url("/api/v1/insights/annotate"))
            .header("x-forwarded-for", address)
            .form(&form);
        async move {
            let body: Value = req.send().await.expect("vote").json().await.expect("json");
            body["status"].as_str().unwrap_or_default().to_string()
        }
    };
    // How long until `device` no longer gets the question from nodes B and C.
    let others = &nodes[1..];
    let listed = &listed;
    let gone = |barcode: String, device: String| async move {
        let at = Instant::now();
        for node in others {
            while listed(node, &barcode, &device).await > 0 {
                assert!(
                    at.elapsed() < Duration::from_secs(2),
                    "{} still lists the answered question for {device}",
                    node.id
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        at.elapsed()
    };
    let mut worst = Duration::ZERO;
    for round in 0..5 {
        let barcode = format!("3{:012}", 1000 + round);
        let id = common::insert_category_insight(&pool, &barcode).await;
        let (voter, bystander, second) = (
            format!("voter-{round}"),
            format!("bystander-{round}"),
            format!("second-{round}"),
        );
        // Nodes B and C answer (and cache) the listings with the question.
        for node in &nodes[1..] {
            assert_eq!(listed(node, &barcode, &voter).await, 1);
            assert_eq!(listed(node, &barcode, &bystander).await, 1);
        }
        // A vote that settles nothing: gone for its voter, still asked of others.
        assert_eq!(vote(id, &voter, "10.0.0.1").await, "vote_saved");
        worst = worst.max(gone(barcode.clone(), voter.clone()).await);
        for node in &nodes[1..] {
            assert_eq!(
                listed(node, &barcode, &bystander).await,
                1,
                "others still get it"
            );
        }
        // The second agreeing vote settles the insight: gone for everyone.
        let settled = vote(id, &second, "10.0.0.2").await;
        assert!(!settled.starts_with("error"), "{settled}");
        worst = worst.max(gone(barcode.clone(), bystander.clone()).await);
    }
    eprintln!("slowest vote to disappear from both other nodes: {worst:?}");
    assert!(
        worst < Duration::from_millis(200),
        "the answered question lingered {worst:?}"
    );
}

/// Three nodes started and stopped (SIGTERM or SIGKILL) in random order while probe
/// jobs run: none is lost, none runs twice, no product's jobs overlap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_starting_and_stopping_in_random_order_lose_and_double_no_job() {
    let db = fresh_database().await;
    let pool = PgPool::connect(&db).await.expect("pool");
    let redis = redis_url();
    let spec = ClusterSpec::new(&db, &redis);
    let mut nodes: Vec<Node> = (1..=3).map(|i| spec.node(i)).collect();
    let probes = 2_000;
    enqueue_probes(&pool, probes, 100, 8).await;
    let mut rng = rand::rng();
    for _ in 0..8 {
        let i = rng.random_range(0..nodes.len());
        if nodes[i].child.is_some() {
            if rng.random_bool(0.5) {
                nodes[i].kill_9();
            } else {
                nodes[i].stop();
            }
        } else {
            nodes[i].start();
        }
        tokio::time::sleep(Duration::from_millis(rng.random_range(500..2_500))).await;
    }
    for n in &mut nodes {
        n.start();
    }
    all_jobs_done(&pool, probes as i64, Duration::from_secs(300)).await;
    members_seen(&nodes, 3, Duration::from_secs(30)).await;
    for n in &mut nodes {
        n.stop();
    }
    assert_probes_once_without_overlap(&pool, probes as i64).await;
}

/// The scheduler's cluster-wide tasks run once per scheduled time, though every node's
/// timer fires: over 12 s of a 3 s task on three nodes, about 4 runs, not 12.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_wide_tasks_run_once_across_three_nodes() {
    let db = fresh_database().await;
    let pool = PgPool::connect(&db).await.expect("pool");
    let redis = redis_url();
    let mut spec = ClusterSpec::new(&db, &redis);
    spec.extra
        .push(("ROBOTOFF__ANNOTATION__AUTO_APPLY_INTERVAL_SECS", "3".into()));
    spec.extra
        .push(("ROBOTOFF__ANNOTATION__AUTO_APPLY_JITTER_SECS", "0".into()));
    let mut nodes: Vec<Node> = (1..=3).map(|i| spec.node(i)).collect();
    members_seen(&nodes, 3, Duration::from_secs(60)).await;
    let started: i64 = sqlx::query_scalar(
        "SELECT coalesce((SELECT runs FROM scheduler_task WHERE name = 'auto_apply_insights'), 0)",
    )
    .fetch_one(&pool)
    .await
    .expect("runs");
    tokio::time::sleep(Duration::from_secs(12)).await;
    let (runs, ok, node): (i64, Option<bool>, Option<String>) = sqlx::query_as(
        "SELECT runs, ok, node FROM scheduler_task WHERE name = 'auto_apply_insights'",
    )
    .fetch_one(&pool)
    .await
    .expect("the task ran");
    for n in &mut nodes {
        n.stop();
    }
    let runs = runs - started;
    assert!(
        (3..=6).contains(&runs),
        "a 3 s task over 12 s runs about 4 times in the whole cluster, not once per node: {runs}"
    );
    assert!(node.is_some_and(|n| n.starts_with("node-")));
    assert_ne!(ok, Some(false), "its outcome is recorded");
}

/// The update listener's lease: one holder; a holder whose lease lapsed and was taken
/// cannot renew it nor write with its old epoch; the new holder's epoch is higher.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lapsed_listener_lease_fences_its_old_holder() {
    let db = fresh_database().await;
    let pool = PgPool::connect(&db).await.expect("pool");
    let ttl = Duration::from_millis(300);
    let name = lease::LISTENER_LEASE;
    let a = lease::acquire_lease(&pool, name, "a", ttl)
        .await
        .expect("a");
    assert_eq!(a, Some(1));
    assert_eq!(
        lease::acquire_lease(&pool, name, "b", ttl)
            .await
            .expect("b"),
        None,
        "held by a"
    );
    assert_eq!(
        lease::acquire_lease(&pool, name, "a", ttl)
            .await
            .expect("renew"),
        Some(1),
        "renewal keeps the epoch"
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    let b = lease::acquire_lease(&pool, name, "b", ttl)
        .await
        .expect("b takes it");
    assert_eq!(b, Some(2));
    let mut tx = pool.begin().await.expect("tx");
    assert!(
        !lease::holds_lease(&mut tx, name, "a", 1)
            .await
            .expect("check"),
        "a is fenced"
    );
    assert!(lease::holds_lease(&mut tx, name, "b", 2)
        .await
        .expect("check"));
    tx.rollback().await.expect("rollback");
    assert_eq!(
        lease::acquire_lease(&pool, name, "a", ttl)
            .await
            .expect("a again"),
        None
    );
    assert!(lease::release_lease(&pool, name, "b", 2)
        .await
        .expect("release"));
    assert_eq!(
        lease::acquire_lease(&pool, name, "a", ttl)
            .await
            .expect("a after release"),
        Some(3)
    );
}

/// A notice lost on Redis (here: never published, only recorded in PostgreSQL as another
/// node would) is caught up from the generations table within `cluster.repair_ms`, and
/// one already applied is not applied again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notice_lost_on_redis_is_caught_up_from_postgresql() {
    use robotoff::cluster::NoticeKind;
    let db = fresh_database().await;
    let mut s = common::settings(&db);
    s.redis.url = Some(redis_url().into());
    s.cluster.enabled = true;
    s.cluster.name = format!("test-{}", uuid::Uuid::new_v4().simple());
    s.cluster.node_id = "solo".into();
    s.cluster.repair_ms = 200;
    s.roles = vec![robotoff::config::Role::Api];
    let app = common::spawn_app(s).await;
    let hub = app.services.hub.clone();
    let mut notices = hub.subscribe();
    let g = lease::bump_generation(&app.pool, "listings", &json!([]), "another-node")
        .await
        .expect("bump");
    wait_until(Duration::from_secs(5), "generation caught up", || {
        let hub = hub.clone();
        async move { (hub.seen(NoticeKind::Listings) == g).then_some(()) }
    })
    .await;
    let notice = tokio::time::timeout(Duration::from_secs(1), notices.recv())
        .await
        .expect("a notice")
        .expect("notice");
    assert_eq!(notice.kind, NoticeKind::Listings);
    assert_eq!(notice.origin, robotoff::cluster::Origin::Remote);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(notices.try_recv().is_err(), "applied once");
    app.shutdown().await;
}

/// What a job's transaction wrote is known before it commits: insights, logo embeddings.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_knows_whether_it_wrote_insights() {
    let db = fresh_database().await;
    let pool = PgPool::connect(&db).await.expect("pool");
    let mut tx = pool.begin().await.expect("tx");
    let none = lease::written_in_transaction(&mut tx)
        .await
        .expect("written");
    assert!(!none.insights && !none.logo_embeddings);
    common::insert_category_insight(&mut *tx, "3000000000017").await;
    let some = lease::written_in_transaction(&mut tx)
        .await
        .expect("written");
    assert!(some.insights && !some.logo_embeddings);
    tx.rollback().await.expect("rollback");
}
