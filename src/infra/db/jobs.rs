//! The durable job queue: enqueue, claim by shard and priority, complete, retry, dead jobs.

use crate::jobs::{NewJob, Priority};
use crate::shard::{shard_for_key, shard_key};
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor, PgPool};
use std::time::Duration;
use uuid::Uuid;

/// A job claimed by this node: it is `running` with our lease until completed or failed.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedJob {
    pub id: i64,
    pub kind: String,
    pub barcode: Option<String>,
    pub server_type: Option<String>,
    pub shard: i32,
    pub priority: i16,
    pub payload: serde_json::Value,
    pub attempts: i32,
    pub max_attempts: i32,
    pub lease: Uuid,
    pub run_after: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

/// A job as stored, for listings (dead jobs, a product's jobs).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct JobRecord {
    pub id: i64,
    pub kind: String,
    pub barcode: Option<String>,
    pub server_type: Option<String>,
    pub shard: i32,
    pub priority: i16,
    pub payload: serde_json::Value,
    pub state: String,
    pub attempts: i32,
    pub max_attempts: i32,
    pub last_error: Option<String>,
    pub run_after: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// What happened to a failed job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOutcome {
    /// Queued again, to run after the retry delay.
    Retried,
    /// Out of attempts: kept as a dead job.
    Dead,
    /// The claim was no longer ours (taken over after a crash): nothing changed.
    LeaseLost,
}

fn to_pg_interval(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// Enqueues `job` on the shard of its product (a random shard when it has none).
/// Returns the new job id, or `None` when a queued job with the same dedupe key exists.
pub async fn enqueue<'e>(
    db: impl PgExecutor<'e>,
    job: &NewJob,
    shards: u32,
    max_attempts: i32,
) -> Result<Option<i64>, sqlx::Error> {
    let (barcode, server_type) = match &job.product {
        Some((b, s)) => (Some(b.as_str()), Some(s.name())),
        None => (None, None),
    };
    let key = barcode.map(shard_key).unwrap_or_else(rand::random::<i32>);
    let shard = shard_for_key(key, shards) as i32;
    let row = sqlx::query_scalar!(
        r#"INSERT INTO job (kind, barcode, server_type, shard_key, shard, priority, payload, run_after,
                            max_attempts, dedupe_key)
           VALUES ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(secs => $8), $9, $10)
           ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL AND state = 'queued' DO NOTHING
           RETURNING id"#,
        job.kind.as_str(),
        barcode,
        server_type,
        key,
        shard,
        job.priority.as_i16(),
        job.payload,
        to_pg_interval(job.delay),
        max_attempts,
        job.dedupe_key.as_deref(),
    )
    .fetch_optional(db)
    .await?;
    if row.is_some() {
        crate::infra::metrics::job_enqueued(job.kind.as_str(), job.priority.as_str());
    }
    Ok(row)
}

/// Enqueues many jobs in one statement (no dedupe keys). Returns how many were inserted.
pub async fn enqueue_many<'e>(
    db: impl PgExecutor<'e>,
    jobs: &[NewJob],
    shards: u32,
    max_attempts: i32,
) -> Result<u64, sqlx::Error> {
    let mut kinds = Vec::with_capacity(jobs.len());
    let mut barcodes = Vec::with_capacity(jobs.len());
    let mut server_types = Vec::with_capacity(jobs.len());
    let mut keys = Vec::with_capacity(jobs.len());
    let mut shard_ids = Vec::with_capacity(jobs.len());
    let mut priorities = Vec::with_capacity(jobs.len());
    let mut payloads = Vec::with_capacity(jobs.len());
    let mut delays = Vec::with_capacity(jobs.len());
    for job in jobs {
        let (barcode, server_type) = match &job.product {
            Some((b, s)) => (Some(b.clone()), Some(s.name().to_string())),
            None => (None, None),
        };
        let key = barcode
            .as_deref()
            .map(shard_key)
            .unwrap_or_else(rand::random::<i32>);
        kinds.push(job.kind.as_str().to_string());
        barcodes.push(barcode);
        server_types.push(server_type);
        keys.push(key);
        shard_ids.push(shard_for_key(key, shards) as i32);
        priorities.push(job.priority.as_i16());
        payloads.push(job.payload.clone());
        delays.push(to_pg_interval(job.delay));
    }
    let result = sqlx::query!(
        r#"INSERT INTO job (kind, barcode, server_type, shard_key, shard, priority, payload, run_after, max_attempts)
           SELECT k, b, s, sk, sh, p, pl, now() + make_interval(secs => d), $9
           FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::int[], $6::int2[], $7::jsonb[], $8::float8[])
                AS t(k, b, s, sk, sh, p, pl, d)"#,
        &kinds,
        &barcodes as &[Option<String>],
        &server_types as &[Option<String>],
        &keys,
        &shard_ids,
        &priorities,
        &payloads,
        &delays,
        max_attempts,
    )
    .execute(db)
    .await?;
    Ok(result.rows_affected())
}

/// Enqueues a batch of jobs in one statement, inside the caller's transaction. Jobs
/// sharing a dedupe key with each other or with a queued job are merged into one: the
/// first payload is kept, and if the payloads differ its `diffs` becomes null ("anything
/// may have changed"), and the merged job takes the most urgent priority (a user's edit
/// collapsed into a pending bot update is not left waiting behind the bot backlog).
/// Returns how many new jobs were inserted.
pub async fn enqueue_batch(
    conn: &mut PgConnection,
    jobs: &[NewJob],
    shards: u32,
    max_attempts: i32,
) -> Result<u64, sqlx::Error> {
    if jobs.is_empty() {
        return Ok(0);
    }
    let jobs = crate::jobs::collapse_duplicates(jobs);
    let n = jobs.len();
    let mut kinds = Vec::with_capacity(n);
    let mut barcodes = Vec::with_capacity(n);
    let mut server_types = Vec::with_capacity(n);
    let mut keys = Vec::with_capacity(n);
    let mut shard_ids = Vec::with_capacity(n);
    let mut priorities = Vec::with_capacity(n);
    let mut payloads = Vec::with_capacity(n);
    let mut delays = Vec::with_capacity(n);
    let mut dedupe = Vec::with_capacity(n);
    for job in &jobs {
        let (barcode, server_type) = match &job.product {
            Some((b, s)) => (Some(b.clone()), Some(s.name().to_string())),
            None => (None, None),
        };
        let key = barcode
            .as_deref()
            .map(shard_key)
            .unwrap_or_else(rand::random::<i32>);
        kinds.push(job.kind.as_str().to_string());
        barcodes.push(barcode);
        server_types.push(server_type);
        keys.push(key);
        shard_ids.push(shard_for_key(key, shards) as i32);
        priorities.push(job.priority.as_i16());
        payloads.push(job.payload.clone());
        delays.push(to_pg_interval(job.delay));
        dedupe.push(job.dedupe_key.clone());
    }
    let inserted = sqlx::query_scalar!(
        r#"INSERT INTO job (kind, barcode, server_type, shard_key, shard, priority, payload, run_after,
                            max_attempts, dedupe_key)
           SELECT k, b, s, sk, sh, p, pl, now() + make_interval(secs => d), $9, dk
           FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::int[], $6::int2[], $7::jsonb[],
                       $8::float8[], $10::text[])
                AS t(k, b, s, sk, sh, p, pl, d, dk)
           ON CONFLICT (dedupe_key) WHERE dedupe_key IS NOT NULL AND state = 'queued'
           DO UPDATE SET payload = CASE WHEN job.payload - 'event_id' = EXCLUDED.payload - 'event_id'
                                        THEN job.payload
                                        ELSE job.payload || jsonb_build_object('diffs', NULL::jsonb) END,
                         priority = LEAST(job.priority, EXCLUDED.priority)
           RETURNING (xmax = 0) AS "inserted!""#,
        &kinds,
        &barcodes as &[Option<String>],
        &server_types as &[Option<String>],
        &keys,
        &shard_ids,
        &priorities,
        &payloads,
        &delays,
        max_attempts,
        &dedupe as &[Option<String>],
    )
    .fetch_all(conn)
    .await?;
    let new = inserted.iter().filter(|i| **i).count() as u64;
    for job in &jobs {
        crate::infra::metrics::job_enqueued(job.kind.as_str(), job.priority.as_str());
    }
    Ok(new)
}

/// Claims due jobs for the shards: for each `(shard, n)` at most `n` queued jobs of that
/// shard whose `run_after` has passed, high before low, oldest first. Jobs locked by
/// another transaction are skipped; `ml` jobs are left to [`claim_model_steps`].
/// Returned in claim order per shard.
pub async fn claim(
    pool: &PgPool,
    wanted: &[(i32, i64)],
    node: &str,
) -> Result<Vec<ClaimedJob>, sqlx::Error> {
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let shards: Vec<i32> = wanted.iter().map(|(s, _)| *s).collect();
    let counts: Vec<i64> = wanted.iter().map(|(_, n)| *n).collect();
    let mut jobs = sqlx::query_as!(
        ClaimedJob,
        r#"WITH picked AS (
               SELECT j.id FROM unnest($1::int[], $2::int8[]) AS s(shard, n)
               CROSS JOIN LATERAL (
                   SELECT id FROM job
                   WHERE job.shard = s.shard AND state = 'queued' AND run_after <= now()
                         AND priority <> 1
                   ORDER BY priority, run_after, id
                   LIMIT s.n
                   FOR UPDATE SKIP LOCKED
               ) j
           )
           UPDATE job SET state = 'running', attempts = attempts + 1, locked_by = $3,
                          locked_at = now(), lease = gen_random_uuid()
           FROM picked WHERE job.id = picked.id
           RETURNING job.id, job.kind, job.barcode, job.server_type, job.shard, job.priority,
                     job.payload, job.attempts, job.max_attempts, job.lease AS "lease!",
                     job.run_after, job.created_at"#,
        &shards,
        &counts,
        node,
    )
    .fetch_all(pool)
    .await?;
    jobs.sort_by(|a, b| {
        (a.shard, a.priority, a.run_after, a.id).cmp(&(b.shard, b.priority, b.run_after, b.id))
    });
    Ok(jobs)
}

/// Claims at most `n` due `ml` jobs of the `shards`, oldest first: the model lane, with
/// its own budget, so model steps neither hold up nor wait for the shards' queue.
pub async fn claim_model_steps(
    pool: &PgPool,
    shards: &[i32],
    n: i64,
    node: &str,
) -> Result<Vec<ClaimedJob>, sqlx::Error> {
    if shards.is_empty() || n <= 0 {
        return Ok(Vec::new());
    }
    let mut jobs = sqlx::query_as!(
        ClaimedJob,
        r#"WITH picked AS (
               SELECT id FROM job
               WHERE state = 'queued' AND priority = 1 AND run_after <= now()
                     AND shard = ANY($1)
               ORDER BY run_after, id
               LIMIT $2
               FOR UPDATE SKIP LOCKED
           )
           UPDATE job SET state = 'running', attempts = attempts + 1, locked_by = $3,
                          locked_at = now(), lease = gen_random_uuid()
           FROM picked WHERE job.id = picked.id
           RETURNING job.id, job.kind, job.barcode, job.server_type, job.shard, job.priority,
                     job.payload, job.attempts, job.max_attempts, job.lease AS "lease!",
                     job.run_after, job.created_at"#,
        shards,
        n,
        node,
    )
    .fetch_all(pool)
    .await?;
    jobs.sort_by_key(|j| (j.run_after, j.id));
    Ok(jobs)
}

/// Puts a claimed job back in the queue without using up an attempt: what it needs
/// (Triton) is away, through no fault of the job. It waits `base`, doubling with each
/// deferral of the job, at most `max`. Returns false when the claim is no longer ours.
pub async fn defer(
    pool: &PgPool,
    id: i64,
    lease: Uuid,
    reason: &str,
    base: Duration,
    max: Duration,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!(
        r#"UPDATE job SET state = 'queued', attempts = greatest(attempts - 1, 0),
                          run_after = now() + make_interval(
                              secs => least($4 * power(2, least(deferrals, 30)), $5)),
                          deferrals = deferrals + 1,
                          last_error = $3, lease = NULL, locked_by = NULL
           WHERE id = $1 AND lease = $2 AND state = 'running'"#,
        id,
        lease,
        reason,
        to_pg_interval(base),
        to_pg_interval(max),
    )
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Puts back in the queue the `ml` jobs `node` left running (its model lane restarted).
pub async fn release_model_steps(pool: &PgPool, node: &str) -> Result<u64, sqlx::Error> {
    let result = sqlx::query!(
        r#"UPDATE job SET
               state = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'queued' END,
               last_error = CASE WHEN attempts >= max_attempts
                                 THEN 'interrupted on its last attempt' ELSE last_error END,
               lease = NULL, locked_by = NULL
           WHERE state = 'running' AND priority = 1 AND locked_by = $1"#,
        node,
    )
    .execute(pool)
    .await?;
    Ok(result.rows_affected())
}

/// Marks a claimed job done, inside the caller's transaction (with the job's effects).
/// Returns false when the claim is no longer ours: the caller must roll back.
pub async fn complete(
    conn: &mut PgConnection,
    id: i64,
    lease: Uuid,
    started_at: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!(
        r#"UPDATE job SET state = 'done', finished_at = now(), started_at = $3, lease = NULL, last_error = NULL
           WHERE id = $1 AND lease = $2 AND state = 'running'"#,
        id,
        lease,
        started_at,
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records a failure: queued again after `retry_delay`, or dead when out of attempts.
pub async fn fail(
    pool: &PgPool,
    id: i64,
    lease: Uuid,
    error: &str,
    retry_delay: Duration,
) -> Result<FailOutcome, sqlx::Error> {
    let state = sqlx::query_scalar!(
        r#"UPDATE job SET
               state = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'queued' END,
               run_after = CASE WHEN attempts >= max_attempts THEN run_after
                                ELSE now() + make_interval(secs => $4) END,
               last_error = $3, lease = NULL, finished_at = now()
           WHERE id = $1 AND lease = $2 AND state = 'running'
           RETURNING state"#,
        id,
        lease,
        error,
        to_pg_interval(retry_delay),
    )
    .fetch_optional(pool)
    .await?;
    Ok(match state.as_deref() {
        Some("dead") => FailOutcome::Dead,
        Some(_) => FailOutcome::Retried,
        None => FailOutcome::LeaseLost,
    })
}

/// Keeps a claimed job as dead at once (its input can never work), with the reason.
pub async fn fail_for_good(
    pool: &PgPool,
    id: i64,
    lease: Uuid,
    error: &str,
) -> Result<FailOutcome, sqlx::Error> {
    let done = sqlx::query!(
        r#"UPDATE job SET state = 'dead', last_error = $3, lease = NULL, finished_at = now()
           WHERE id = $1 AND lease = $2 AND state = 'running'"#,
        id,
        lease,
        error,
    )
    .execute(pool)
    .await?;
    Ok(if done.rows_affected() == 1 {
        FailOutcome::Dead
    } else {
        FailOutcome::LeaseLost
    })
}

/// Puts back in the queue the jobs left `running` on `shards` (their runner is gone:
/// a crash, or a shard that was restarted). Jobs already out of attempts become dead.
/// With `node` (a shard of this node restarted), only that node's claims are released,
/// and not its `ml` jobs, which the model lane holds.
pub async fn release_running(
    pool: &PgPool,
    shards: &[i32],
    node: Option<&str>,
) -> Result<u64, sqlx::Error> {
    let result = sqlx::query!(
        r#"UPDATE job SET
               state = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'queued' END,
               last_error = CASE WHEN attempts >= max_attempts
                                 THEN 'interrupted on its last attempt' ELSE last_error END,
               lease = NULL, locked_by = NULL
           WHERE state = 'running' AND shard = ANY($1)
                 AND ($2::text IS NULL OR (locked_by = $2 AND priority <> 1))"#,
        shards,
        node,
    )
    .execute(pool)
    .await?;
    Ok(result.rows_affected())
}

/// Recomputes the shard of queued and running jobs for `shards` shards (after that
/// setting changed). Returns how many jobs moved.
pub async fn remap_shards(pool: &PgPool, shards: u32) -> Result<u64, sqlx::Error> {
    let n = shards.max(1) as i32;
    let result = sqlx::query!(
        r#"UPDATE job SET shard = ((shard_key % $1) + $1) % $1
           WHERE state IN ('queued', 'running') AND shard <> ((shard_key % $1) + $1) % $1"#,
        n,
    )
    .execute(pool)
    .await?;
    Ok(result.rows_affected())
}

/// Time until the earliest queued job of `shards` becomes due (zero if one is due now).
pub async fn next_due_in(pool: &PgPool, shards: &[i32]) -> Result<Option<Duration>, sqlx::Error> {
    let secs = sqlx::query_scalar!(
        r#"SELECT EXTRACT(EPOCH FROM (min(run_after) - now()))::float8 AS "secs"
           FROM job WHERE state = 'queued' AND shard = ANY($1)"#,
        shards,
    )
    .fetch_one(pool)
    .await?;
    Ok(secs.map(|s| Duration::from_secs_f64(s.max(0.0))))
}

/// Number of queued jobs per priority (due or not).
pub async fn queue_depth(pool: &PgPool) -> Result<Vec<(Priority, i64)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT priority, count(*) AS "count!" FROM job WHERE state = 'queued' GROUP BY priority"#
    )
    .fetch_all(pool)
    .await?;
    let mut depth: Vec<(Priority, i64)> = Priority::ALL.iter().map(|p| (*p, 0)).collect();
    for row in rows {
        if let Some(p) = Priority::from_i16(row.priority) {
            if let Some(slot) = depth.iter_mut().find(|(q, _)| *q == p) {
                slot.1 = row.count;
            }
        }
    }
    Ok(depth)
}

/// Finished jobs kept in the table.
pub async fn done_count(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT count(*) FROM job WHERE state = 'done'")
        .fetch_one(pool)
        .await
}

pub async fn dead_count(pool: &PgPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(r#"SELECT count(*) AS "count!" FROM job WHERE state = 'dead'"#)
        .fetch_one(pool)
        .await
}

/// Dead jobs, newest first.
pub async fn list_dead(pool: &PgPool, limit: i64) -> Result<Vec<JobRecord>, sqlx::Error> {
    sqlx::query_as!(
        JobRecord,
        r#"SELECT id, kind, barcode, server_type, shard, priority, payload, state, attempts, max_attempts,
                  last_error, run_after, created_at, started_at, finished_at
           FROM job WHERE state = 'dead' ORDER BY id DESC LIMIT $1"#,
        limit,
    )
    .fetch_all(pool)
    .await
}

pub async fn get(pool: &PgPool, id: i64) -> Result<Option<JobRecord>, sqlx::Error> {
    sqlx::query_as!(
        JobRecord,
        r#"SELECT id, kind, barcode, server_type, shard, priority, payload, state, attempts, max_attempts,
                  last_error, run_after, created_at, started_at, finished_at
           FROM job WHERE id = $1"#,
        id,
    )
    .fetch_optional(pool)
    .await
}

/// Queues a dead job again with a fresh set of attempts. Returns false if it is not dead.
pub async fn retry_dead(pool: &PgPool, id: i64) -> Result<bool, sqlx::Error> {
    let result = sqlx::query!(
        r#"UPDATE job SET state = 'queued', attempts = 0, run_after = now(), finished_at = NULL
           WHERE id = $1 AND state = 'dead'"#,
        id,
    )
    .execute(pool)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Removes finished jobs older than `age`. Returns how many were removed.
pub async fn purge_done(pool: &PgPool, age: Duration) -> Result<u64, sqlx::Error> {
    let result = sqlx::query!(
        r#"DELETE FROM job WHERE state = 'done' AND finished_at < now() - make_interval(secs => $1)"#,
        to_pg_interval(age),
    )
    .execute(pool)
    .await?;
    Ok(result.rows_affected())
}

/// Records a probe job's run (the probe job kind's only effect).
pub async fn record_probe(
    conn: &mut PgConnection,
    job_id: i64,
    barcode: Option<&str>,
    started_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"INSERT INTO job_probe (job_id, barcode, started_at, finished_at) VALUES ($1, $2, $3, clock_timestamp())"#,
        job_id,
        barcode,
        started_at,
    )
    .execute(conn)
    .await?;
    Ok(())
}
