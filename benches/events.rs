//! The event pipeline under load: Product Opener stream events (Zipf barcodes; 70%
//! product updates, 20% image uploads followed by OCR ready, 10% deletions) at a steady
//! rate, plus a burst of bot events (`update_all_products`) in the middle. Reports the
//! rate at which events become durable jobs, jobs completed per second, and the lag of
//! user events (event → job start, minus the deliberate update wait) while the burst
//! drains.
//!
//! Needs `ROBOTOFF_BENCH_DATABASE_URL` (an empty database) and `ROBOTOFF_BENCH_REDIS_URL`;
//! `scripts/bench-events` starts both. Sizes: `ROBOTOFF_BENCH_PRODUCTS` (20000),
//! `ROBOTOFF_BENCH_RATE` (user events/s, 200), `ROBOTOFF_BENCH_SECONDS` (60),
//! `ROBOTOFF_BENCH_BURST` (bot events, 1000000).

#[path = "../tests/common/po.rs"]
mod po;

use anyhow::Context;
use po::{real_ocr_document, ProductOpenerStandIn};
use rand::distr::Distribution;
use robotoff::app::App;
use robotoff::config::{Overrides, Settings};
use robotoff::infra::db::products;
use robotoff::types::{Product, ServerType};
use serde_json::json;
use sqlx::PgPool;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn barcode(i: usize) -> String {
    format!("{:013}", 3_100_000_000_000u64 + i as u64 * 11)
}

/// Zipf-distributed product indices (a few products get most of the edits).
struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    fn new(n: usize, s: f64) -> Zipf {
        let mut acc = 0.0;
        let mut cdf = Vec::with_capacity(n);
        for k in 1..=n {
            acc += 1.0 / (k as f64).powf(s);
            cdf.push(acc);
        }
        for v in &mut cdf {
            *v /= acc;
        }
        Zipf { cdf }
    }
}

impl Distribution<usize> for Zipf {
    fn sample<R: rand::Rng + ?Sized>(&self, rng: &mut R) -> usize {
        let u: f64 = rng.random();
        self.cdf.partition_point(|c| *c < u)
    }
}

/// The Product Opener stand-in: the product API (any barcode) and the image host (the
/// same real OCR document for every image).
async fn product_opener() -> ProductOpenerStandIn {
    let po = ProductOpenerStandIn::start().await;
    po.serve_ocr_for_every_image(real_ocr_document());
    po.serve_any_product(json!({"product_type": "food", "lang": "fr",
        "product_name": "Biscuits 4 x 90 g", "countries_tags": ["en:france"],
        "images": {"1": {"sizes": {"full": {"w": 1000, "h": 1000}}, "uploaded_t": 1700000000}}}));
    po
}

fn product(i: usize) -> Product {
    let mut p = Product::new(barcode(i), ServerType::Off);
    p.lang = Some("fr".into());
    p.product_name = Some("Biscuits 4 x 90 g".into());
    p.countries_tags = vec!["en:france".into()];
    p.images =
        json!({"1": {"sizes": {"full": {"w": 1000, "h": 1000}}, "uploaded_t": 1_700_000_000}})
            .as_object()
            .cloned()
            .unwrap_or_default();
    p
}

async fn count(pool: &PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql)
        .fetch_one(pool)
        .await
        .unwrap_or(-1)
}

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .map(String::from)
        })
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

fn parse_id(id: &str) -> (u64, u64) {
    let (ms, seq) = id.split_once('-').unwrap_or((id, "0"));
    (ms.parse().unwrap_or(0), seq.parse().unwrap_or(0))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or(f64::NAN)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let db = std::env::var("ROBOTOFF_BENCH_DATABASE_URL")
        .context("ROBOTOFF_BENCH_DATABASE_URL (use scripts/bench-events)")?;
    let redis_url =
        std::env::var("ROBOTOFF_BENCH_REDIS_URL").context("ROBOTOFF_BENCH_REDIS_URL")?;
    let n_products = env_usize("ROBOTOFF_BENCH_PRODUCTS", 20_000);
    let rate = env_usize("ROBOTOFF_BENCH_RATE", 200);
    let seconds = env_usize("ROBOTOFF_BENCH_SECONDS", 60);
    let burst = env_usize("ROBOTOFF_BENCH_BURST", 1_000_000);
    let stand_in = product_opener().await;
    let po = stand_in.addr;

    let mut o = Overrides::default();
    o.set("database.url", db.clone());
    o.set("redis.url", redis_url.clone());
    o.set("redis.start_from", "latest");
    o.set("roles", "workers,listener");
    o.set("log.level", "warn");
    o.set(
        "data.dir",
        concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data"),
    );
    for flavor in ["off", "obf", "opff", "opf", "off_pro"] {
        o.set(
            &format!("product_opener.{flavor}.api_url"),
            format!("http://{po}"),
        );
        o.set(
            &format!("product_opener.{flavor}.images_url"),
            format!("http://{po}"),
        );
    }
    let settings = Settings::load(None, &o)?;
    let streams = (
        settings.redis.product_updates_stream.clone(),
        settings.redis.ocr_ready_stream.clone(),
    );
    let app = App::build(settings).await?;
    let pool = app.pool.clone();
    let products: Vec<Product> = (0..n_products).map(product).collect();
    for chunk in products.chunks(2000) {
        products::upsert_many(&pool, chunk).await?;
    }
    eprintln!("{n_products} products in the store; PO stand-in on {po}");

    let client = redis::Client::open(redis_url.as_str())?;
    let zipf = Arc::new(Zipf::new(n_products, 1.1));
    let sent_user = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let burst_at = Duration::from_secs((seconds as u64 / 4).max(1));

    // Steady user traffic; the entry ids of user events are kept to tell their jobs
    // from bot jobs a user event was merged into.
    let user_events: Arc<std::sync::Mutex<std::collections::HashSet<String>>> = Arc::default();
    let user = {
        let (client, zipf, sent, stop, streams, user_ids) = (
            client.clone(),
            zipf.clone(),
            sent_user.clone(),
            stop.clone(),
            streams.clone(),
            user_events.clone(),
        );
        tokio::spawn(async move {
            let mut conn = client.get_multiplexed_async_connection().await?;
            let tick = Duration::from_millis(100);
            let per_tick = (rate / 10).max(1);
            let mut interval = tokio::time::interval(tick);
            while !stop.load(Ordering::Relaxed) {
                interval.tick().await;
                let mut pipe = redis::pipe();
                {
                    let mut rng = rand::rng();
                    for _ in 0..per_tick {
                        let code = barcode(zipf.sample(&mut rng));
                        let roll: f64 = rand::Rng::random(&mut rng);
                        let base =
                            |p: &mut redis::Pipeline, extra: &[(&str, &str)], action: &str| {
                                let c = p.cmd("XADD");
                                c.arg(&streams.0)
                                    .arg("*")
                                    .arg("code")
                                    .arg(&code)
                                    .arg("product_type")
                                    .arg("food")
                                    .arg("user_id")
                                    .arg("contributor")
                                    .arg("action")
                                    .arg(action);
                                for (k, v) in extra {
                                    c.arg(*k).arg(*v);
                                }
                            };
                        if roll < 0.7 {
                            base(
                                &mut pipe,
                                &[("diffs", r#"{"fields": {"change": ["product_name"]}}"#)],
                                "updated",
                            );
                        } else if roll < 0.9 {
                            base(
                                &mut pipe,
                                &[("diffs", r#"{"uploaded_images": {"add": ["1"]}}"#)],
                                "updated",
                            );
                            pipe.cmd("XADD")
                                .arg(&streams.1)
                                .arg("*")
                                .arg("code")
                                .arg(&code)
                                .arg("product_type")
                                .arg("food")
                                .arg("image_id")
                                .arg("1");
                        } else {
                            base(&mut pipe, &[], "deleted");
                        }
                    }
                }
                let ids: Vec<String> = pipe.query_async(&mut conn).await?;
                if let Ok(mut set) = user_ids.lock() {
                    set.extend(ids);
                }
                sent.fetch_add(per_tick as u64, Ordering::Relaxed);
            }
            Ok::<_, anyhow::Error>(())
        })
    };

    // The bot burst, as fast as Redis takes it.
    let bots = {
        let (client, zipf, updates) = (client.clone(), zipf.clone(), streams.0.clone());
        tokio::spawn(async move {
            tokio::time::sleep(burst_at).await;
            let mut conn = client.get_multiplexed_async_connection().await?;
            let t = Instant::now();
            let mut left = burst;
            let mut last_id = String::new();
            while left > 0 {
                let n = left.min(2000);
                let mut pipe = redis::pipe();
                {
                    let mut rng = rand::rng();
                    for _ in 0..n {
                        pipe.cmd("XADD")
                            .arg(&updates)
                            .arg("*")
                            .arg("code")
                            .arg(barcode(zipf.sample(&mut rng)))
                            .arg("product_type")
                            .arg("food")
                            .arg("user_id")
                            .arg("update_all_products")
                            .arg("action")
                            .arg("updated")
                            .arg("diffs")
                            .arg(r#"{"fields": {"change": ["categories"]}}"#);
                    }
                }
                let ids: Vec<String> = pipe.query_async(&mut conn).await?;
                if let Some(id) = ids.last() {
                    last_id = id.clone();
                }
                left -= n;
            }
            Ok::<_, anyhow::Error>((t, t.elapsed(), last_id))
        })
    };

    // Sampling: events read, jobs, RSS.
    let mut max_rss: f64 = 0.0;
    let mut last = (Instant::now(), 0i64, 0i64);
    while started.elapsed() < Duration::from_secs(seconds as u64) {
        tokio::time::sleep(Duration::from_secs(5)).await;
        max_rss = max_rss.max(rss_mib());
        let jobs = count(&pool, "SELECT count(*) FROM job").await;
        let done = count(&pool, "SELECT count(*) FROM job WHERE state = 'done'").await;
        let dt = last.0.elapsed().as_secs_f64();
        eprintln!(
            "t={:>4.0}s jobs={jobs} (+{:.0}/s) done={done} (+{:.0}/s) queued={} rss={:.0} MiB",
            started.elapsed().as_secs_f64(),
            (jobs - last.1) as f64 / dt,
            (done - last.2) as f64 / dt,
            count(&pool, "SELECT count(*) FROM job WHERE state = 'queued'").await,
            rss_mib()
        );
        last = (Instant::now(), jobs, done);
    }
    stop.store(true, Ordering::Relaxed);
    let _ = user.await;
    let burst_result = bots.await.ok().and_then(Result::ok);
    // Burst ingestion: until the bulk lane's position reaches the burst's last entry.
    let mut ingest = None;
    if let Some((burst_start, _, last_id)) = &burst_result {
        let key = format!("{}#bulk", streams.0);
        let target = parse_id(last_id);
        let wait = Instant::now();
        while wait.elapsed() < Duration::from_secs(900) {
            let pos: Option<String> =
                sqlx::query_scalar("SELECT last_id FROM stream_offset WHERE stream = $1")
                    .bind(&key)
                    .fetch_optional(&pool)
                    .await?;
            if pos.as_deref().map(parse_id) >= Some(target) {
                ingest = Some(burst_start.elapsed());
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let burst_xadd = burst_result.as_ref().map(|(_, d, _)| *d);

    // Let the queue drain (bounded), then read the figures.
    let drain = Instant::now();
    while drain.elapsed() < Duration::from_secs(600) {
        if count(
            &pool,
            "SELECT count(*) FROM job WHERE state IN ('queued', 'running') AND run_after <= now()",
        )
        .await
            == 0
        {
            break;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        max_rss = max_rss.max(rss_mib());
    }
    let positions: Vec<(String, String)> =
        sqlx::query_as("SELECT stream, last_id FROM stream_offset ORDER BY stream")
            .fetch_all(&pool)
            .await?;
    // Lag of user events: job start − event time − deliberate delay.
    let lags: Vec<(f64, i16, String, f64)> = sqlx::query_as(
        "SELECT EXTRACT(EPOCH FROM (started_at - to_timestamp((split_part(payload->>'event_id', '-', 1))::bigint / 1000.0)
                                    - (run_after - created_at)))::float8, priority, payload->>'event_id',
                EXTRACT(EPOCH FROM (created_at - to_timestamp((split_part(payload->>'event_id', '-', 1))::bigint / 1000.0)))::float8
         FROM job WHERE state = 'done' AND payload ? 'event_id'",
    )
    .fetch_all(&pool)
    .await?;
    // Jobs made by a user event (a user event merged into a pending bot update raises
    // that job's priority, but the job's event and wait are the bot's).
    let user_ids = user_events.lock().map(|s| s.clone()).unwrap_or_default();
    let mut user: Vec<f64> = lags
        .iter()
        .filter(|(_, p, id, _)| *p == 0 && user_ids.contains(id))
        .map(|(l, _, _, _)| *l)
        .collect();
    // The part of it spent before the job existed (stream → durable job).
    let mut user_ingest: Vec<f64> = lags
        .iter()
        .filter(|(_, p, id, _)| *p == 0 && user_ids.contains(id))
        .map(|(_, _, _, i)| *i)
        .collect();
    user_ingest.sort_by(f64::total_cmp);
    user.sort_by(f64::total_cmp);
    let mut bot: Vec<f64> = lags
        .iter()
        .filter(|(_, p, _, _)| *p == 2)
        .map(|(l, _, _, _)| *l)
        .collect();
    bot.sort_by(f64::total_cmp);
    let (first, last_done): (
        Option<chrono::DateTime<chrono::Utc>>,
        Option<chrono::DateTime<chrono::Utc>>,
    ) = sqlx::query_as("SELECT min(created_at), max(finished_at) FROM job")
        .fetch_one(&pool)
        .await?;
    let total_jobs = count(&pool, "SELECT count(*) FROM job").await;
    let done = count(&pool, "SELECT count(*) FROM job WHERE state = 'done'").await;
    let span = match (first, last_done) {
        (Some(a), Some(b)) => (b - a).num_milliseconds() as f64 / 1000.0,
        _ => f64::NAN,
    };
    println!(
        "user events sent: {}, bot burst: {burst} events (XADD took {:?})",
        sent_user.load(Ordering::Relaxed),
        burst_xadd
    );
    if let Some(d) = ingest {
        println!(
            "burst read into durable jobs in {:.1} s after it started: {:.0} events/s",
            d.as_secs_f64(),
            burst as f64 / d.as_secs_f64()
        );
    }
    println!(
        "jobs: {total_jobs} created, {done} done over {span:.1} s ({:.0} jobs/s completed)",
        done as f64 / span
    );
    println!(
        "user-event lag (job start - event - deliberate wait), {} jobs: p50 {:.3} s, p99 {:.3} s, max {:.3} s",
        user.len(),
        percentile(&user, 0.5),
        percentile(&user, 0.99),
        user.last().copied().unwrap_or(f64::NAN)
    );
    println!(
        "  of which stream -> durable job: p50 {:.3} s, p99 {:.3} s",
        percentile(&user_ingest, 0.5),
        percentile(&user_ingest, 0.99)
    );
    println!(
        "bot-event lag, {} jobs: p50 {:.1} s, p99 {:.1} s",
        bot.len(),
        percentile(&bot, 0.5),
        percentile(&bot, 0.99)
    );
    println!("stream positions: {positions:?}");
    println!("peak RSS of the node: {max_rss:.0} MiB");
    app.shutdown().await;
    Ok(())
}
