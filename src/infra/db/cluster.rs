//! Cluster mode's state in PostgreSQL: leases of cluster-wide duties (with a fencing
//! epoch), generations of announced changes, and who holds each shard's lock.

use super::fence::{FENCE_APPLICATION, SHARD_LOCK_SPACE};
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor, Row};
use std::time::Duration;

/// Name of the update listener's lease.
pub const LISTENER_LEASE: &str = "update_listener";

/// A lease as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Lease {
    pub name: String,
    pub holder: String,
    pub epoch: i64,
    pub expires_at: DateTime<Utc>,
    pub acquired_at: DateTime<Utc>,
    /// Whether it has not expired (by the database's clock).
    pub live: bool,
}

/// Takes or renews lease `name` for `holder` for `ttl`, if it is free, expired, or
/// already `holder`'s. Returns the epoch held: it grows whenever the lease changes
/// hands or lapses, so a holder that lost it can tell.
pub async fn acquire_lease<'e>(
    db: impl PgExecutor<'e>,
    name: &str,
    holder: &str,
    ttl: Duration,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        r#"INSERT INTO cluster_lease AS l (name, holder, epoch, expires_at)
           VALUES ($1, $2, 1, now() + $3 * interval '1 millisecond')
           ON CONFLICT (name) DO UPDATE SET
               holder = EXCLUDED.holder,
               expires_at = EXCLUDED.expires_at,
               epoch = CASE WHEN l.holder = EXCLUDED.holder AND l.expires_at > now()
                            THEN l.epoch ELSE l.epoch + 1 END,
               acquired_at = CASE WHEN l.holder = EXCLUDED.holder AND l.expires_at > now()
                                  THEN l.acquired_at ELSE now() END
           WHERE l.holder = EXCLUDED.holder OR l.expires_at <= now()
           RETURNING epoch"#,
    )
    .bind(name)
    .bind(holder)
    .bind(ttl.as_millis().min(i64::MAX as u128) as i64)
    .fetch_optional(db)
    .await
}

/// Gives lease `name` up at once if `holder` still holds it at `epoch`.
pub async fn release_lease<'e>(
    db: impl PgExecutor<'e>,
    name: &str,
    holder: &str,
    epoch: i64,
) -> Result<bool, sqlx::Error> {
    let r = sqlx::query(
        "UPDATE cluster_lease SET expires_at = now() WHERE name = $1 AND holder = $2 AND epoch = $3",
    )
    .bind(name)
    .bind(holder)
    .bind(epoch)
    .execute(db)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Inside a transaction: whether `holder` still holds lease `name` at `epoch`. The row
/// stays share-locked until the transaction ends, so no takeover commits in between.
pub async fn holds_lease(
    conn: &mut PgConnection,
    name: &str,
    holder: &str,
    epoch: i64,
) -> Result<bool, sqlx::Error> {
    let row = sqlx::query(
        "SELECT 1 FROM cluster_lease
          WHERE name = $1 AND holder = $2 AND epoch = $3 AND expires_at > now()
          FOR SHARE",
    )
    .bind(name)
    .bind(holder)
    .bind(epoch)
    .fetch_optional(conn)
    .await?;
    Ok(row.is_some())
}

/// Every lease.
pub async fn leases<'e>(db: impl PgExecutor<'e>) -> Result<Vec<Lease>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT name, holder, epoch, expires_at, acquired_at, expires_at > now() AS live
           FROM cluster_lease ORDER BY name",
    )
    .fetch_all(db)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(Lease {
                name: r.try_get("name")?,
                holder: r.try_get("holder")?,
                epoch: r.try_get("epoch")?,
                expires_at: r.try_get("expires_at")?,
                acquired_at: r.try_get("acquired_at")?,
                live: r.try_get("live")?,
            })
        })
        .collect()
}

/// Moves the generation of change `kind` on by one, recording what changed; returns the
/// new generation.
pub async fn bump_generation<'e>(
    db: impl PgExecutor<'e>,
    kind: &str,
    detail: &serde_json::Value,
    node: &str,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        r#"INSERT INTO cluster_generation AS g (kind, generation, detail, changed_by)
           VALUES ($1, 1, $2, $3)
           ON CONFLICT (kind) DO UPDATE SET generation = g.generation + 1,
               detail = EXCLUDED.detail, changed_by = EXCLUDED.changed_by, changed_at = now()
           RETURNING generation"#,
    )
    .bind(kind)
    .bind(detail)
    .bind(node)
    .fetch_one(db)
    .await
}

/// The generation of every kind of change, with what changed last.
pub async fn generations<'e>(
    db: impl PgExecutor<'e>,
) -> Result<Vec<(String, i64, serde_json::Value)>, sqlx::Error> {
    let rows = sqlx::query("SELECT kind, generation, detail FROM cluster_generation")
        .fetch_all(db)
        .await?;
    rows.into_iter()
        .map(|r| {
            Ok((
                r.try_get("kind")?,
                r.try_get("generation")?,
                r.try_get("detail")?,
            ))
        })
        .collect()
}

/// Which node holds each locked shard, read from PostgreSQL's lock table (the fence
/// connections are named after their node).
pub async fn shard_holders<'e>(db: impl PgExecutor<'e>) -> Result<Vec<(i32, String)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT l.objid::int AS shard, a.application_name AS app
           FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
          WHERE l.locktype = 'advisory' AND l.granted AND l.classid::int = $1
            AND l.objsubid = 2 AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
          ORDER BY 1",
    )
    .bind(SHARD_LOCK_SPACE)
    .fetch_all(db)
    .await?;
    rows.into_iter()
        .map(|r| {
            let app: String = r.try_get("app")?;
            let node = app
                .strip_prefix(FENCE_APPLICATION)
                .unwrap_or(&app)
                .to_string();
            Ok((r.try_get("shard")?, node))
        })
        .collect()
}

/// What the current transaction has written so far, of what other nodes hear about.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    pub insights: bool,
    pub logo_embeddings: bool,
}

/// Inside a transaction: whether it has inserted, updated or deleted insights or logo
/// embeddings (PostgreSQL counts each transaction's row changes per table).
pub async fn written_in_transaction(conn: &mut PgConnection) -> Result<Written, sqlx::Error> {
    let (insights, logos): (i64, i64) = sqlx::query_as(
        "SELECT pg_stat_get_xact_tuples_inserted(i) + pg_stat_get_xact_tuples_updated(i)
                  + pg_stat_get_xact_tuples_deleted(i),
                pg_stat_get_xact_tuples_inserted(l) + pg_stat_get_xact_tuples_updated(l)
                  + pg_stat_get_xact_tuples_deleted(l)
           FROM (SELECT 'public.product_insight'::regclass AS i,
                        'embedding.logo_embedding'::regclass AS l) r",
    )
    .fetch_one(conn)
    .await?;
    Ok(Written {
        insights: insights > 0,
        logo_embeddings: logos > 0,
    })
}

/// Claims a run of cluster-wide task `name` for `node`: granted when `forced` (a run
/// asked for), or when no run of it started within `min_gap` anywhere in the cluster.
pub async fn claim_task_run<'e>(
    db: impl PgExecutor<'e>,
    name: &str,
    node: &str,
    min_gap: Duration,
    forced: bool,
) -> Result<bool, sqlx::Error> {
    let row = sqlx::query(
        r#"INSERT INTO scheduler_task AS t (name, runs, node, last_started)
           VALUES ($1, 1, $2, now())
           ON CONFLICT (name) DO UPDATE SET runs = t.runs + 1, node = EXCLUDED.node,
               last_started = now(), last_finished = NULL, ok = NULL, outcome = NULL
           WHERE $4 OR t.last_started IS NULL
              OR t.last_started < now() - $3 * interval '1 millisecond'
           RETURNING runs"#,
    )
    .bind(name)
    .bind(node)
    .bind(min_gap.as_millis().min(i64::MAX as u128) as i64)
    .bind(forced)
    .fetch_optional(db)
    .await?;
    Ok(row.is_some())
}

/// Records how `node`'s run of task `name` ended.
pub async fn finish_task_run<'e>(
    db: impl PgExecutor<'e>,
    name: &str,
    node: &str,
    outcome: &Result<String, String>,
) -> Result<(), sqlx::Error> {
    let (ok, text) = match outcome {
        Ok(s) => (true, s.as_str()),
        Err(e) => (false, e.as_str()),
    };
    sqlx::query(
        "UPDATE scheduler_task SET last_finished = now(), ok = $3, outcome = $4
          WHERE name = $1 AND node = $2",
    )
    .bind(name)
    .bind(node)
    .bind(ok)
    .bind(text)
    .execute(db)
    .await
    .map(|_| ())
}
