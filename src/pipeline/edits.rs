//! Resuming an annotation's Product Opener edits (spec api-db §4.1, with an outbox): the
//! job sends what is still queued, with the service's account, in order.

use super::context::Context;
use super::job::JobError;
use crate::annotation::edits::{send_queued, Mode, Sending};
use crate::infra::db::jobs::ClaimedJob;
use crate::infra::product_opener::Credentials;
use uuid::Uuid;

/// Sends the queued edits of the job's insight; an outage fails the job, which is
/// retried with backoff, from the first edit still unsent.
pub(super) async fn send(ctx: &Context, job: &ClaimedJob) -> Result<(), JobError> {
    let insight_id = job
        .payload
        .get("insight_id")
        .and_then(|v| v.as_str())
        .and_then(|s| Uuid::parse_str(s).ok())
        .ok_or_else(|| JobError::InvalidPayload {
            kind: "send_product_edits",
            detail: "no valid insight_id".into(),
        })?;
    let outcome = send_queued(
        &ctx.resources.po,
        &ctx.pool,
        insight_id,
        &Credentials::Robotoff,
        Mode::Resume,
    )
    .await?;
    match outcome {
        Sending::AllSent => Ok(()),
        Sending::Deferred | Sending::NothingSent(_) => Err(JobError::Failed(format!(
            "Product Opener did not take every edit of insight {insight_id} yet"
        ))),
    }
}
