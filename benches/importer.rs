//! Importer throughput: predictions per second through persistence + import, refresh
//! and re-import, for many products with about ten predictions each.
//!
//! `ROBOTOFF_BENCH_DATABASE_URL` names an empty PostgreSQL database (migrated here);
//! without it a private PostgreSQL is started under `target/bench-importer-pg`.
//! `ROBOTOFF_BENCH_PRODUCTS` (default 100000) and `ROBOTOFF_BENCH_CONCURRENCY` (default
//! 6, the default number of product shards) size the run. Products are split over the
//! workers by shard, as the product shards split them.

use anyhow::Context;
use chrono::TimeDelta;
use robotoff::infra::db::{self, products};
use robotoff::infra::local_pg::LocalPostgres;
use robotoff::insights::import::{
    import_product_predictions, refresh_product, ImportSummary, Importing,
};
use robotoff::insights::ImportResources;
use robotoff::types::{Prediction, PredictionType, Product, ServerType};
use serde_json::json;
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

const LABELS: [&str; 8] = [
    "en:organic",
    "en:eu-organic",
    "en:vegan",
    "en:fair-trade",
    "en:max-havelaar",
    "en:gluten-free",
    "en:vegetarian",
    "en:no-preservatives",
];
const CATEGORIES: [&str; 6] = [
    "en:meats",
    "en:pork",
    "en:soups",
    "en:miso-soup",
    "en:apricots",
    "en:breads",
];
const STORES: [&str; 4] = ["lidl", "carrefour", "auchan", "aldi"];

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn barcode(i: usize) -> String {
    format!("{:013}", 3_000_000_000_000u64 + i as u64 * 7)
}

fn product(i: usize) -> Product {
    let mut p = Product::new(barcode(i), ServerType::Off);
    p.lang = Some("fr".into());
    p.countries_tags = vec!["en:france".into()];
    if i.is_multiple_of(3) {
        p.labels_tags = vec![LABELS[i % LABELS.len()].into()];
    }
    if i.is_multiple_of(4) {
        p.categories_tags = vec![CATEGORIES[i % CATEGORIES.len()].into()];
    }
    if i.is_multiple_of(5) {
        p.brands_tags = vec!["acme".into()];
    }
    p.images = json!({
        "1": {"sizes": {"full": {"w": 1000, "h": 1500}}, "uploaded_t": 1600000000},
        "2": {"sizes": {"full": {"w": 1000, "h": 1500}}, "uploaded_t": 1600000100},
        "front_fr": {"imgid": "1", "rev": "2"}
    })
    .as_object()
    .cloned()
    .unwrap_or_default();
    p
}

fn prediction(
    i: usize,
    kind: PredictionType,
    tag: Option<&str>,
    value: Option<&str>,
    image: u8,
) -> Prediction {
    let mut p = Prediction::new(kind);
    p.barcode = Some(barcode(i));
    p.value_tag = tag.map(str::to_string);
    p.value = value.map(str::to_string);
    let folder = robotoff::insights::image::barcode_folder(&barcode(i)).unwrap_or_default();
    p.source_image = Some(format!("{folder}/{image}.jpg"));
    p.predictor = Some("regex".into());
    p.data = json!({"text": tag.or(value), "bounding_box_absolute": [10, 20, 110, 220]});
    p
}

/// About ten predictions per product, of seven types, on two images.
fn predictions(i: usize) -> Vec<Prediction> {
    let image = (i % 2 + 1) as u8;
    let mut ps = vec![
        prediction(
            i,
            PredictionType::Label,
            Some(LABELS[i % LABELS.len()]),
            None,
            image,
        ),
        prediction(
            i,
            PredictionType::Label,
            Some(LABELS[(i + 1) % LABELS.len()]),
            None,
            1,
        ),
        prediction(
            i,
            PredictionType::Label,
            Some(LABELS[(i + 3) % LABELS.len()]),
            None,
            2,
        ),
        prediction(
            i,
            PredictionType::Category,
            Some(CATEGORIES[i % CATEGORIES.len()]),
            None,
            1,
        ),
        prediction(
            i,
            PredictionType::Category,
            Some(CATEGORIES[(i + 1) % CATEGORIES.len()]),
            None,
            1,
        ),
        prediction(
            i,
            PredictionType::Store,
            Some(STORES[i % STORES.len()]),
            Some("Store"),
            image,
        ),
        prediction(i, PredictionType::Brand, Some("acme"), Some("Acme"), image),
        prediction(
            i,
            PredictionType::PackagerCode,
            None,
            Some("FR 40.261.001 CE"),
            1,
        ),
        prediction(
            i,
            PredictionType::ExpirationDate,
            None,
            Some("2026-01-31"),
            2,
        ),
    ];
    let mut weight = prediction(i, PredictionType::ProductWeight, None, Some("250 g"), image);
    weight.data = json!({"matcher_type": "with_mention", "priority": 1, "text": "250 g"});
    ps.push(weight);
    ps
}

async fn database() -> anyhow::Result<(PgPool, Option<LocalPostgres>)> {
    let concurrency = env_usize("ROBOTOFF_BENCH_CONCURRENCY", 6) as u32;
    let options = PgPoolOptions::new()
        .max_connections(concurrency + 2)
        .acquire_timeout(Duration::from_secs(60));
    match std::env::var("ROBOTOFF_BENCH_DATABASE_URL") {
        Ok(url) => Ok((options.connect(&url).await.context("connect")?, None)),
        Err(_) => {
            let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-importer-pg");
            let pg = LocalPostgres::start(&dir, true)
                .await
                .context("local PostgreSQL")?;
            let pool = options
                .connect_with(pg.connect_options())
                .await
                .context("connect")?;
            Ok((pool, Some(pg)))
        }
    }
}

/// Runs `op` for every product index, `concurrency` workers each taking the products
/// of its shards; returns the summed counts and the elapsed time.
async fn run<F, Fut>(
    products: usize,
    concurrency: usize,
    op: F,
) -> anyhow::Result<(ImportSummary, Duration)>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<ImportSummary>> + Send,
{
    let op = Arc::new(op);
    let start = Instant::now();
    let mut workers = Vec::new();
    for w in 0..concurrency {
        let op = op.clone();
        workers.push(tokio::spawn(async move {
            let mut total = ImportSummary::default();
            for i in 0..products {
                if robotoff::shard::shard_of(&barcode(i), concurrency as u32) as usize == w {
                    total += op(i).await?;
                }
            }
            anyhow::Ok(total)
        }));
    }
    let mut total = ImportSummary::default();
    for w in workers {
        total += w.await??;
    }
    Ok((total, start.elapsed()))
}

fn report(phase: &str, predictions: usize, (s, elapsed): &(ImportSummary, Duration)) {
    let secs = elapsed.as_secs_f64();
    println!(
        "{phase:<10} {:>9.1} s  {:>9.0} predictions/s  predictions +{} -{}  insights +{} ~{} -{}",
        secs,
        predictions as f64 / secs,
        s.predictions_created,
        s.predictions_deleted,
        s.insights_created,
        s.insights_updated,
        s.insights_deleted
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if std::env::args().any(|a| a == "--list") {
        return Ok(());
    }
    let n = env_usize("ROBOTOFF_BENCH_PRODUCTS", 100_000);
    let concurrency = env_usize("ROBOTOFF_BENCH_CONCURRENCY", 6).max(1);
    let (pool, mut local) = database().await?;
    db::migrate(&pool).await?;
    sqlx::query("TRUNCATE prediction, product_insight, product CASCADE")
        .execute(&pool)
        .await?;
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    let importing = Importing {
        resources: Arc::new(ImportResources::load(data)?),
        automatic_processing_wait: TimeDelta::minutes(10),
    };
    let all: Vec<Product> = (0..n).map(product).collect();
    for chunk in all.chunks(1000) {
        products::upsert_many(&pool, chunk).await?;
    }
    let total_predictions: usize = (0..n).map(|i| predictions(i).len()).sum();
    println!("{n} products, {total_predictions} predictions, {concurrency} workers");

    let import = |pool: PgPool, importing: Importing| {
        move |i: usize| {
            let (pool, importing) = (pool.clone(), importing.clone());
            async move {
                let mut tx = pool.begin().await?;
                let s = import_product_predictions(
                    &mut tx,
                    &importing,
                    &barcode(i),
                    ServerType::Off,
                    predictions(i),
                )
                .await?;
                tx.commit().await?;
                anyhow::Ok(s)
            }
        }
    };
    let first = run(n, concurrency, import(pool.clone(), importing.clone())).await?;
    report("import", total_predictions, &first);

    let (p, imp) = (pool.clone(), importing.clone());
    let refresh = run(n, concurrency, move |i| {
        let (pool, importing) = (p.clone(), imp.clone());
        async move {
            let mut tx = pool.begin().await?;
            let s = refresh_product(&mut tx, &importing, &barcode(i), ServerType::Off).await?;
            tx.commit().await?;
            anyhow::Ok(s)
        }
    })
    .await?;
    report("refresh", total_predictions, &refresh);

    let again = run(n, concurrency, import(pool.clone(), importing.clone())).await?;
    report("re-import", total_predictions, &again);

    let total = first.1 + refresh.1 + again.1;
    println!(
        "all phases {:>6.1} s  {:>9.0} predictions/s (3 passes over {total_predictions} predictions)",
        total.as_secs_f64(),
        (3 * total_predictions) as f64 / total.as_secs_f64()
    );
    pool.close().await;
    if let Some(pg) = local.as_mut() {
        pg.stop()?;
    }
    Ok(())
}
