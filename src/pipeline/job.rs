//! What every job handler shares: the product a job is about, what a run leaves for
//! the caller to do after its commit, and why a job failed.

use crate::infra::db::jobs::ClaimedJob;
use crate::insights::import::ImportError;
use crate::types::ServerType;
use std::str::FromStr;

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("unknown job kind {0:?}")]
    UnknownKind(String),
    #[error("invalid payload for a {kind} job: {detail}")]
    InvalidPayload { kind: &'static str, detail: String },
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("{0}")]
    Failed(String),
    #[error("the job's claim was taken over")]
    LeaseLost,
    #[error("no handler for {0} jobs on this node")]
    Unsupported(&'static str),
    /// A service the job needs is away (Triton): the job waits and tries again without
    /// using up its attempts.
    #[error("{0}")]
    Unavailable(String),
    /// The job's input can never work (an image that cannot be decoded): the job is
    /// kept as dead at once, with the reason, instead of being retried.
    #[error("{0}")]
    Unusable(String),
}

impl From<ImportError> for JobError {
    fn from(e: ImportError) -> Self {
        JobError::Failed(e.to_string())
    }
}

/// What a committed job leaves for its caller to do outside the database: the logos
/// to take out of the nearest-neighbour index, and which changes to announce.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Effects {
    pub removed_logos: Vec<i64>,
    /// The job wrote insights (listings may show something else now).
    pub insights_changed: bool,
    /// The job wrote logo embeddings (the logo indexes have something to catch up with).
    pub logos_changed: bool,
}

/// The product a job is about.
pub struct Target<'a> {
    pub barcode: &'a str,
    pub server_type: ServerType,
}

impl<'a> Target<'a> {
    /// The job's product, or an invalid-payload error.
    pub fn of(job: &'a ClaimedJob) -> Result<Target<'a>, JobError> {
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
}
