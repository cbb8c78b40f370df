//! What each job kind does, run inside the product's shard with the job's transaction:
//! the job's effects and its completion commit together.

mod image;
mod product;

use super::insight_importer::{ImportError, Importing};
use super::job_runner::JobError;
use super::Services;
use crate::infra::db::jobs::ClaimedJob;
use crate::infra::db::products;
use crate::infra::metrics;
use crate::infra::product_opener::{PoError, ProductOpener};
use crate::jobs::JobKind;
use crate::ocr::OcrResources;
use crate::types::{Product, ServerType};
use sqlx::PgConnection;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// What the job handlers of a node share: OCR data (loaded lazily, once), an HTTP
/// client for image hosts and the Product Opener client.
pub struct JobResources {
    pub ocr: Arc<OcrResources>,
    pub http: reqwest::Client,
    pub po: ProductOpener,
}

impl std::fmt::Debug for JobResources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobResources").finish_non_exhaustive()
    }
}

/// The job resources cannot be built (an invalid Product Opener setting).
#[derive(Debug, thiserror::Error)]
pub enum ResourcesError {
    #[error("building the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    #[error(transparent)]
    ProductOpener(#[from] PoError),
}

impl JobResources {
    pub fn new(settings: &crate::config::Settings) -> Result<JobResources, ResourcesError> {
        let http = reqwest::Client::builder()
            .user_agent("Robotoff Live Analysis")
            .timeout(Duration::from_secs(settings.http.downstream_timeout_secs))
            .build()?;
        Ok(JobResources {
            ocr: Arc::new(OcrResources::new(&settings.data.dir)),
            http,
            po: ProductOpener::new(&settings.product_opener)?,
        })
    }
}

/// The product a job works on. With `product_opener.refresh_products`, it is read again
/// from Product Opener and stored first (a product Product Opener does not have is
/// removed from the store); Product Opener down or slow fails the job, which is retried
/// later; an unusable answer falls back to the stored copy. `None`: no such product.
pub(crate) async fn current_product(
    services: &Services,
    resources: &JobResources,
    t: &Target<'_>,
    conn: &mut PgConnection,
) -> Result<Option<Product>, JobError> {
    if services.settings.product_opener.refresh_products {
        match resources.po.get_product(t.barcode, t.server_type).await {
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

/// The product a job is about.
pub(crate) struct Target<'a> {
    pub barcode: &'a str,
    pub server_type: ServerType,
}

fn target(job: &ClaimedJob) -> Result<Target<'_>, JobError> {
    let invalid = |detail: &str| JobError::InvalidPayload {
        kind: "product job",
        detail: detail.to_string(),
    };
    let barcode = job
        .barcode
        .as_deref()
        .filter(|b| !b.is_empty())
        .ok_or_else(|| invalid("no barcode"))?;
    let server_type = job
        .server_type
        .as_deref()
        .and_then(|s| ServerType::from_str(s).ok())
        .ok_or_else(|| invalid("no valid server type"))?;
    Ok(Target {
        barcode,
        server_type,
    })
}

impl From<ImportError> for JobError {
    fn from(e: ImportError) -> Self {
        JobError::Failed(e.to_string())
    }
}

/// Runs the handler of `kind`; probe and no-op jobs are handled by the runner itself.
pub(crate) async fn run(
    services: &Services,
    resources: &JobResources,
    kind: JobKind,
    job: &ClaimedJob,
    conn: &mut PgConnection,
) -> Result<(), JobError> {
    match kind {
        JobKind::DeleteProductInsights => {
            product::delete_product_insights(services, target(job)?, conn).await
        }
        JobKind::RefreshInsights => {
            let importing = Importing::from_settings(&services.settings).await?;
            product::refresh(&importing, target(job)?, conn).await
        }
        JobKind::UpdateInsights => {
            let importing = Importing::from_settings(&services.settings).await?;
            product::update_insights(
                services,
                resources,
                &importing,
                target(job)?,
                &job.payload,
                conn,
            )
            .await
        }
        JobKind::DeletedImage => {
            image::deleted_image(services, target(job)?, &job.payload, conn).await
        }
        JobKind::ImportImage => {
            image::import_image(services, resources, target(job)?, &job.payload, conn).await
        }
        JobKind::ImportInsightsFromImage => {
            let importing = Importing::from_settings(&services.settings).await?;
            image::import_insights_from_image(
                services,
                resources,
                &importing,
                target(job)?,
                &job.payload,
                conn,
            )
            .await
        }
        JobKind::ProductTypeSwitched => {
            product::product_type_switched(services, resources, target(job)?, conn).await
        }
        JobKind::Noop | JobKind::Probe => Ok(()),
    }
}
