//! Refreshing the neighbours of logos (Robotoff's `refresh-logo-nearest-neighbors`): the
//! image predictions with an unannotated logo whose neighbours are missing or older than
//! some days get a `process_created_logos` job (low priority, in their product's shard),
//! which finds their neighbours and votes again.

use crate::infra::db::{jobs, logo_index as db};
use crate::jobs::{JobKind, NewJob, Priority};
use crate::types::ServerType;
use serde_json::json;
use sqlx::PgPool;
use std::str::FromStr;

/// What a refresh queued.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Refresh {
    /// Image predictions found.
    pub image_predictions: usize,
    /// Jobs queued (one already waiting is not queued twice).
    pub queued: usize,
}

/// Queues the refresh of logos whose neighbours are older than `days` days, reading
/// `batch` logos at a time; `progress(found)` after each batch.
pub async fn refresh_nearest_neighbors(
    pool: &PgPool,
    days: u32,
    batch: i64,
    shards: u32,
    max_attempts: i32,
    progress: impl Fn(usize),
) -> Result<Refresh, sqlx::Error> {
    let before = (chrono::Utc::now() - chrono::Duration::days(i64::from(days)))
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, false);
    let mut conn = pool.acquire().await?;
    let mut after = 0;
    let mut out = Refresh::default();
    loop {
        let page = db::stale_logos(&mut conn, &before, after, batch.max(1)).await?;
        let Some(last) = page.iter().map(|p| p.last_logo_id).max() else {
            break;
        };
        after = last;
        let new_jobs: Vec<NewJob> = page
            .iter()
            .filter_map(|p| {
                let barcode = p.barcode.as_deref()?;
                let st = p
                    .server_type
                    .as_deref()
                    .and_then(|s| ServerType::from_str(s).ok())?;
                Some(
                    NewJob::new(JobKind::ProcessCreatedLogos, Priority::Low)
                        .for_product(barcode, st)
                        .payload(json!({"image_prediction_id": p.image_prediction_id}))
                        .dedupe(format!("process_created_logos:{}", p.image_prediction_id)),
                )
            })
            .collect();
        out.image_predictions += page.len();
        out.queued +=
            jobs::enqueue_batch(&mut conn, &new_jobs, shards, max_attempts).await? as usize;
        progress(out.image_predictions);
    }
    Ok(out)
}
