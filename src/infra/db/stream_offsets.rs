//! Where the update listener stands in each stream.

use sqlx::{PgConnection, PgExecutor};
use std::collections::HashMap;

/// Last processed entry id per stream.
pub async fn load<'e>(
    db: impl PgExecutor<'e>,
    streams: &[String],
) -> Result<HashMap<String, String>, sqlx::Error> {
    let rows = sqlx::query!(
        "SELECT stream, last_id FROM stream_offset WHERE stream = ANY($1)",
        streams
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.stream, r.last_id)).collect())
}

/// Records `last_id` for `stream` (inside the caller's transaction).
pub async fn store(
    conn: &mut PgConnection,
    stream: &str,
    last_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"INSERT INTO stream_offset (stream, last_id) VALUES ($1, $2)
           ON CONFLICT (stream) DO UPDATE SET last_id = EXCLUDED.last_id, updated_at = now()"#,
        stream,
        last_id,
    )
    .execute(conn)
    .await?;
    Ok(())
}
