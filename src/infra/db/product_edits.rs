//! The outbox of Product Opener edits decided by annotations (`product_edit`): written
//! with the annotation, claimed one at a time before sending, marked with the answer.

use crate::types::ServerType;
use serde_json::Value;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// One queued edit.
#[derive(Debug, Clone)]
pub struct QueuedEdit {
    pub id: i64,
    pub insight_id: Uuid,
    pub seq: i32,
    pub barcode: String,
    pub server_type: String,
    pub edit: Value,
    pub username: Option<String>,
    pub attempts: i32,
}

/// Queues the edits of an insight's plan, in order, with the insight's fields before
/// the annotation.
pub async fn queue(
    conn: &mut PgConnection,
    insight_id: Uuid,
    barcode: &str,
    server_type: ServerType,
    edits: &[Value],
    insight_before: &Value,
    username: Option<&str>,
) -> Result<(), sqlx::Error> {
    for (seq, edit) in edits.iter().enumerate() {
        let seq = i32::try_from(seq).unwrap_or(i32::MAX);
        sqlx::query!(
            r#"INSERT INTO product_edit (insight_id, seq, barcode, server_type, edit, insight_before, username)
               VALUES ($1, $2, $3, $4, $5, $6, $7)"#,
            insight_id,
            seq,
            barcode,
            server_type.name(),
            edit,
            insight_before,
            username
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Takes the first unsent edit of the insight (pending, or left `sending` by a run that
/// stopped before recording the answer) and marks it `sending`. `None`: nothing left.
pub async fn claim_next(
    pool: &PgPool,
    insight_id: Uuid,
) -> Result<Option<QueuedEdit>, sqlx::Error> {
    let row = sqlx::query!(
        r#"UPDATE product_edit SET state = 'sending', attempts = attempts + 1, updated_at = now()
           WHERE id = (SELECT id FROM product_edit
                       WHERE insight_id = $1 AND state IN ('pending', 'sending')
                       ORDER BY seq LIMIT 1
                       FOR UPDATE SKIP LOCKED)
           RETURNING id, insight_id, seq, barcode, server_type, edit, username, attempts"#,
        insight_id
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| QueuedEdit {
        id: r.id,
        insight_id: r.insight_id,
        seq: r.seq,
        barcode: r.barcode,
        server_type: r.server_type,
        edit: r.edit,
        username: r.username,
        attempts: r.attempts,
    }))
}

/// Records Product Opener's answer: `done`, `failed` (refused), or back to `pending`
/// (an outage: sent again later).
pub async fn finish(pool: &PgPool, id: i64, state: &str, answer: &str) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE product_edit SET state = $2, answer = $3, updated_at = now() WHERE id = $1",
        id,
        state,
        answer
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Whether any edit of the insight has been accepted by Product Opener.
pub async fn any_done(pool: &PgPool, insight_id: Uuid) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM product_edit WHERE insight_id = $1 AND state = 'done') AS "done!""#,
        insight_id
    )
    .fetch_one(pool)
    .await
}

/// The insight's fields before the annotation, as queued with its edits.
pub async fn insight_before(
    conn: &mut PgConnection,
    insight_id: Uuid,
) -> Result<Option<Value>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT insight_before FROM product_edit WHERE insight_id = $1 ORDER BY seq LIMIT 1",
        insight_id
    )
    .fetch_optional(conn)
    .await
}

/// Drops every edit of the insight (the annotation was undone).
pub async fn forget(conn: &mut PgConnection, insight_id: Uuid) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query!("DELETE FROM product_edit WHERE insight_id = $1", insight_id)
            .execute(conn)
            .await?
            .rows_affected(),
    )
}

/// Insights with edits still to send (for the resume job and status pages).
pub async fn open_insights(pool: &PgPool, limit: i64) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT DISTINCT insight_id AS "insight_id!" FROM product_edit
           WHERE state IN ('pending', 'sending') LIMIT $1"#,
        limit
    )
    .fetch_all(pool)
    .await
}
