//! What each job kind does, run inside the product's shard with the job's transaction:
//! the job's effects and its completion commit together.

mod image;
mod product;

use super::insight_importer::{ImportError, Importing};
use super::job_runner::JobError;
use super::Services;
use crate::infra::db::jobs::ClaimedJob;
use crate::jobs::JobKind;
use crate::ocr::OcrResources;
use crate::types::ServerType;
use sqlx::PgConnection;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// What the job handlers of a node share: OCR data (loaded lazily, once) and an HTTP
/// client for image hosts.
#[derive(Debug)]
pub struct JobResources {
    pub ocr: Arc<OcrResources>,
    pub http: reqwest::Client,
}

impl JobResources {
    pub fn new(settings: &crate::config::Settings) -> Result<JobResources, reqwest::Error> {
        let http = reqwest::Client::builder()
            .user_agent("Robotoff Live Analysis")
            .timeout(Duration::from_secs(settings.http.downstream_timeout_secs))
            .build()?;
        Ok(JobResources {
            ocr: Arc::new(OcrResources::new(&settings.data.dir)),
            http,
        })
    }
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
            image::import_image(services, target(job)?, &job.payload, conn).await
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
        JobKind::ProductTypeSwitched => Err(JobError::Unsupported(kind.as_str())),
        JobKind::Noop | JobKind::Probe => Ok(()),
    }
}
