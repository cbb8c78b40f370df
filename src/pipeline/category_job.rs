//! The category classifier as a job (spec pipeline §2.12): run on a stored food product
//! of schema 1003 or later when its OCR is ready or its name, ingredients, nutrition or
//! images change; new image embeddings are cached and the predictions imported in the
//! product's shard.

use super::category::{self, CategoryRun, DEFAULT_THRESHOLD};
use super::context::{import_for_product, Context};
use super::job::{JobError, Target};
use super::models::ModelError;
use crate::infra::db::{jobs, products, vision};
use crate::jobs::{JobKind, NewJob, Priority};
use crate::types::{Prediction, ServerType};
use sqlx::PgConnection;

/// Products of an older schema are not classified.
pub(super) const MIN_SCHEMA_VERSION: i32 = 1003;

/// What the classifier found, to be committed.
#[derive(Debug, Clone, Default)]
pub struct CategoryResults {
    predictions: Vec<Prediction>,
    embeddings: Vec<(i32, Vec<f32>)>,
}

/// The job classifying a product (one queued per product at a time).
pub fn job(barcode: &str, server_type: ServerType) -> NewJob {
    NewJob::new(JobKind::PredictCategory, Priority::Ml)
        .for_product(barcode, server_type)
        .dedupe(format!("predict_category:{}:{barcode}", server_type.name()))
}

/// Runs the classifier on the stored product.
pub async fn compute(ctx: &Context, job: &jobs::ClaimedJob) -> Result<CategoryResults, JobError> {
    let t = Target::of(job)?;
    if !t.server_type.is_food() {
        return Ok(CategoryResults::default());
    }
    let mut conn = ctx.pool.acquire().await?;
    let product = products::get(&mut conn, t.barcode, t.server_type).await?;
    drop(conn);
    let Some(product) = product else {
        return Ok(CategoryResults::default());
    };
    if product.schema_version < MIN_SCHEMA_VERSION {
        return Ok(CategoryResults::default());
    }
    let run: CategoryRun = category::run_for_product(ctx, &product, DEFAULT_THRESHOLD)
        .await
        .map_err(|e| match e {
            e if e.is_unavailable() => JobError::Unavailable(e.to_string()),
            ModelError::NotConfigured { .. } => JobError::Unusable(e.to_string()),
            e => JobError::Failed(e.to_string()),
        })?;
    Ok(CategoryResults {
        predictions: category::predictions(&run.predicted),
        embeddings: run.new_embeddings,
    })
}

/// Caches the new embeddings and imports the predictions.
pub async fn commit(
    ctx: &Context,
    t: &Target<'_>,
    results: &CategoryResults,
    conn: &mut PgConnection,
) -> Result<(), JobError> {
    vision::insert_image_embeddings(conn, &results.embeddings).await?;
    import_for_product(ctx, t, results.predictions.clone(), conn).await
}
