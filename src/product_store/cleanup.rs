//! Daily dump-based cleanup of OFF predictions and insights (spec pipeline §4.2): the
//! dump downloaded today says which products and images still exist and what the
//! products' brands, countries and scan counts are.

use super::dump::{open_dump, source_of};
use crate::config::Settings;
use crate::infra::db::dump_cleanup::{self as db, DumpProduct};
use crate::insights::import::shared_resources;
use crate::insights::is_brand_prediction_valid;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;
use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;

/// Products sent to the database at a time.
const BATCH: usize = 5000;

/// What the cleanup did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DumpCleanup {
    pub dump_products: u64,
    pub counts: db::CleanupCounts,
    pub invalid_brand_insights: u64,
}

impl std::fmt::Display for DumpCleanup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let c = &self.counts;
        write!(
            f,
            "{} dump product(s); predictions deleted: {} (product gone), {} (image gone); \
             insights deleted: {} (product gone), {} (image gone), {} (invalid brand); \
             insights updated: {}",
            self.dump_products,
            c.predictions_product_gone,
            c.predictions_image_gone,
            c.insights_product_gone,
            c.insights_image_gone,
            self.invalid_brand_insights,
            c.insights_updated
        )
    }
}

/// A dump line, reduced to the fields the cleanup reads.
#[derive(Deserialize)]
struct DumpLine {
    code: Option<serde_json::Value>,
    #[serde(default)]
    brands_tags: Option<Vec<serde_json::Value>>,
    #[serde(default)]
    countries_tags: Option<Vec<serde_json::Value>>,
    #[serde(default)]
    unique_scans_n: Option<serde_json::Value>,
    #[serde(default)]
    images: Option<HashMap<String, Box<serde_json::value::RawValue>>>,
}

/// Ids of the uploaded images: the digit keys of `images`, or of `images.uploaded` in
/// Product Opener's newer images schema.
fn image_ids(images: Option<HashMap<String, Box<serde_json::value::RawValue>>>) -> Vec<String> {
    let images = images.unwrap_or_default();
    let uploaded: Option<HashMap<String, serde::de::IgnoredAny>> = images
        .get("uploaded")
        .and_then(|raw| serde_json::from_str(raw.get()).ok());
    let keys: Vec<String> = match uploaded {
        Some(uploaded) => uploaded.into_keys().collect(),
        None => images.into_keys().collect(),
    };
    let mut ids: Vec<String> = keys
        .into_iter()
        .filter(|k| !k.is_empty() && k.bytes().all(|b| b.is_ascii_digit()))
        .collect();
    ids.sort();
    ids
}

fn strings(values: Option<Vec<serde_json::Value>>) -> Vec<String> {
    values
        .unwrap_or_default()
        .into_iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect()
}

/// The fields of one dump line, or `None` for a line without a code or not JSON.
pub fn parse_line(line: &[u8]) -> Option<DumpProduct> {
    let parsed: DumpLine = serde_json::from_slice(line).ok()?;
    let code = match parsed.code? {
        serde_json::Value::String(s) => s,
        serde_json::Value::Number(n) => n.to_string(),
        _ => return None,
    };
    if code.is_empty() {
        return None;
    }
    let unique_scans_n = parsed
        .unique_scans_n
        .and_then(|v| v.as_i64())
        .and_then(|n| i32::try_from(n).ok())
        .unwrap_or(0);
    let image_ids = image_ids(parsed.images);
    Some(DumpProduct {
        code,
        brands_tags: strings(parsed.brands_tags),
        countries_tags: strings(parsed.countries_tags),
        unique_scans_n,
        image_ids,
    })
}

/// Today's 00:00 UTC: rows stored later are newer than the dump and left alone.
pub fn threshold(now: DateTime<Utc>) -> NaiveDateTime {
    now.date_naive().and_time(chrono::NaiveTime::MIN)
}

/// Runs the cleanup from the dump at `dump` (which must have been modified today, UTC),
/// in one transaction. Brand insights failing the brand lists of `data_dir` are deleted
/// too.
pub async fn cleanup(
    pool: &sqlx::PgPool,
    dump: &Path,
    data_dir: &Path,
    now: DateTime<Utc>,
) -> Result<DumpCleanup, String> {
    let modified = std::fs::metadata(dump)
        .and_then(|m| m.modified())
        .map_err(|e| format!("reading the dump {}: {e}", dump.display()))?;
    let modified: DateTime<Utc> = modified.into();
    if modified.date_naive() != now.date_naive() {
        return Err(format!(
            "the dump {} is from {}, not today: cleanup skipped",
            dump.display(),
            modified.date_naive()
        ));
    }
    let resources = shared_resources(data_dir)
        .await
        .map_err(|e| e.to_string())?;
    let mut tx = pool
        .begin()
        .await
        .map_err(|e| format!("starting the cleanup: {e}"))?;
    db::create_dump_table(&mut tx)
        .await
        .map_err(|e| format!("creating the dump table: {e}"))?;

    // The dump is read on a blocking thread and handed over in batches.
    let (batches, mut received) = tokio::sync::mpsc::channel::<Vec<DumpProduct>>(2);
    let path = dump.to_path_buf();
    let reader = tokio::task::spawn_blocking(move || read_dump(&path, &batches));
    let mut outcome = DumpCleanup::default();
    let mut load_error = None;
    while let Some(batch) = received.recv().await {
        outcome.dump_products += batch.len() as u64;
        if let Err(e) = db::insert_dump_products(&mut tx, &batch).await {
            load_error = Some(format!("loading the dump: {e}"));
            break;
        }
    }
    drop(received);
    let read = reader.await.map_err(|e| format!("reading the dump: {e}"))?;
    if let Some(error) = load_error {
        return Err(error);
    }
    read?;

    outcome.counts = db::apply(&mut tx, threshold(now))
        .await
        .map_err(|e| format!("cleaning predictions and insights: {e}"))?;
    let brands = db::checked_brand_insights(&mut tx)
        .await
        .map_err(|e| format!("listing brand insights: {e}"))?;
    let invalid: Vec<uuid::Uuid> = brands
        .into_iter()
        .filter(|b| {
            !is_brand_prediction_valid(
                &resources,
                b.predictor.as_deref(),
                b.value_tag.as_deref(),
                &b.barcode,
            )
        })
        .map(|b| b.id)
        .collect();
    outcome.invalid_brand_insights = db::delete_insights(&mut tx, &invalid)
        .await
        .map_err(|e| format!("deleting invalid brand insights: {e}"))?;
    tx.commit()
        .await
        .map_err(|e| format!("committing the cleanup: {e}"))?;
    Ok(outcome)
}

/// Sends the dump's products in batches; stops early when the receiver is gone.
fn read_dump(
    path: &Path,
    batches: &tokio::sync::mpsc::Sender<Vec<DumpProduct>>,
) -> Result<(), String> {
    let reader = open_dump(path)?;
    let mut batch = Vec::with_capacity(BATCH);
    for line in reader.split(b'\n') {
        let line = line.map_err(|e| format!("reading {}: {e}", path.display()))?;
        if let Some(product) = parse_line(&line) {
            batch.push(product);
        }
        if batch.len() >= BATCH {
            let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
            if batches.blocking_send(full).is_err() {
                return Ok(());
            }
        }
    }
    if !batch.is_empty() {
        let _ = batches.blocking_send(batch);
    }
    Ok(())
}

/// The scheduled task: the cleanup from the dump of the datasets directory.
pub async fn refresh_insights_from_dump(
    settings: &Settings,
    pool: &sqlx::PgPool,
) -> Result<String, String> {
    let source = source_of(settings).ok_or("no dataset URL is set")?;
    cleanup(pool, &source.dataset_path(), &settings.data.dir, Utc::now())
        .await
        .map(|outcome| outcome.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dump_lines_keep_code_tags_scans_and_digit_image_keys() {
        let line = br#"{"code":"3560070880973","brands_tags":["carrefour"],"countries_tags":["en:france"],"unique_scans_n":12,"images":{"1":{},"2":{},"front_fr":{"imgid":"2"}},"product_name":"x"}"#;
        let p = parse_line(line).expect("parsed");
        assert_eq!(p.code, "3560070880973");
        assert_eq!(p.brands_tags, vec!["carrefour"]);
        assert_eq!(p.countries_tags, vec!["en:france"]);
        assert_eq!(p.unique_scans_n, 12);
        assert_eq!(p.image_ids, vec!["1", "2"]);
        let bare = parse_line(br#"{"code":"123","unique_scans_n":null}"#).expect("parsed");
        assert_eq!(bare.unique_scans_n, 0);
        assert!(bare.brands_tags.is_empty() && bare.image_ids.is_empty());
        let newer = br#"{"code":"1","images":{"uploaded":{"3":{"uploaded_t":1},"4":{}},"selected":{"front":{"fr":{"imgid":"3"}}}}}"#;
        assert_eq!(parse_line(newer).expect("parsed").image_ids, vec!["3", "4"]);
        assert!(parse_line(br#"{"product_name":"no code"}"#).is_none());
        assert!(parse_line(b"not json").is_none());
    }
}
