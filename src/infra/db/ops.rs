//! What the operations page reads: the job queue by priority and state, dead jobs, the
//! scheduler's task runs, the update listener's positions and the insights created
//! lately.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;

/// Jobs of one priority in one state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct QueueCount {
    pub priority: i16,
    pub state: String,
    pub count: i64,
    /// Of the queued ones, those whose `run_after` has passed.
    pub due: i64,
}

/// Number of jobs per priority and state (finished jobs are kept until purged).
pub async fn queue_counts(pool: &PgPool) -> Result<Vec<QueueCount>, sqlx::Error> {
    sqlx::query_as(
        "SELECT priority, state, count(*) AS count,
                count(*) FILTER (WHERE state = 'queued' AND run_after <= now()) AS due
         FROM job GROUP BY priority, state ORDER BY priority, state",
    )
    .fetch_all(pool)
    .await
}

/// A dead job as the page lists it (its payload left out).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct DeadJob {
    pub id: i64,
    pub kind: String,
    pub barcode: Option<String>,
    pub server_type: Option<String>,
    pub priority: i16,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// The `limit` newest dead jobs, with their last error cut to `error_chars` characters.
pub async fn dead_jobs(
    pool: &PgPool,
    limit: i64,
    error_chars: i32,
) -> Result<Vec<DeadJob>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, kind, barcode, server_type, priority, attempts,
                left(last_error, $2) AS last_error, created_at, finished_at
         FROM job WHERE state = 'dead' ORDER BY id DESC LIMIT $1",
    )
    .bind(limit)
    .bind(error_chars)
    .fetch_all(pool)
    .await
}

/// The last run of a cluster-wide scheduled task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct TaskRun {
    pub name: String,
    pub runs: i64,
    pub node: Option<String>,
    pub last_started: Option<DateTime<Utc>>,
    pub last_finished: Option<DateTime<Utc>>,
    pub ok: Option<bool>,
    pub outcome: Option<String>,
}

/// Every task recorded in `scheduler_task`, by name.
pub async fn scheduler_tasks(pool: &PgPool) -> Result<Vec<TaskRun>, sqlx::Error> {
    sqlx::query_as(
        "SELECT name, runs, node, last_started, last_finished, ok, outcome
         FROM scheduler_task ORDER BY name",
    )
    .fetch_all(pool)
    .await
}

/// Where the update listener stands in one stream (one row per stream and lane).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct StreamPosition {
    pub stream: String,
    pub last_id: String,
    pub updated_at: DateTime<Utc>,
}

/// Every stored stream position.
pub async fn stream_positions(pool: &PgPool) -> Result<Vec<StreamPosition>, sqlx::Error> {
    sqlx::query_as("SELECT stream, last_id, updated_at FROM stream_offset ORDER BY stream")
        .fetch_all(pool)
        .await
}

/// Insights of one type created in one hour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct InsightsInHour {
    #[sqlx(rename = "type")]
    pub insight_type: String,
    /// Start of the hour (UTC).
    pub hour: NaiveDateTime,
    pub count: i64,
}

/// Insights created per type and hour over the last `hours` hours (insight timestamps
/// are UTC without a zone, as Robotoff writes them).
pub async fn insights_per_hour(
    pool: &PgPool,
    hours: i32,
) -> Result<Vec<InsightsInHour>, sqlx::Error> {
    sqlx::query_as(
        r#"SELECT type, date_trunc('hour', "timestamp") AS hour, count(*) AS count
           FROM product_insight
           WHERE "timestamp" > (now() AT TIME ZONE 'utc') - make_interval(hours => $1)
           GROUP BY type, hour ORDER BY hour, type"#,
    )
    .bind(hours)
    .fetch_all(pool)
    .await
}

/// What became of a request to run a dead job again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requeue {
    /// Queued again with a fresh set of attempts; the dispatchers are woken.
    Queued,
    /// The job exists but is not dead (`state` names what it is).
    NotDead,
    NotFound,
}

/// Queues dead job `id` again (attempts reset, due now) and wakes the dispatchers
/// listening on `robotoff_jobs`, in one transaction.
pub async fn requeue_dead(pool: &PgPool, id: i64) -> Result<Requeue, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let state: Option<String> =
        sqlx::query_scalar("SELECT state FROM job WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    let outcome = match state.as_deref() {
        None => Requeue::NotFound,
        Some("dead") => {
            sqlx::query(
                "UPDATE job SET state = 'queued', attempts = 0, run_after = now(),
                        finished_at = NULL
                 WHERE id = $1",
            )
            .bind(id)
            .execute(&mut *tx)
            .await?;
            sqlx::query("SELECT pg_notify('robotoff_jobs', '')")
                .execute(&mut *tx)
                .await?;
            Requeue::Queued
        }
        Some(_) => Requeue::NotDead,
    };
    tx.commit().await?;
    Ok(outcome)
}
