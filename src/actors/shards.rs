//! Sending product work to the shard that owns the product: imports of any products,
//! annotations, and the insights of annotated logos. Callers outside the tree (HTTP
//! handlers, the scheduler's tasks) reach the shards only through these functions.

use super::product_shard::ShardMsg;
use super::{call, CallError, Services};
use crate::annotation::logos::logo_prediction;
use crate::annotation::{
    self, AnnotateContext, AnnotateError, AnnotateOutcome, AnnotateRequest, Caller,
};
use crate::cluster::NoticeKind;
use crate::infra::db::logo_writes;
use crate::infra::db::rows::LogoRow;
use crate::insights::import::{ImportError, ImportSummary};
use crate::types::{Prediction, ServerType};
use ractor::RpcReplyPort;
use std::collections::BTreeMap;
use std::time::Duration;

/// The shard owning a product did not answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("the product shard {shard} of {barcode} did not answer: {source}")]
pub struct ShardCallError {
    pub barcode: String,
    pub shard: u32,
    #[source]
    pub source: CallError,
}

/// Why an import through the shards did not complete.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ImportRouteError {
    #[error(transparent)]
    Shard(#[from] ShardCallError),
    #[error(transparent)]
    Import(#[from] ImportError),
}

/// Why an annotation could not be routed to, or answered by, its product's shard.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    #[error("looking up insight {insight_id}: {source}")]
    Lookup {
        insight_id: uuid::Uuid,
        #[source]
        source: sqlx::Error,
    },
    #[error("shard {shard} of insight {insight_id}: {source}")]
    Shard {
        insight_id: uuid::Uuid,
        shard: u32,
        #[source]
        source: CallError,
    },
    #[error("shard {shard} has too many annotations waiting")]
    Busy { shard: u32 },
    #[error(transparent)]
    Annotate(#[from] AnnotateError),
}

/// Sends `build`'s message to the shard owning `barcode` and waits for the answer.
pub async fn ask_shard<R, F>(
    services: &Services,
    barcode: &str,
    build: F,
) -> Result<R, ShardCallError>
where
    R: Send + 'static,
    F: FnOnce(RpcReplyPort<R>) -> ShardMsg,
{
    let shard = crate::shard::shard_of(barcode, services.settings.workers.shards);
    let name = services.names.shard(shard);
    let timeout = Duration::from_secs(services.settings.insights.shard_call_timeout_secs);
    let shard_err = |source| ShardCallError {
        barcode: barcode.to_string(),
        shard,
        source,
    };
    let actor = services
        .names
        .lookup::<ShardMsg>(&name)
        .ok_or_else(|| shard_err(CallError::NotRunning(name.clone())))?;
    call(&actor, build, timeout).await.map_err(shard_err)
}

/// Imports predictions of any products through their shards (one transaction per
/// product, in the shard that owns it), adding up the counts.
pub async fn import_via_shards(
    services: &Services,
    server_type: ServerType,
    predictions: Vec<Prediction>,
) -> Result<ImportSummary, ImportRouteError> {
    let mut by_barcode: BTreeMap<String, Vec<Prediction>> = BTreeMap::new();
    for p in predictions {
        let barcode = p.barcode.clone().unwrap_or_default();
        by_barcode.entry(barcode).or_default().push(p);
    }
    let mut summary = ImportSummary::default();
    for (barcode, predictions) in by_barcode {
        if barcode.is_empty() {
            tracing::warn!(
                count = predictions.len(),
                "predictions without a barcode not imported"
            );
            continue;
        }
        let b = barcode.clone();
        summary += ask_shard(services, &barcode, move |reply| {
            ShardMsg::ImportPredictions {
                barcode: b,
                server_type,
                predictions,
                reply,
            }
        })
        .await??;
    }
    Ok(summary)
}

/// Annotates through the shard of the insight's product (an unknown insight is
/// answered without one), waiting at most `timeout`. A shard with
/// `annotation.queue_per_shard` annotations waiting refuses more ([`RouteError::Busy`]);
/// an annotation whose caller has gone (this future dropped) is skipped by the shard.
pub async fn annotate(
    services: &Services,
    request: AnnotateRequest,
    timeout: Duration,
) -> Result<AnnotateOutcome, RouteError> {
    let insight_id = request.insight_id;
    let product = crate::infra::db::annotations::insight_product(&services.pool, insight_id)
        .await
        .map_err(|source| RouteError::Lookup { insight_id, source })?;
    let Some((barcode, _)) = product else {
        return Ok(AnnotateOutcome::of(
            annotation::AnnotationStatus::ErrorUnknownInsight,
        ));
    };
    let shard = crate::shard::shard_of(&barcode, services.settings.workers.shards);
    let name = services.names.shard(shard);
    let shard_err = |source| RouteError::Shard {
        insight_id,
        shard,
        source,
    };
    let actor = services.names.lookup::<ShardMsg>(&name);
    if actor.is_none() && !services.settings.has_role(crate::config::Role::Workers) {
        // A node without product shards (api only) annotates itself; in cluster mode the
        // product's lock keeps it apart from the jobs of the shard's owner.
        let ctx = AnnotateContext {
            pool: services.pool.clone(),
            po: services.resources.po.clone(),
            settings: services.settings.clone(),
        };
        let voters = request.voter_keys();
        let outcome = tokio::time::timeout(timeout, annotation::annotate(&ctx, request))
            .await
            .map_err(|_| shard_err(CallError::Timeout(name.clone())))??;
        announce(services, &outcome, voters);
        return Ok(outcome);
    }
    let actor = actor.ok_or_else(|| shard_err(CallError::NotRunning(name.clone())))?;
    let _waiting = match services.shard_queues.get(shard as usize) {
        Some(queue) => Some(
            queue
                .clone()
                .try_acquire_owned()
                .map_err(|_| RouteError::Busy { shard })?,
        ),
        None => None,
    };
    let voters = request.voter_keys();
    let result = call(
        &actor,
        |reply| ShardMsg::Annotate { request, reply },
        timeout,
    )
    .await
    .map_err(shard_err)?;
    let outcome = result?;
    announce(services, &outcome, voters);
    Ok(outcome)
}

/// Tells every node's listing caches what an annotation changed: a vote that settled
/// nothing changes only its voter's listings (others still get the question, as from
/// Robotoff); anything else changes every listing.
fn announce(services: &Services, outcome: &AnnotateOutcome, voters: Vec<String>) {
    let detail = if outcome.status == annotation::AnnotationStatus::VoteSaved {
        crate::cluster::voters_detail(voters)
    } else {
        serde_json::Value::Null
    };
    services.hub.raise(NoticeKind::Listings, detail);
}

/// Longest wait for one logo insight's annotation in a product shard.
const LOGO_ANNOTATE_TIMEOUT: Duration = Duration::from_secs(60);

/// What annotated logos produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogoInsights {
    pub predictions: usize,
    pub insights_applied: usize,
}

/// Insights from annotated logos (spec api-db §4.7): each brand or label logo
/// annotation becomes a prediction of the logo's product, imported through the
/// product's shard, and the insights it yields are applied at once as `caller`.
pub async fn apply_logo_annotations(
    services: &Services,
    logos: &[LogoRow],
    caller: &Caller,
) -> Result<LogoInsights, String> {
    let mut out = LogoInsights::default();
    for logo in logos {
        let Some(prediction) = logo_prediction(logo) else {
            continue;
        };
        let barcode = prediction.barcode.clone().unwrap_or_default();
        let kind = prediction.kind.as_str();
        let server_type = prediction.server_type;
        import_via_shards(services, server_type, vec![prediction])
            .await
            .map_err(|e| format!("importing the prediction of logo {}: {e}", logo.id))?;
        out.predictions += 1;
        let ids = logo_writes::open_insights_of_logo(&services.pool, &barcode, kind, logo.id)
            .await
            .map_err(|e| format!("reading the insights of logo {}: {e}", logo.id))?;
        for insight_id in ids {
            let mut request = AnnotateRequest::automatic(insight_id);
            request.caller = caller.clone();
            match annotate(services, request, LOGO_ANNOTATE_TIMEOUT).await {
                Ok(outcome) => {
                    tracing::info!(logo = logo.id, insight = %insight_id, status = outcome.status.name(), "logo insight annotated");
                    out.insights_applied += 1;
                }
                Err(e) => {
                    return Err(format!(
                        "annotating insight {insight_id} of logo {}: {e}",
                        logo.id
                    ))
                }
            }
        }
    }
    Ok(out)
}
