//! The `prediction` table: a product's predictions, batch inserts, and the deletions of
//! the import, image-deletion and product-deletion paths.

use crate::types::{Prediction, PredictionType, ServerType};
use chrono::NaiveDateTime;
use sqlx::PgConnection;
use std::str::FromStr;

struct Row {
    id: i32,
    barcode: String,
    kind: String,
    data: serde_json::Value,
    timestamp: NaiveDateTime,
    value_tag: Option<String>,
    value: Option<String>,
    source_image: Option<String>,
    automatic_processing: Option<bool>,
    predictor: Option<String>,
    predictor_version: Option<String>,
    confidence: Option<f32>,
    server_type: String,
}

impl Row {
    /// The prediction; `None` (with a warning) for a row of an unknown type or flavor.
    fn into_prediction(self) -> Option<Prediction> {
        let (Ok(kind), Ok(server_type)) = (
            PredictionType::from_str(&self.kind),
            ServerType::from_str(&self.server_type),
        ) else {
            tracing::warn!(id = self.id, kind = %self.kind, server_type = %self.server_type, "skipping a prediction row of unknown type or server type");
            return None;
        };
        Some(Prediction {
            kind,
            data: self.data,
            value_tag: self.value_tag,
            value: self.value,
            automatic_processing: self.automatic_processing,
            predictor: self.predictor,
            predictor_version: self.predictor_version,
            barcode: Some(self.barcode),
            timestamp: Some(self.timestamp),
            source_image: self.source_image,
            id: Some(self.id),
            confidence: self.confidence.map(f64::from),
            server_type,
        })
    }
}

/// Every stored prediction of a product, oldest first.
pub async fn for_product(
    conn: &mut PgConnection,
    barcode: &str,
    server_type: ServerType,
) -> Result<Vec<Prediction>, sqlx::Error> {
    let rows = sqlx::query_as!(
        Row,
        r#"SELECT id, barcode, type AS kind, data, "timestamp", value_tag, value, source_image,
                  automatic_processing, predictor, predictor_version, confidence, server_type
           FROM prediction WHERE barcode = $1 AND server_type = $2 ORDER BY id"#,
        barcode,
        server_type.name(),
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().filter_map(Row::into_prediction).collect())
}

/// Inserts `predictions` (their `id` is ignored) and returns the stored rows.
pub async fn insert_many(
    conn: &mut PgConnection,
    predictions: &[Prediction],
) -> Result<Vec<Prediction>, sqlx::Error> {
    if predictions.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<serde_json::Value> = predictions
        .iter()
        .map(|p| {
            let mut v = serde_json::to_value(p).unwrap_or(serde_json::Value::Null);
            if let Some(o) = v.as_object_mut() {
                // Stored flavor names (`off_pro`), as the column holds.
                o.insert("server_type".into(), p.server_type.name().into());
                o.insert("type".into(), p.kind.as_str().into());
            }
            v
        })
        .collect();
    let inserted = sqlx::query_as!(
        Row,
        r#"INSERT INTO prediction (barcode, type, data, "timestamp", value_tag, value, source_image,
                                   automatic_processing, predictor, predictor_version, confidence, server_type)
           SELECT r.barcode, r.type, COALESCE(r.data, '{}'::jsonb),
                  COALESCE(r."timestamp", now() AT TIME ZONE 'utc'), r.value_tag, r.value,
                  r.source_image, r.automatic_processing, r.predictor, r.predictor_version,
                  r.confidence, r.server_type
           FROM jsonb_populate_recordset(NULL::prediction, $1::jsonb) AS r
           RETURNING id, barcode, type AS kind, data, "timestamp", value_tag, value, source_image,
                     automatic_processing, predictor, predictor_version, confidence, server_type"#,
        serde_json::Value::Array(rows),
    )
    .fetch_all(conn)
    .await?;
    Ok(inserted
        .into_iter()
        .filter_map(Row::into_prediction)
        .collect())
}

/// Deletes predictions by id. Returns how many were deleted.
pub async fn delete_by_ids(conn: &mut PgConnection, ids: &[i32]) -> Result<u64, sqlx::Error> {
    if ids.is_empty() {
        return Ok(0);
    }
    let r = sqlx::query!("DELETE FROM prediction WHERE id = ANY($1)", ids)
        .execute(conn)
        .await?;
    Ok(r.rows_affected())
}

/// Deletes every prediction of a product (product deleted or moved to another flavor).
pub async fn delete_for_product(
    conn: &mut PgConnection,
    barcode: &str,
    server_type: ServerType,
) -> Result<u64, sqlx::Error> {
    let r = sqlx::query!(
        "DELETE FROM prediction WHERE barcode = $1 AND server_type = $2",
        barcode,
        server_type.name()
    )
    .execute(conn)
    .await?;
    Ok(r.rows_affected())
}

/// Deletes the predictions of a product made from the given images.
pub async fn delete_for_source_images(
    conn: &mut PgConnection,
    barcode: &str,
    server_type: ServerType,
    source_images: &[String],
) -> Result<u64, sqlx::Error> {
    if source_images.is_empty() {
        return Ok(0);
    }
    let r = sqlx::query!(
        "DELETE FROM prediction WHERE barcode = $1 AND server_type = $2 AND source_image = ANY($3)",
        barcode,
        server_type.name(),
        source_images
    )
    .execute(conn)
    .await?;
    Ok(r.rows_affected())
}
