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

/// A logged logo change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    pub seq: i64,
    pub xid: i64,
    pub logo_id: i32,
}

/// The changes logged by transactions at or above `from` that are visible now.
pub async fn changes_since<'e>(
    db: impl PgExecutor<'e>,
    from: i64,
) -> Result<Vec<Change>, sqlx::Error> {
    sqlx::query_as!(
        Change,
        r#"SELECT seq, xid, logo_id FROM embedding.logo_index_change
           WHERE xid >= $1 ORDER BY seq"#,
        from,
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

/// The stored embedding of a logo.
pub async fn embedding_of<'e>(
    db: impl PgExecutor<'e>,
    logo_id: i32,
) -> Result<Option<Vec<u8>>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT embedding FROM embedding.logo_embedding WHERE logo_id = $1",
        logo_id
    )
    .fetch_optional(db)
    .await
}

/// A random embedded logo of `server_type` (the first at or after a random id, else the
/// first one), with its embedding. Two index scans, whatever the table's size.
pub async fn random_embedded(
    conn: &mut sqlx::PgConnection,
    server_type: &str,
) -> Result<Option<(i32, Vec<u8>)>, sqlx::Error> {
    let at = sqlx::query_scalar!(
        r#"SELECT (lo + floor(random() * (hi - lo + 1)))::int AS "at"
           FROM (SELECT min(logo_id) AS lo, max(logo_id) AS hi FROM embedding.logo_embedding) b"#
    )
    .fetch_one(&mut *conn)
    .await?;
    let Some(at) = at else { return Ok(None) };
    let row = sqlx::query!(
        r#"(SELECT e.logo_id, e.embedding
            FROM embedding.logo_embedding e JOIN logo_annotation l ON l.id = e.logo_id
            WHERE e.logo_id >= $2 AND l.server_type = $1 ORDER BY e.logo_id LIMIT 1)
           UNION ALL
           (SELECT e.logo_id, e.embedding
            FROM embedding.logo_embedding e JOIN logo_annotation l ON l.id = e.logo_id
            WHERE l.server_type = $1 ORDER BY e.logo_id LIMIT 1)
           LIMIT 1"#,
        server_type,
        at,
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.and_then(|r| Some((r.logo_id?, r.embedding?))))
}

/// A logo of an image prediction, with what its neighbours' vote needs.
#[derive(Debug, Clone, PartialEq)]
pub struct CreatedLogo {
    pub id: i32,
    pub barcode: Option<String>,
    pub source_image: Option<String>,
    pub bounding_box: serde_json::Value,
    pub model_version: String,
    pub embedding: Vec<u8>,
}

/// Every logo of `image_prediction_id` that has an embedding.
pub async fn embedded_logos_of_prediction(
    conn: &mut sqlx::PgConnection,
    image_prediction_id: i32,
) -> Result<Vec<CreatedLogo>, sqlx::Error> {
    sqlx::query_as!(
        CreatedLogo,
        r#"SELECT l.id, l.barcode, l.source_image, l.bounding_box, p.model_version, e.embedding
           FROM logo_annotation l
           JOIN image_prediction p ON p.id = l.image_prediction_id
           JOIN embedding.logo_embedding e ON e.logo_id = l.id
           WHERE l.image_prediction_id = $1 ORDER BY l.id"#,
        image_prediction_id,
    )
    .fetch_all(conn)
    .await
}

/// Stores a logo's nearest neighbours (`{"distances", "logo_ids", "updated_at"}`).
pub async fn set_nearest_neighbors(
    conn: &mut sqlx::PgConnection,
    logo_id: i32,
    neighbors: &serde_json::Value,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE logo_annotation SET nearest_neighbors = $2 WHERE id = $1",
        logo_id,
        neighbors,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// An annotated logo: `(id, annotation_type, annotation_value, taxonomy_value)`.
pub type AnnotatedLogo = (i32, Option<String>, Option<String>, Option<String>);

/// The annotated logos among `ids`.
pub async fn annotations_of(
    conn: &mut sqlx::PgConnection,
    ids: &[i32],
) -> Result<Vec<AnnotatedLogo>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT id, annotation_type, annotation_value, taxonomy_value FROM logo_annotation
           WHERE annotation_type IS NOT NULL AND id = ANY($1)"#,
        ids,
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            (
                r.id,
                r.annotation_type,
                r.annotation_value,
                r.taxonomy_value,
            )
        })
        .collect())
}

/// The rows of `logo_confidence_threshold`: `(type, value, threshold)`.
pub async fn confidence_thresholds(
    conn: &mut sqlx::PgConnection,
) -> Result<Vec<(Option<String>, Option<String>, f32)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT type AS "kind", value, threshold FROM logo_confidence_threshold ORDER BY id"#
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.kind, r.value, r.threshold))
        .collect())
}

/// Deletes the automatic predictions made from the logos `ids` of `barcode` (those whose
/// `data.logo_id` is one of them and that are not a user's annotation), before they are
/// voted again.
pub async fn delete_logo_predictions(
    conn: &mut sqlx::PgConnection,
    barcode: &str,
    ids: &[i32],
) -> Result<u64, sqlx::Error> {
    let ids: Vec<String> = ids.iter().map(i32::to_string).collect();
    let done = sqlx::query!(
        r#"DELETE FROM prediction
           WHERE barcode = $1 AND data->>'logo_id' = ANY($2)
             AND NOT COALESCE(data->>'is_annotation' = 'true', false)"#,
        barcode,
        &ids,
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// An image prediction whose logos need their neighbours again.
#[derive(Debug, Clone, PartialEq)]
pub struct StaleLogos {
    pub image_prediction_id: i32,
    pub barcode: Option<String>,
    pub server_type: Option<String>,
    /// The highest logo id of the page it was found in.
    pub last_logo_id: i32,
}

/// Image predictions with an unannotated embedded logo whose neighbours are missing or
/// older than `before` (an RFC 3339 UTC time; neighbours stored without a time count as
/// old), among logos with an id above `after`, `limit` logos at a time.
pub async fn stale_logos(
    conn: &mut sqlx::PgConnection,
    before: &str,
    after: i32,
    limit: i64,
) -> Result<Vec<StaleLogos>, sqlx::Error> {
    sqlx::query_as!(
        StaleLogos,
        r#"WITH page AS (
               SELECT l.id, l.image_prediction_id, l.barcode, l.server_type
               FROM logo_annotation l JOIN embedding.logo_embedding e ON e.logo_id = l.id
               WHERE l.id > $2 AND l.completed_at IS NULL
                 AND (l.nearest_neighbors IS NULL
                      OR (l.nearest_neighbors->>'updated_at') IS NULL
                      OR (l.nearest_neighbors->>'updated_at') < $1)
               ORDER BY l.id LIMIT $3
           )
           SELECT image_prediction_id, max(barcode) AS barcode, max(server_type) AS server_type,
                  max(id) AS "last_logo_id!"
           FROM page GROUP BY image_prediction_id ORDER BY 4"#,
        before,
        after,
        limit,
    )
    .fetch_all(conn)
    .await
}
