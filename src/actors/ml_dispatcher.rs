//! MlDispatcher: the model lane. It runs the model-step jobs the job dispatcher claims
//! for it (`ml` priority, a budget of `ml.max_jobs` apart from the shards' windows):
//! each job's image is fetched, decoded and run through its models off the shards
//! (each model's calls bounded by its `concurrency`, CLIP crops batched across images);
//! the results are then committed by the product's shard, with the job's completion.
//! It never writes product data itself.

use super::product_shard::ShardMsg;
use super::Services;
use crate::infra::db::jobs::ClaimedJob;
use crate::infra::metrics;
use crate::pipeline::{self, JobError, JobRun};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the model lane tells whoever feeds it jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LaneEvent {
    /// The lane (re)started with nothing in progress: jobs handed to a previous instance
    /// must be claimed again.
    Started,
    /// A job of `shard` finished: the lane has room for one more.
    StepDone { shard: u32 },
}

/// Where the lane sends its [`LaneEvent`]s (the job dispatcher, when it runs).
pub type LaneReport = Arc<dyn Fn(LaneEvent) + Send + Sync>;

pub enum MlMsg {
    /// Run a claimed model-step job.
    Run(ClaimedJob),
    /// Number of model-step jobs in progress.
    InFlight(RpcReplyPort<usize>),
}

pub struct MlDispatcher;

pub struct MlState {
    services: Services,
    report: LaneReport,
    in_flight: Arc<AtomicUsize>,
}

#[ractor::async_trait]
impl Actor for MlDispatcher {
    type Msg = MlMsg;
    type State = MlState;
    type Arguments = (Services, LaneReport);

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        (services, report): (Services, LaneReport),
    ) -> Result<Self::State, ActorProcessingErr> {
        // Jobs handed to a previous instance are lost with it: the dispatcher queues
        // them again.
        report(LaneEvent::Started);
        Ok(MlState {
            services,
            report,
            in_flight: Arc::new(AtomicUsize::new(0)),
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        msg: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            MlMsg::Run(job) => {
                let n = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                metrics::ml_in_flight(n);
                let services = state.services.clone();
                let in_flight = state.in_flight.clone();
                let report = state.report.clone();
                tokio::spawn(async move {
                    let shard = job.shard;
                    let run = run_step(&services, job).await;
                    tracing::debug!(shard, outcome = run.outcome.label(), "model step finished");
                    let n = in_flight.fetch_sub(1, Ordering::SeqCst).saturating_sub(1);
                    metrics::ml_in_flight(n);
                    report(LaneEvent::StepDone {
                        shard: u32::try_from(shard).unwrap_or(0),
                    });
                });
            }
            MlMsg::InFlight(reply) => {
                let _ = reply.send(state.in_flight.load(Ordering::SeqCst));
            }
        }
        Ok(())
    }
}

/// Computes a model step, then has the product's shard commit it. A failure before the
/// commit is recorded here (only the job row changes); the commit's own failures are
/// recorded by the shard.
async fn run_step(services: &Services, job: ClaimedJob) -> JobRun {
    let ctx = services.job_context();
    let clock = Instant::now();
    let limit = Duration::from_secs(services.settings.workers.job_timeout_secs);
    let span = tracing::info_span!(
        "model_step",
        id = job.id,
        barcode = job.barcode.as_deref().unwrap_or("")
    );
    let computed = tracing::Instrument::instrument(
        tokio::time::timeout(limit, pipeline::model_step::compute(&ctx, &job)),
        span,
    )
    .await
    .unwrap_or_else(|_| {
        Err(JobError::Failed(format!(
            "timed out after {} s",
            limit.as_secs()
        )))
    });
    let results = match computed {
        Ok(results) => results,
        Err(error) => {
            let outcome = pipeline::record_failure(&ctx, &job, error).await;
            metrics::job_finished(&job.kind, outcome.label(), clock.elapsed());
            return JobRun {
                outcome,
                effects: Default::default(),
            };
        }
    };
    let shard = u32::try_from(job.shard).unwrap_or(0);
    let name = services.names.shard(shard);
    let Some(actor) = services.names.lookup::<ShardMsg>(&name) else {
        let outcome = pipeline::record_failure(
            &ctx,
            &job,
            JobError::Failed(format!("shard {shard} is not running")),
        )
        .await;
        return JobRun {
            outcome,
            effects: Default::default(),
        };
    };
    let timeout = Duration::from_secs(services.settings.insights.shard_call_timeout_secs.max(1));
    let answer = actor
        .call(
            |reply| ShardMsg::CommitModelStep {
                job: job.clone(),
                results: Box::new(results),
                reply,
            },
            Some(timeout),
        )
        .await;
    match answer {
        Ok(ractor::rpc::CallResult::Success(run)) => run,
        _ => {
            // The shard stopped or is stuck. Queuing the job again is safe either way:
            // a commit still under way loses its lease and rolls back, and a commit that
            // went through has already completed the job, so nothing changes.
            let outcome = pipeline::record_failure(
                &ctx,
                &job,
                JobError::Failed(format!("shard {shard} did not commit in time")),
            )
            .await;
            JobRun {
                outcome,
                effects: Default::default(),
            }
        }
    }
}
