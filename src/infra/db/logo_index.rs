//! What the logo index reads to stay in sync with PostgreSQL: the embedded logos (in
//! batches, for a rebuild), the logos changed since a transaction horizon (logged by the
//! triggers of migration `20261206200000`), and the horizon itself.
//!
//! A *horizon* is a transaction id below which every transaction has ended: the change
//! rows of those transactions are final. An index in sync with horizon `h` has applied
//! every change logged by a transaction below `h`; catching up re-reads the logos logged by
//! transactions at or above `h` (and below the new horizon) as they are now.

use sqlx::PgExecutor;

/// An embedded logo as the index holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexedLogo {
    pub logo_id: i32,
    /// `logo_annotation.server_type` (the flavor name), if set.
    pub server_type: Option<String>,
    /// 512 little-endian `f32`.
    pub embedding: Vec<u8>,
}

/// The current horizon: the oldest transaction still running (or the next one).
pub async fn horizon<'e>(db: impl PgExecutor<'e>) -> Result<i64, sqlx::Error> {
    let h = sqlx::query_scalar!(
        r#"SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS "h!""#
    )
    .fetch_one(db)
    .await?;
    Ok(h)
}

/// The horizon below which change rows may have been pruned.
pub async fn pruned_below<'e>(db: impl PgExecutor<'e>) -> Result<i64, sqlx::Error> {
    let h = sqlx::query_scalar!(
        r#"SELECT COALESCE(MAX(pruned_below), 0) AS "h!" FROM embedding.logo_index_horizon"#
    )
    .fetch_one(db)
    .await?;
    Ok(h)
}

/// The logos logged by transactions in `[from, to)`, each once.
pub async fn changed_logos<'e>(
    db: impl PgExecutor<'e>,
    from: i64,
    to: i64,
) -> Result<Vec<i32>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT DISTINCT logo_id FROM embedding.logo_index_change
           WHERE xid >= $1 AND xid < $2 ORDER BY logo_id"#,
        from,
        to,
    )
    .fetch_all(db)
    .await
}

/// The embedded logos among `ids` as they are now (a logo without an embedding is absent).
pub async fn logos<'e>(
    db: impl PgExecutor<'e>,
    ids: &[i32],
) -> Result<Vec<IndexedLogo>, sqlx::Error> {
    sqlx::query_as!(
        IndexedLogo,
        r#"SELECT e.logo_id, l.server_type, e.embedding
           FROM embedding.logo_embedding e JOIN logo_annotation l ON l.id = e.logo_id
           WHERE e.logo_id = ANY($1)"#,
        ids,
    )
    .fetch_all(db)
    .await
}

/// Up to `limit` embedded logos with an id above `after`, by id.
pub async fn logos_after<'e>(
    db: impl PgExecutor<'e>,
    after: i32,
    limit: i64,
) -> Result<Vec<IndexedLogo>, sqlx::Error> {
    sqlx::query_as!(
        IndexedLogo,
        r#"SELECT e.logo_id, l.server_type, e.embedding
           FROM embedding.logo_embedding e JOIN logo_annotation l ON l.id = e.logo_id
           WHERE e.logo_id > $1 ORDER BY e.logo_id LIMIT $2"#,
        after,
        limit,
    )
    .fetch_all(db)
    .await
}

/// Number of embedded logos.
pub async fn embedded_count<'e>(db: impl PgExecutor<'e>) -> Result<i64, sqlx::Error> {
    let n = sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM embedding.logo_embedding"#)
        .fetch_one(db)
        .await?;
    Ok(n)
}

/// Deletes change rows older than `days` days and raises the pruned horizon to cover
/// them. Returns the number of rows deleted.
pub async fn prune_changes(conn: &mut sqlx::PgConnection, days: i64) -> Result<u64, sqlx::Error> {
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let top = sqlx::query!(
        r#"WITH gone AS (
               DELETE FROM embedding.logo_index_change
               WHERE changed_at < (now() AT TIME ZONE 'utc') - make_interval(days => $1::int)
               RETURNING xid
           )
           SELECT count(*) AS "n!", MAX(xid) AS top FROM gone"#,
        days as i32,
    )
    .fetch_one(&mut *tx)
    .await?;
    if let Some(max_xid) = top.top {
        sqlx::query!(
            r#"UPDATE embedding.logo_index_horizon
               SET pruned_below = GREATEST(pruned_below, $1)"#,
            max_xid + 1,
        )
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(top.n as u64)
}
