//! What annotation reads and writes in PostgreSQL: the insight under annotation (locked
//! for the transaction), its annotation fields, insights due for automatic processing,
//! and the stored facts about an insight's image.

use super::insights::insight_of;
use super::rows::InsightRow;
use crate::types::{Insight, ServerType};
use serde_json::Value;
use sqlx::{PgConnection, PgExecutor, PgPool};
use std::str::FromStr;
use uuid::Uuid;

/// Why a stored insight could not be read.
#[derive(Debug, thiserror::Error)]
pub enum InsightReadError {
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error("insight {id} has an unknown type {kind:?}")]
    UnknownType { id: Uuid, kind: String },
}

/// The insight, locked until the end of the transaction (`FOR UPDATE`).
pub async fn lock_insight(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<Insight>, InsightReadError> {
    let row = sqlx::query_as!(
        InsightRow,
        r#"SELECT id, barcode, type AS kind, data, "timestamp", completed_at, annotation, annotated_result,
                  n_votes, username, countries, brands, process_after, value_tag, value, source_image,
                  automatic_processing, server_type, unique_scans_n, reserved_barcode, predictor,
                  predictor_version, campaign, confidence, bounding_box, lc, with_image
           FROM product_insight WHERE id = $1 FOR UPDATE"#,
        id
    )
    .fetch_optional(conn)
    .await?;
    row.map(|r| insight_of(r).map_err(|(id, kind)| InsightReadError::UnknownType { id, kind }))
        .transpose()
}

/// An insight as stored, without locking it.
pub async fn read_insight(pool: &PgPool, id: Uuid) -> Result<Option<Insight>, InsightReadError> {
    let row = sqlx::query_as!(
        InsightRow,
        r#"SELECT id, barcode, type AS kind, data, "timestamp", completed_at, annotation, annotated_result,
                  n_votes, username, countries, brands, process_after, value_tag, value, source_image,
                  automatic_processing, server_type, unique_scans_n, reserved_barcode, predictor,
                  predictor_version, campaign, confidence, bounding_box, lc, with_image
           FROM product_insight WHERE id = $1"#,
        id
    )
    .fetch_optional(pool)
    .await?;
    row.map(|r| insight_of(r).map_err(|(id, kind)| InsightReadError::UnknownType { id, kind }))
        .transpose()
}

/// Takes an annotation back: the insight is open again with its fields as `before`
/// (`data`, `value_tag`, `value`) holds them.
pub async fn undo_annotation(
    conn: &mut PgConnection,
    id: Uuid,
    before: &Value,
) -> Result<(), sqlx::Error> {
    let data = before.get("data").cloned().unwrap_or(Value::Null);
    let value_tag = before.get("value_tag").and_then(Value::as_str);
    let value = before.get("value").and_then(Value::as_str);
    sqlx::query!(
        r#"UPDATE product_insight
           SET annotation = NULL, annotated_result = NULL, username = NULL, completed_at = NULL,
               data = $2, value_tag = $3, value = $4
           WHERE id = $1"#,
        id,
        data,
        value_tag,
        value
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The product an insight belongs to (barcode and server type), without locking.
pub async fn insight_product<'e>(
    db: impl PgExecutor<'e>,
    id: Uuid,
) -> Result<Option<(String, ServerType)>, sqlx::Error> {
    let row = sqlx::query!(
        "SELECT barcode, server_type FROM product_insight WHERE id = $1",
        id
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| {
        let st = r
            .server_type
            .as_deref()
            .and_then(|s| ServerType::from_str(s).ok())
            .unwrap_or(ServerType::Off);
        (r.barcode, st)
    }))
}

/// Saves who annotated, the value, and `completed_at = now` (UTC).
pub async fn record_annotation(
    conn: &mut PgConnection,
    id: Uuid,
    username: Option<&str>,
    annotation: i32,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        r#"UPDATE product_insight
           SET username = $2, annotation = $3, completed_at = (now() AT TIME ZONE 'utc')
           WHERE id = $1"#,
        id,
        username,
        annotation
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn set_annotated_result(
    conn: &mut PgConnection,
    id: Uuid,
    result: i32,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE product_insight SET annotated_result = $2 WHERE id = $1",
        id,
        result
    )
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn set_n_votes(
    conn: &mut PgConnection,
    id: Uuid,
    n_votes: i32,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE product_insight SET n_votes = $2 WHERE id = $1",
        id,
        n_votes
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Stores what an annotator changed on the insight: `data`, `value_tag`, `value`.
pub async fn save_change(
    conn: &mut PgConnection,
    id: Uuid,
    data: &Value,
    value_tag: Option<&str>,
    value: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE product_insight SET data = $2, value_tag = $3, value = $4 WHERE id = $1",
        id,
        data,
        value_tag,
        value
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// An insight due for automatic processing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueInsight {
    pub id: Uuid,
    pub barcode: String,
    pub server_type: ServerType,
}

/// Insights not annotated whose `process_after` has passed, oldest first.
pub async fn due_for_processing<'e>(
    db: impl PgExecutor<'e>,
    limit: i64,
) -> Result<Vec<DueInsight>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT id, barcode, server_type FROM product_insight
           WHERE annotation IS NULL AND process_after IS NOT NULL
             AND process_after <= (now() AT TIME ZONE 'utc')
           ORDER BY process_after, id
           LIMIT $1"#,
        limit
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| DueInsight {
            id: r.id,
            barcode: r.barcode,
            server_type: r
                .server_type
                .as_deref()
                .and_then(|s| ServerType::from_str(s).ok())
                .unwrap_or(ServerType::Off),
        })
        .collect())
}

/// `data.rotation` of the `image_orientation` prediction of an image, if any.
pub async fn image_rotation(
    conn: &mut PgConnection,
    source_image: &str,
    server_type: ServerType,
) -> Result<Option<i64>, sqlx::Error> {
    let data = sqlx::query_scalar!(
        r#"SELECT data FROM prediction
           WHERE type = 'image_orientation' AND source_image = $1 AND server_type = $2
           ORDER BY id DESC LIMIT 1"#,
        source_image,
        server_type.name()
    )
    .fetch_optional(conn)
    .await?;
    Ok(data.and_then(|d| {
        let r = d.get("rotation")?;
        r.as_i64()
            .or_else(|| r.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
    }))
}

/// The objects of the latest `nutrition_table` detection run on an image, if any.
pub async fn nutrition_table_objects(
    conn: &mut PgConnection,
    source_image: &str,
    server_type: ServerType,
) -> Result<Option<Vec<Value>>, sqlx::Error> {
    let data = sqlx::query_scalar!(
        r#"SELECT ip.data FROM image_prediction ip JOIN image i ON i.id = ip.image_id
           WHERE ip.model_name = 'nutrition_table' AND i.source_image = $1 AND i.server_type = $2
           ORDER BY ip.id DESC LIMIT 1"#,
        source_image,
        server_type.name()
    )
    .fetch_optional(conn)
    .await?;
    Ok(data.map(|d| match d.get("objects") {
        Some(Value::Array(objects)) => objects.clone(),
        _ => Vec::new(),
    }))
}
