//! `logo_annotation_insights` (spec api-db §4.7, as Robotoff's job after
//! `POST /images/logos/annotate`): the brand and label logos a user annotated become
//! predictions of their product, and the insights these yield are applied at once as
//! that user's decision.
//!
//! The job is queued in the transaction that records the annotations, so the insights
//! follow even if the node stops right after answering. The user's credentials are never
//! stored in the queue: the edits are sent with the service's account and the insights
//! record the user's name. Running it again imports nothing new and finds no insight
//! left open, so a retry after a partial run finishes the work without repeating it.

use super::context::Context;
use super::job::{JobError, Target};
use crate::annotation::logos::logo_prediction;
use crate::annotation::{self, AnnotateContext, AnnotateRequest, AnnotationStatus, Caller};
use crate::infra::db::jobs::ClaimedJob;
use crate::infra::db::{logo_writes, logos};
use crate::insights::import::{self as insight_import, Importing};
use crate::jobs::{JobKind, NewJob, Priority};
use crate::types::ServerType;
use serde_json::{json, Value};

/// The job of `logo_ids`, annotated by `username`, for their product.
pub fn job(barcode: &str, server_type: ServerType, logo_ids: &[i32], username: &str) -> NewJob {
    NewJob::new(JobKind::LogoAnnotationInsights, Priority::High)
        .for_product(barcode, server_type)
        .payload(json!({"logo_ids": logo_ids, "username": username}))
}

fn invalid(detail: &str) -> JobError {
    JobError::InvalidPayload {
        kind: "logo_annotation_insights",
        detail: detail.to_string(),
    }
}

/// Runs the job; called with no transaction open (Product Opener is called).
pub(super) async fn run(ctx: &Context, job: &ClaimedJob) -> Result<(), JobError> {
    let t = Target::of(job)?;
    let ids: Vec<i32> = job
        .payload
        .get("logo_ids")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("no logo_ids"))?
        .iter()
        .map(|v| v.as_i64().and_then(|i| i32::try_from(i).ok()))
        .collect::<Option<_>>()
        .ok_or_else(|| invalid("logo_ids must be integers"))?;
    let username = job
        .payload
        .get("username")
        .and_then(Value::as_str)
        .filter(|u| !u.is_empty())
        .ok_or_else(|| invalid("no username"))?
        .to_string();
    let rows = logos::by_ids(&ctx.pool, &ids).await?;
    let importing = Importing::from_settings(&ctx.settings).await?;
    let annotate = AnnotateContext {
        pool: ctx.pool.clone(),
        po: ctx.resources.po.clone(),
        settings: ctx.settings.clone(),
    };
    for logo in &rows {
        let Some(prediction) = logo_prediction(logo) else {
            continue;
        };
        if prediction.barcode.as_deref() != Some(t.barcode) {
            tracing::warn!(
                logo = logo.id,
                "logo of another product left to its own job"
            );
            continue;
        }
        let kind = prediction.kind.as_str();
        let mut tx = ctx.pool.begin().await?;
        insight_import::import_product_predictions(
            &mut tx,
            &importing,
            t.barcode,
            prediction.server_type,
            vec![prediction.clone()],
        )
        .await?;
        tx.commit().await?;
        for insight_id in
            logo_writes::open_insights_of_logo(&ctx.pool, t.barcode, kind, logo.id).await?
        {
            let mut request = AnnotateRequest::automatic(insight_id);
            request.caller = Caller::Delegated(username.clone());
            let outcome = annotation::annotate(&annotate, request)
                .await
                .map_err(|e| JobError::Failed(e.to_string()))?;
            if outcome.status == AnnotationStatus::ErrorFailedUpdate {
                return Err(JobError::Unavailable(format!(
                    "Product Opener unavailable while applying insight {insight_id} of logo {}",
                    logo.id
                )));
            }
            tracing::info!(logo = logo.id, insight = %insight_id, status = outcome.status.name(), "logo insight annotated");
        }
    }
    Ok(())
}
