//! Annotation votes: one per voter (user name, else device) and insight.

use crate::types::VoteCount;
use sqlx::PgConnection;
use uuid::Uuid;

/// Records a vote; a voter's later vote on the same insight replaces the earlier one.
pub async fn record_vote(
    conn: &mut PgConnection,
    insight_id: Uuid,
    username: Option<&str>,
    value: i32,
    device_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"INSERT INTO annotation_vote (id, insight_id, username, value, device_id, "timestamp")
           VALUES (gen_random_uuid(), $1, $2, $3, $4, now() AT TIME ZONE 'utc')
           ON CONFLICT (insight_id, voter) DO UPDATE
           SET value = EXCLUDED.value, device_id = EXCLUDED.device_id, "timestamp" = EXCLUDED."timestamp""#,
        insight_id,
        username,
        value,
        device_id
    )
    .execute(conn)
    .await?;
    Ok(())
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
