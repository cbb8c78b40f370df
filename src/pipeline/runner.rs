//! Runs one claimed job (inside its product's shard): the kind's handler and the job's
//! completion commit in one transaction; failures are retried with backoff or kept dead.

use super::context::Context;
use super::job::{Effects, JobError, Target};
use super::model_step::{self, StepResults};
use super::{edits, image, product};
use crate::infra::db::jobs::{self, ClaimedJob, FailOutcome};
use crate::infra::metrics;
use crate::insights::import::Importing;
use crate::jobs::{retry_delay, JobKind};
use chrono::Utc;
use futures::FutureExt;
use serde::Deserialize;
use sqlx::PgConnection;
use std::panic::AssertUnwindSafe;
use std::str::FromStr;
use std::time::{Duration, Instant};

/// How a job run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    Done,
    Retried(String),
    Dead(String),
    /// The claim was taken over (crash recovery); this run's effects were rolled back.
    LeaseLost,
    /// The queue could not be updated; the job stays running until recovered.
    Unrecorded(String),
}

impl JobOutcome {
    pub fn label(&self) -> &'static str {
        match self {
            Self::Done => "done",
            Self::Retried(_) => "retried",
            Self::Dead(_) => "dead",
            Self::LeaseLost => "lease_lost",
            Self::Unrecorded(_) => "unrecorded",
        }
    }
}

/// Parameters of a probe job (all optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProbePayload {
    /// Time to spend "working", in milliseconds.
    #[serde(default)]
    sleep_ms: u64,
    /// Fail this many first attempts.
    #[serde(default)]
    fail_attempts: i32,
    /// Panic instead of returning an error when failing.
    #[serde(default)]
    panic: bool,
}

/// A finished run: how it ended, and what its committed effects ask of the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRun {
    pub outcome: JobOutcome,
    /// Empty unless the outcome is [`JobOutcome::Done`].
    pub effects: Effects,
}

/// Runs `job` to an outcome; never panics, never leaves the job without a decision
/// unless the database itself is unreachable.
pub async fn run(ctx: &Context, job: &ClaimedJob) -> JobRun {
    run_with(ctx, job, None).await
}

/// Runs `job`, a model step whose models already ran (`computed`, see
/// [`model_step::compute`]): only its writes and completion remain.
pub async fn commit_model_step(ctx: &Context, job: &ClaimedJob, computed: StepResults) -> JobRun {
    run_with(ctx, job, Some(computed)).await
}

async fn run_with(ctx: &Context, job: &ClaimedJob, computed: Option<StepResults>) -> JobRun {
    let started_at = Utc::now();
    let clock = Instant::now();
    let limit = Duration::from_secs(ctx.settings.workers.job_timeout_secs);
    let span = tracing::info_span!("job", id = job.id, kind = %job.kind, barcode = job.barcode.as_deref().unwrap_or(""));
    let attempt = AssertUnwindSafe(execute(ctx, job, started_at, computed)).catch_unwind();
    let mut effects = Effects::default();
    let result = match tokio::time::timeout(
        limit,
        tracing::Instrument::instrument(attempt, span.clone()),
    )
    .await
    {
        Ok(Ok(Ok(done))) => {
            effects = done;
            Ok(())
        }
        Ok(Ok(Err(JobError::LeaseLost))) => {
            metrics::job_finished(&job.kind, "lease_lost", clock.elapsed());
            return JobRun {
                outcome: JobOutcome::LeaseLost,
                effects,
            };
        }
        Ok(Ok(Err(err))) => Err(err),
        Ok(Err(panic)) => Err(JobError::Failed(format!(
            "panicked: {}",
            panic_message(&panic)
        ))),
        Err(_) => Err(JobError::Failed(format!(
            "timed out after {} s",
            limit.as_secs()
        ))),
    };
    let outcome = match result {
        Ok(()) => JobOutcome::Done,
        Err(error) => {
            let _enter = span.enter();
            record_failure(ctx, job, error).await
        }
    };
    metrics::job_finished(&job.kind, outcome.label(), clock.elapsed());
    JobRun { outcome, effects }
}

/// Records why a job failed: retried after the backoff delay (or dead when out of
/// attempts); deferred without using up an attempt when a service it needs is away;
/// dead at once when its input can never work.
pub async fn record_failure(ctx: &Context, job: &ClaimedJob, error: JobError) -> JobOutcome {
    let w = &ctx.settings.workers;
    let text = error.to_string();
    tracing::warn!(attempt = job.attempts, error = %text, "job failed");
    let recorded = match error {
        JobError::LeaseLost => return JobOutcome::LeaseLost,
        JobError::Unavailable(_) => {
            let base = Duration::from_secs(ctx.settings.ml.unavailable_retry_secs.max(1));
            let max = Duration::from_secs(w.retry_max_secs).max(base);
            jobs::defer(&ctx.pool, job.id, job.lease, &text, base, max)
                .await
                .map(|ours| {
                    if ours {
                        FailOutcome::Retried
                    } else {
                        FailOutcome::LeaseLost
                    }
                })
        }
        JobError::Unusable(_) => jobs::fail_for_good(&ctx.pool, job.id, job.lease, &text).await,
        _ => {
            let delay = retry_delay(
                job.attempts,
                Duration::from_secs(w.retry_base_secs),
                Duration::from_secs(w.retry_max_secs),
            );
            jobs::fail(&ctx.pool, job.id, job.lease, &text, delay).await
        }
    };
    match recorded {
        Ok(FailOutcome::Retried) => JobOutcome::Retried(text),
        Ok(FailOutcome::Dead) => JobOutcome::Dead(text),
        Ok(FailOutcome::LeaseLost) => JobOutcome::LeaseLost,
        Err(db) => {
            JobOutcome::Unrecorded(format!("{text}; then could not record the failure: {db}"))
        }
    }
}

async fn execute(
    ctx: &Context,
    job: &ClaimedJob,
    started_at: chrono::DateTime<Utc>,
    computed: Option<StepResults>,
) -> Result<Effects, JobError> {
    let kind = JobKind::from_str(&job.kind).map_err(|_| JobError::UnknownKind(job.kind.clone()))?;
    if kind == JobKind::SendProductEdits {
        // Product Opener is called with no transaction open; each edit records its
        // own answer, so only the job's completion remains.
        edits::send(ctx, job).await?;
    }
    if kind == JobKind::LogoAnnotationInsights {
        // Imports and annotations commit on their own (Product Opener is called between
        // them); only the job's completion remains.
        super::logo_annotations::run(ctx, job).await?;
    }
    let computed = match (kind, computed) {
        (JobKind::RunImageModels | JobKind::PredictCategory, None) => {
            Some(model_step::compute(ctx, job).await?)
        }
        (_, computed) => computed,
    };
    let mut tx = ctx.pool.begin().await?;
    // A job's effects and its completion commit together; if PostgreSQL itself crashes
    // before flushing them, both are lost and the job simply runs again. So completions
    // need not wait for the WAL flush (enqueueing still does).
    crate::infra::db::commit_without_flush(&mut tx).await?;
    if let (true, Some(barcode)) = (ctx.settings.cluster.enabled, job.barcode.as_deref()) {
        // Annotations of the product made on other nodes take turns with the job.
        crate::infra::db::fence::lock_product(&mut tx, barcode).await?;
    }
    let mut effects = Effects::default();
    match kind {
        JobKind::Noop => {}
        JobKind::Probe => {
            let p: ProbePayload = serde_json::from_value(job.payload.clone()).map_err(|e| {
                JobError::InvalidPayload {
                    kind: "probe",
                    detail: e.to_string(),
                }
            })?;
            if p.sleep_ms > 0 {
                tokio::time::sleep(Duration::from_millis(p.sleep_ms)).await;
            }
            if job.attempts <= p.fail_attempts {
                if p.panic {
                    panic!(
                        "probe job {} asked to panic on attempt {}",
                        job.id, job.attempts
                    );
                }
                return Err(JobError::Failed(format!(
                    "probe job asked to fail attempt {}",
                    job.attempts
                )));
            }
            jobs::record_probe(&mut tx, job.id, job.barcode.as_deref(), started_at).await?;
        }
        JobKind::RunImageModels | JobKind::PredictCategory => {
            if let Some(results) = &computed {
                effects = model_step::commit(ctx, job, results, &mut tx).await?;
            }
        }
        other => effects = handle(ctx, other, job, &mut tx).await?,
    }
    let written = crate::infra::db::cluster::written_in_transaction(&mut tx).await?;
    effects.insights_changed = written.insights;
    effects.logos_changed = written.logo_embeddings;
    if !jobs::complete(&mut tx, job.id, job.lease, started_at).await? {
        tx.rollback().await?;
        return Err(JobError::LeaseLost);
    }
    tx.commit().await?;
    Ok(effects)
}

/// Runs the handler of `kind` in the job's transaction; probe and no-op jobs are handled
/// by [`execute`] itself.
async fn handle(
    ctx: &Context,
    kind: JobKind,
    job: &ClaimedJob,
    conn: &mut PgConnection,
) -> Result<Effects, JobError> {
    let none = |r: Result<(), JobError>| r.map(|()| Effects::default());
    match kind {
        JobKind::DeleteProductInsights => {
            none(product::delete_product_insights(Target::of(job)?, conn).await)
        }
        JobKind::RefreshInsights => {
            let importing = Importing::from_settings(&ctx.settings).await?;
            none(product::refresh(ctx, &importing, Target::of(job)?, conn).await)
        }
        JobKind::UpdateInsights => {
            let importing = Importing::from_settings(&ctx.settings).await?;
            none(
                product::update_insights(ctx, &importing, Target::of(job)?, &job.payload, conn)
                    .await,
            )
        }
        JobKind::DeletedImage => image::deleted_image(Target::of(job)?, &job.payload, conn).await,
        JobKind::ImportImage => {
            none(image::import_image(ctx, Target::of(job)?, &job.payload, conn).await)
        }
        JobKind::ImportInsightsFromImage => {
            let importing = Importing::from_settings(&ctx.settings).await?;
            none(
                image::import_insights_from_image(
                    ctx,
                    &importing,
                    Target::of(job)?,
                    &job.payload,
                    conn,
                )
                .await,
            )
        }
        JobKind::ProductTypeSwitched => {
            none(product::product_type_switched(ctx, Target::of(job)?, conn).await)
        }
        JobKind::ProcessCreatedLogos => none(
            super::logos::process_created_logos(ctx, Target::of(job)?, &job.payload, conn).await,
        ),
        JobKind::Noop
        | JobKind::Probe
        | JobKind::SendProductEdits
        | JobKind::RunImageModels
        | JobKind::PredictCategory
        | JobKind::LogoAnnotationInsights => Ok(Effects::default()),
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}
