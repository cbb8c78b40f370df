//! ProductShard: one actor per barcode shard; every write for a product runs here, in order.

use super::insight_importer::{self, DeletionSummary, ImportError, ImportSummary, LogoPolicy};
use super::job_dispatcher::DispatcherMsg;
use super::{job_runner, Services, JOB_DISPATCHER};
use crate::annotation::{self, AnnotateContext, AnnotateError, AnnotateOutcome, AnnotateRequest};
use crate::infra::db::jobs::ClaimedJob;
use crate::types::{Prediction, ServerType};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

pub enum ShardMsg {
    /// Run a claimed job, then tell the dispatcher the shard has room again.
    Run(ClaimedJob),
    /// Which shard this is (liveness check).
    Ping(RpcReplyPort<u32>),
    /// Store predictions of one product and update its insights (one transaction).
    ImportPredictions {
        barcode: String,
        server_type: ServerType,
        predictions: Vec<Prediction>,
        reply: RpcReplyPort<Result<ImportSummary, ImportError>>,
    },
    /// Recompute a product's insights from its stored predictions (after a product
    /// update or an annotation).
    RefreshInsights {
        barcode: String,
        server_type: ServerType,
        reply: RpcReplyPort<Result<ImportSummary, ImportError>>,
    },
    /// The product was deleted: drop its predictions and non-annotated insights.
    DeleteProduct {
        barcode: String,
        server_type: ServerType,
        reply: RpcReplyPort<Result<DeletionSummary, ImportError>>,
    },
    /// Images of the product were deleted.
    DeleteImages {
        barcode: String,
        server_type: ServerType,
        image_ids: Vec<String>,
        logos: LogoPolicy,
        reply: RpcReplyPort<Result<DeletionSummary, ImportError>>,
    },
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
            po: services.resources.po.clone(),
            refresh: std::sync::Arc::new(insight_importer::ImporterRefresh::new(
                services.settings.clone(),
            )),
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
            ShardMsg::ImportPredictions {
                barcode,
                server_type,
                predictions,
                reply,
            } => {
                let result = match begin(&state.services, &barcode, server_type).await {
                    Ok((mut tx, importing)) => {
                        let r = insight_importer::import_product_predictions(
                            &mut tx,
                            &importing,
                            &barcode,
                            server_type,
                            predictions,
                        )
                        .await;
                        finish(tx, r, &barcode, server_type).await
                    }
                    Err(e) => Err(e),
                };
                let _ = reply.send(result);
            }
            ShardMsg::RefreshInsights {
                barcode,
                server_type,
                reply,
            } => {
                let result = match begin(&state.services, &barcode, server_type).await {
                    Ok((mut tx, importing)) => {
                        let r = insight_importer::refresh_product(
                            &mut tx,
                            &importing,
                            &barcode,
                            server_type,
                        )
                        .await;
                        finish(tx, r, &barcode, server_type).await
                    }
                    Err(e) => Err(e),
                };
                let _ = reply.send(result);
            }
            ShardMsg::DeleteProduct {
                barcode,
                server_type,
                reply,
            } => {
                let result = match begin_deletion(&state.services, &barcode, server_type).await {
                    Ok(mut tx) => {
                        let r =
                            insight_importer::delete_product(&mut tx, &barcode, server_type).await;
                        finish(tx, r, &barcode, server_type).await
                    }
                    Err(e) => Err(e),
                };
                let _ = reply.send(result);
            }
            ShardMsg::DeleteImages {
                barcode,
                server_type,
                image_ids,
                logos,
                reply,
            } => {
                let result = match begin_deletion(&state.services, &barcode, server_type).await {
                    Ok(mut tx) => {
                        let r = insight_importer::delete_images(
                            &mut tx,
                            &barcode,
                            server_type,
                            &image_ids,
                            logos,
                        )
                        .await;
                        finish(tx, r, &barcode, server_type).await
                    }
                    Err(e) => Err(e),
                };
                let _ = reply.send(result);
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

type Tx = sqlx::Transaction<'static, sqlx::Postgres>;

fn db_error(
    doing: &'static str,
    barcode: &str,
    server_type: ServerType,
    e: sqlx::Error,
) -> ImportError {
    ImportError::Db {
        doing,
        barcode: barcode.to_string(),
        server_type,
        message: e.to_string(),
    }
}

/// Opens the transaction of one importer operation, with what importing needs.
async fn begin(
    services: &Services,
    barcode: &str,
    server_type: ServerType,
) -> Result<(Tx, insight_importer::Importing), ImportError> {
    let importing = insight_importer::Importing::from_settings(&services.settings).await?;
    Ok((
        begin_deletion(services, barcode, server_type).await?,
        importing,
    ))
}

/// Opens the transaction of a deletion (which reads no importer data file).
async fn begin_deletion(
    services: &Services,
    barcode: &str,
    server_type: ServerType,
) -> Result<Tx, ImportError> {
    services
        .pool
        .begin()
        .await
        .map_err(|e| db_error("opening a transaction", barcode, server_type, e))
}

/// Commits an operation that succeeded; an error rolls it back (the transaction is
/// dropped).
async fn finish<T>(
    tx: Tx,
    result: Result<T, ImportError>,
    barcode: &str,
    server_type: ServerType,
) -> Result<T, ImportError> {
    let value = result?;
    tx.commit()
        .await
        .map_err(|e| db_error("committing", barcode, server_type, e))?;
    Ok(value)
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
