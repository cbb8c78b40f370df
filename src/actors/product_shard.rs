//! ProductShard: one actor per barcode shard; every write for a product runs here, in order.

use super::logo_index::LogoIndexMsg;
use super::{Services, LOGO_INDEX};
use crate::annotation::{self, AnnotateContext, AnnotateError, AnnotateOutcome, AnnotateRequest};
use crate::cluster::NoticeKind;
use crate::infra::db::jobs::ClaimedJob;
use crate::insights::import::{
    self as insight_import, DeletionSummary, ImportError, ImportSummary, Importing, LogoPolicy,
};
use crate::pipeline;
use crate::types::{Prediction, ServerType};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use std::sync::Arc;

pub enum ShardMsg {
    /// Run a claimed job, then tell the dispatcher the shard has room again.
    Run(ClaimedJob),
    /// Commit a model step computed by the model lane (its writes and its completion,
    /// in one transaction). Not counted in the shard's window.
    CommitModelStep {
        job: ClaimedJob,
        results: Box<pipeline::model_step::StepResults>,
        reply: RpcReplyPort<pipeline::JobRun>,
    },
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

/// What a shard tells whoever feeds it jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardEvent {
    /// The shard (re)started with an empty mailbox: jobs handed to a previous instance
    /// must be claimed again.
    Started { shard: u32 },
    /// A job finished: the shard has room for one more.
    JobDone { shard: u32 },
}

/// Where a shard sends its [`ShardEvent`]s (the job dispatcher, when it runs).
pub type ShardReport = Arc<dyn Fn(ShardEvent) + Send + Sync>;

pub struct ProductShard;

pub struct ShardState {
    shard: u32,
    services: Services,
    jobs: pipeline::Context,
    report: ShardReport,
    annotate: AnnotateContext,
}

impl ShardState {
    /// Tells every node's listings that insights changed, if they did.
    fn announce_if(&self, insights_changed: bool) {
        if insights_changed {
            self.services
                .hub
                .raise(NoticeKind::Listings, serde_json::Value::Null);
        }
    }

    /// Carries out what a committed job leaves to do outside the database.
    fn follow_up(&self, effects: pipeline::Effects) {
        self.announce_if(effects.insights_changed);
        if effects.logos_changed || !effects.removed_logos.is_empty() {
            self.services
                .hub
                .raise(NoticeKind::Logos, serde_json::Value::Null);
        }
        if effects.removed_logos.is_empty() {
            return;
        }
        // The deletion is in the logged logo changes: the index catches up with it now
        // rather than at its next tick.
        let name = self.services.names.of(LOGO_INDEX);
        if let Some(index) = self.services.names.lookup::<LogoIndexMsg>(&name) {
            let _ = index.cast(LogoIndexMsg::Sync(None));
        }
    }
}

#[ractor::async_trait]
impl Actor for ProductShard {
    type Msg = ShardMsg;
    type State = ShardState;
    type Arguments = (u32, Services, ShardReport);

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        (shard, services, report): (u32, Services, ShardReport),
    ) -> Result<Self::State, ActorProcessingErr> {
        report(ShardEvent::Started { shard });
        let annotate = AnnotateContext {
            pool: services.pool.clone(),
            po: services.resources.po.clone(),
            settings: services.settings.clone(),
        };
        Ok(ShardState {
            shard,
            jobs: services.job_context(),
            services,
            report,
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
                let run = pipeline::run(&state.jobs, &job).await;
                tracing::debug!(
                    shard = state.shard,
                    job = job.id,
                    outcome = run.outcome.label(),
                    "job finished"
                );
                state.follow_up(run.effects);
                (state.report)(ShardEvent::JobDone { shard: state.shard });
            }
            ShardMsg::CommitModelStep {
                job,
                results,
                reply,
            } => {
                let run = pipeline::commit_model_step(&state.jobs, &job, *results).await;
                state.follow_up(run.effects.clone());
                let _ = reply.send(run);
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
                        let r = insight_import::import_product_predictions(
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
                state.announce_if(result.as_ref().is_ok_and(|s| s.changed_insights()));
                let _ = reply.send(result);
            }
            ShardMsg::RefreshInsights {
                barcode,
                server_type,
                reply,
            } => {
                let result = match begin(&state.services, &barcode, server_type).await {
                    Ok((mut tx, importing)) => {
                        let r = insight_import::refresh_product(
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
                state.announce_if(result.as_ref().is_ok_and(|s| s.changed_insights()));
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
                            insight_import::delete_product(&mut tx, &barcode, server_type).await;
                        finish(tx, r, &barcode, server_type).await
                    }
                    Err(e) => Err(e),
                };
                state.announce_if(result.as_ref().is_ok_and(|s| s.changed_insights()));
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
                        let r = insight_import::delete_images(
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
                state.announce_if(result.as_ref().is_ok_and(|s| s.changed_insights()));
                let _ = reply.send(result);
            }
            ShardMsg::Annotate { request, reply } => {
                let id = request.insight_id;
                if reply.is_closed() {
                    // The caller has gone (timed out or disconnected): nothing to do.
                    tracing::debug!(insight = %id, "annotation dropped: its caller has gone");
                    return Ok(());
                }
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
) -> Result<(Tx, Importing), ImportError> {
    let importing = Importing::from_settings(&services.settings).await?;
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
