//! ProductShard: one actor per barcode shard; every write for a product runs here, in order.

use super::job_dispatcher::DispatcherMsg;
use super::{job_runner, Services, JOB_DISPATCHER};
use crate::annotation::{self, AnnotateContext, AnnotateError, AnnotateOutcome, AnnotateRequest};
use crate::infra::db::jobs::ClaimedJob;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

pub enum ShardMsg {
    /// Run a claimed job, then tell the dispatcher the shard has room again.
    Run(ClaimedJob),
    /// Which shard this is (liveness check).
    Ping(RpcReplyPort<u32>),
    /// Annotate an insight of a product of this shard.
    Annotate {
        request: AnnotateRequest,
        reply: RpcReplyPort<Result<AnnotateOutcome, AnnotateError>>,
    },
}

pub struct ProductShard;

pub struct ShardState {
    shard: u32,
    services: Services,
    dispatcher: String,
    annotate: AnnotateContext,
}

#[ractor::async_trait]
impl Actor for ProductShard {
    type Msg = ShardMsg;
    type State = ShardState;
    type Arguments = (u32, Services);

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        (shard, services): (u32, Services),
    ) -> Result<Self::State, ActorProcessingErr> {
        let dispatcher = services.names.of(JOB_DISPATCHER);
        // A (re)started shard has an empty mailbox: jobs handed to a previous instance
        // must be claimed again.
        if let Some(d) = services.names.lookup::<DispatcherMsg>(&dispatcher) {
            let _ = d.cast(DispatcherMsg::ShardStarted { shard });
        }
        let annotate = AnnotateContext {
            pool: services.pool.clone(),
            po: crate::infra::product_opener::ProductOpener::new(
                &services.settings.product_opener,
            )?,
            refresh: annotation::refresh::installed(),
        };
        Ok(ShardState {
            shard,
            services,
            dispatcher,
            annotate,
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            ShardMsg::Run(job) => {
                let outcome = job_runner::run(&state.services, &job).await;
                tracing::debug!(
                    shard = state.shard,
                    job = job.id,
                    outcome = outcome.label(),
                    "job finished"
                );
                if let Some(d) = state
                    .services
                    .names
                    .lookup::<DispatcherMsg>(&state.dispatcher)
                {
                    let _ = d.cast(DispatcherMsg::JobDone { shard: state.shard });
                }
            }
            ShardMsg::Ping(reply) => {
                let _ = reply.send(state.shard);
            }
            ShardMsg::Annotate { request, reply } => {
                let id = request.insight_id;
                let span = tracing::info_span!("annotate", insight = %id, shard = state.shard);
                let result = tracing::Instrument::instrument(
                    annotation::annotate(&state.annotate, request),
                    span,
                )
                .await;
                if let Err(error) = &result {
                    tracing::warn!(insight = %id, %error, "annotation failed");
                }
                let _ = reply.send(result);
            }
        }
        Ok(())
    }
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
        source: super::CallError,
    },
    #[error(transparent)]
    Annotate(#[from] AnnotateError),
}

/// Annotates through the shard of the insight's product (an unknown insight is
/// answered without one), waiting at most `timeout`.
pub async fn annotate(
    services: &Services,
    request: AnnotateRequest,
    timeout: std::time::Duration,
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
    let actor = services
        .names
        .lookup::<ShardMsg>(&name)
        .ok_or_else(|| shard_err(super::CallError::NotRunning(name.clone())))?;
    let result = super::call(
        &actor,
        |reply| ShardMsg::Annotate { request, reply },
        timeout,
    )
    .await
    .map_err(shard_err)?;
    Ok(result?)
}
