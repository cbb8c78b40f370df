//! What job handlers work with: the settings, the database pool and the resources a
//! node's jobs share, and the product a job reads (refreshed from Product Opener first).

use super::job::{JobError, Target};
use crate::ann::Neighbours;
use crate::config::Settings;
use crate::infra::db::products;
use crate::infra::image_fetch::{FetchError, ImageHosts};
use crate::infra::metrics;
use crate::infra::product_opener::{PoError, ProductOpener};
use crate::infra::triton::{TritonError, TritonHealth};
use crate::ocr::OcrResources;
use crate::types::Product;
use sqlx::{PgConnection, PgPool};
use std::sync::{Arc, RwLock};

/// Everything a job handler needs besides its transaction.
#[derive(Debug, Clone)]
pub struct Context {
    pub settings: Arc<Settings>,
    pub pool: PgPool,
    pub resources: Arc<JobResources>,
}

/// What the job handlers of a node share: OCR data (loaded lazily, once), the client of
/// the image hosts (the API's: allowed hosts only, no redirects, size cap) and the
/// Product Opener client.
pub struct JobResources {
    pub ocr: Arc<OcrResources>,
    pub image_hosts: ImageHosts,
    pub po: ProductOpener,
    /// The models behind Triton (channels connect lazily), with their concurrency
    /// limits and the CLIP batcher.
    pub models: super::models::ModelRuntime,
    /// The last readiness check of the Triton models (kept by the TritonPool actor).
    pub triton_health: Arc<RwLock<Option<TritonHealth>>>,
    /// The node's logo index.
    pub neighbours: Arc<dyn Neighbours>,
}

impl std::fmt::Debug for JobResources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobResources").finish_non_exhaustive()
    }
}

/// The job resources cannot be built (an invalid Product Opener setting).
#[derive(Debug, thiserror::Error)]
pub enum ResourcesError {
    #[error("the image hosts: {0}")]
    ImageHosts(#[from] FetchError),
    #[error(transparent)]
    ProductOpener(#[from] PoError),
    #[error(transparent)]
    Triton(#[from] TritonError),
}

impl JobResources {
    pub fn new(
        settings: &crate::config::Settings,
        neighbours: Arc<dyn Neighbours>,
    ) -> Result<JobResources, ResourcesError> {
        Ok(JobResources {
            ocr: Arc::new(OcrResources::new(&settings.data.dir)),
            image_hosts: ImageHosts::for_settings(settings)?,
            po: ProductOpener::new(&settings.product_opener)?,
            models: super::models::ModelRuntime::new(settings)?,
            triton_health: Arc::new(RwLock::new(None)),
            neighbours,
        })
    }
}

/// The product a job works on. With `product_opener.refresh_products`, it is read again
/// from Product Opener and stored first (a product Product Opener does not have is
/// removed from the store); Product Opener down or slow fails the job, which is retried
/// later; an unusable answer falls back to the stored copy. `None`: no such product.
pub async fn current_product(
    ctx: &Context,
    t: &Target<'_>,
    conn: &mut PgConnection,
) -> Result<Option<Product>, JobError> {
    if ctx.settings.product_opener.refresh_products {
        match ctx.resources.po.get_product(t.barcode, t.server_type).await {
            Ok(Some(product)) => {
                products::upsert_many(&mut *conn, std::slice::from_ref(&product)).await?;
                metrics::product_refresh("stored");
                return Ok(Some(product));
            }
            Ok(None) => {
                products::delete(&mut *conn, t.barcode, t.server_type).await?;
                metrics::product_refresh("missing");
                return Ok(None);
            }
            Err(e) if e.is_retryable() => {
                metrics::product_refresh("retry");
                return Err(JobError::Failed(format!(
                    "refreshing the product from Product Opener: {e}"
                )));
            }
            Err(e) => {
                metrics::product_refresh("unusable");
                tracing::warn!(
                    barcode = t.barcode,
                    server_type = %t.server_type,
                    error = %e,
                    "Product Opener's answer is unusable: the stored product is used"
                );
            }
        }
    }
    Ok(products::get(conn, t.barcode, t.server_type).await?)
}

/// Imports `predictions` for the job's product (their barcode and flavor set to it) in
/// the job's transaction; nothing to do without predictions.
pub(super) async fn import_for_product(
    ctx: &Context,
    t: &Target<'_>,
    mut predictions: Vec<crate::types::Prediction>,
    conn: &mut PgConnection,
) -> Result<(), JobError> {
    if predictions.is_empty() {
        return Ok(());
    }
    for p in &mut predictions {
        p.barcode = Some(t.barcode.to_string());
        p.server_type = t.server_type;
    }
    let importing = crate::insights::import::Importing::from_settings(&ctx.settings).await?;
    crate::insights::import::import_product_predictions(
        conn,
        &importing,
        t.barcode,
        t.server_type,
        predictions,
    )
    .await?;
    Ok(())
}
