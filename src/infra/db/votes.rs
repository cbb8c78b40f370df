//! Annotation votes: one per voter (user name, else device) and insight.

use crate::types::VoteCount;
use sqlx::PgConnection;
use uuid::Uuid;

/// Records a vote; a voter's later vote on the same insight replaces the earlier one.
/// An anonymous vote from a client address that already voted on the insight replaces
/// that vote too (whatever device id it claims).
pub async fn record_vote(
    conn: &mut PgConnection,
    insight_id: Uuid,
    username: Option<&str>,
    value: i32,
    device_id: &str,
    client_key: Option<&str>,
) -> Result<(), sqlx::Error> {
    if let (None, Some(client)) = (username, client_key) {
        sqlx::query!(
            r#"DELETE FROM annotation_vote
               WHERE insight_id = $1 AND username IS NULL AND client_key = $2 AND device_id <> $3"#,
            insight_id,
            client,
            device_id
        )
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query!(
        r#"INSERT INTO annotation_vote (id, insight_id, username, value, device_id, "timestamp", client_key)
           VALUES (gen_random_uuid(), $1, $2, $3, $4, now() AT TIME ZONE 'utc', $5)
           ON CONFLICT (insight_id, voter) DO UPDATE
           SET value = EXCLUDED.value, device_id = EXCLUDED.device_id,
               "timestamp" = EXCLUDED."timestamp", client_key = EXCLUDED.client_key"#,
        insight_id,
        username,
        value,
        device_id,
        client_key
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Removes the vote of one voter (user name, else device) on an insight.
pub async fn delete_vote(
    conn: &mut PgConnection,
    insight_id: Uuid,
    username: Option<&str>,
    device_id: &str,
) -> Result<u64, sqlx::Error> {
    let voter = match username {
        Some(u) => format!("user:{u}"),
        None => format!("device:{device_id}"),
    };
    Ok(sqlx::query!(
        "DELETE FROM annotation_vote WHERE insight_id = $1 AND voter = $2",
        insight_id,
        voter
    )
    .execute(conn)
    .await?
    .rows_affected())
}

/// Non-skip votes of an insight by value, largest group first.
pub async fn counts(
    conn: &mut PgConnection,
    insight_id: Uuid,
) -> Result<Vec<VoteCount>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT value, count(*) AS "count!" FROM annotation_vote
           WHERE insight_id = $1 AND value <> -1
           GROUP BY value ORDER BY count(*) DESC, value DESC"#,
        insight_id
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| VoteCount {
            value: r.value,
            count: r.count,
        })
        .collect())
}
