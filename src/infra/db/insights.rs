//! The `product_insight` table as the importers use it: a product's insights, the
//! create/update/delete of an import diff, deletion paths, the per-product import lock,
//! and the image-side records (nutrition-table detections, deleted images and logos).

use super::rows::InsightRow;
use crate::types::{Insight, PredictionType, ServerType};
use serde_json::Value;
use sqlx::PgConnection;
use std::collections::HashMap;
use std::str::FromStr;
use uuid::Uuid;

/// Advisory-lock space of per-product import locks ("Insi").
const IMPORT_LOCK_SPACE: i32 = 0x496e_7369;

/// The domain insight of a stored row; `Err((id, type))` when its type is unknown.
pub(super) fn insight_of(row: InsightRow) -> Result<Insight, (Uuid, String)> {
    let Ok(kind) = PredictionType::from_str(&row.kind) else {
        return Err((row.id, row.kind));
    };
    let server_type = row
        .server_type
        .as_deref()
        .and_then(|s| ServerType::from_str(s).ok())
        .unwrap_or(ServerType::Off);
    Ok(Insight {
        id: row.id,
        barcode: row.barcode,
        kind,
        data: row.data,
        timestamp: row.timestamp,
        completed_at: row.completed_at,
        annotation: row.annotation,
        annotated_result: row.annotated_result,
        n_votes: row.n_votes,
        username: row.username,
        countries: strings(row.countries),
        brands: strings(row.brands),
        process_after: row.process_after,
        value_tag: row.value_tag,
        value: row.value,
        source_image: row.source_image,
        automatic_processing: row.automatic_processing,
        server_type,
        unique_scans_n: row.unique_scans_n,
        reserved_barcode: row.reserved_barcode,
        predictor: row.predictor,
        predictor_version: row.predictor_version,
        campaign: strings(row.campaign),
        confidence: row.confidence.map(f64::from),
        bounding_box: row.bounding_box,
        lc: row.lc,
        with_image: row.with_image,
    })
}

/// The insight of a row, or `None` (logged) for a row of unknown type.
fn known(row: InsightRow) -> Option<Insight> {
    insight_of(row)
        .map_err(|(id, kind)| {
            tracing::warn!(%id, kind, "skipping an insight row of unknown type");
        })
        .ok()
}

fn strings(v: Option<Value>) -> Vec<String> {
    match v {
        Some(Value::Array(items)) => items
            .into_iter()
            .filter_map(|i| match i {
                Value::String(s) => Some(s),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Waits for, then holds until the end of the transaction, the import lock of a product:
/// imports of one product never interleave, whichever node or path runs them.
pub async fn lock_product(
    conn: &mut PgConnection,
    barcode: &str,
    server_type: ServerType,
) -> Result<(), sqlx::Error> {
    let key = format!("{}:{barcode}", server_type.name());
    sqlx::query!(
        "SELECT pg_advisory_xact_lock($1, hashtext($2)) AS locked",
        IMPORT_LOCK_SPACE,
        key
    )
    .fetch_one(conn)
    .await?;
    Ok(())
}

/// Every insight of a product (all types, annotated or not).
pub async fn for_product(
    conn: &mut PgConnection,
    barcode: &str,
    server_type: ServerType,
) -> Result<Vec<Insight>, sqlx::Error> {
    let rows = sqlx::query_as!(
        InsightRow,
        r#"SELECT id, barcode, type AS kind, data, "timestamp", completed_at, annotation,
                  annotated_result, n_votes, username, countries, brands, process_after, value_tag,
                  value, source_image, automatic_processing, server_type, unique_scans_n,
                  reserved_barcode, predictor, predictor_version, campaign, confidence,
                  bounding_box, lc, with_image
           FROM product_insight WHERE barcode = $1 AND server_type = $2
           ORDER BY "timestamp", id"#,
        barcode,
        server_type.name(),
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().filter_map(known).collect())
}

/// One insight by id.
pub async fn get(conn: &mut PgConnection, id: Uuid) -> Result<Option<Insight>, sqlx::Error> {
    let row = sqlx::query_as!(
        InsightRow,
        r#"SELECT id, barcode, type AS kind, data, "timestamp", completed_at, annotation,
                  annotated_result, n_votes, username, countries, brands, process_after, value_tag,
                  value, source_image, automatic_processing, server_type, unique_scans_n,
                  reserved_barcode, predictor, predictor_version, campaign, confidence,
                  bounding_box, lc, with_image
           FROM product_insight WHERE id = $1"#,
        id,
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.and_then(known))
}

fn rows_json(insights: &[Insight]) -> Value {
    Value::Array(
        insights
            .iter()
            .map(|i| {
                let mut v = serde_json::to_value(i).unwrap_or(Value::Null);
                if let Some(o) = v.as_object_mut() {
                    o.insert("server_type".into(), i.server_type.name().into());
                    o.insert("type".into(), i.kind.as_str().into());
                }
                v
            })
            .collect(),
    )
}

/// Inserts new insights (every column from the given rows). Returns rows written.
pub async fn insert_many(
    conn: &mut PgConnection,
    insights: &[Insight],
) -> Result<u64, sqlx::Error> {
    if insights.is_empty() {
        return Ok(0);
    }
    let r = sqlx::query!(
        r#"INSERT INTO product_insight (id, barcode, type, data, "timestamp", completed_at, annotation,
                annotated_result, n_votes, username, countries, brands, process_after, value_tag, value,
                source_image, automatic_processing, server_type, unique_scans_n, reserved_barcode,
                predictor, predictor_version, campaign, confidence, bounding_box, lc, with_image)
           SELECT r.id, r.barcode, r.type, COALESCE(r.data, '{}'::jsonb), r."timestamp", r.completed_at,
                  r.annotation, r.annotated_result, COALESCE(r.n_votes, 0), r.username,
                  COALESCE(r.countries, '[]'::jsonb), COALESCE(r.brands, '[]'::jsonb), r.process_after,
                  r.value_tag, r.value, r.source_image, COALESCE(r.automatic_processing, false),
                  r.server_type, COALESCE(r.unique_scans_n, 0), COALESCE(r.reserved_barcode, false),
                  r.predictor, r.predictor_version, COALESCE(r.campaign, '[]'::jsonb), r.confidence,
                  r.bounding_box, r.lc, r.with_image
           FROM jsonb_populate_recordset(NULL::product_insight, $1::jsonb) AS r"#,
        rows_json(insights),
    )
    .execute(conn)
    .await?;
    Ok(r.rows_affected())
}

/// Rewrites existing insights (matched by id) with the given rows: every field an import
/// sets, keeping the stored username, languages, box, image flag and `process_after`
/// when the new row leaves them unset. Returns rows written.
pub async fn update_many(
    conn: &mut PgConnection,
    insights: &[Insight],
) -> Result<u64, sqlx::Error> {
    if insights.is_empty() {
        return Ok(0);
    }
    let r = sqlx::query!(
        r#"UPDATE product_insight AS p SET
               data = COALESCE(r.data, '{}'::jsonb), "timestamp" = r."timestamp",
               n_votes = COALESCE(r.n_votes, 0),
               username = COALESCE(r.username, p.username),
               countries = COALESCE(r.countries, '[]'::jsonb), brands = COALESCE(r.brands, '[]'::jsonb),
               process_after = COALESCE(r.process_after, p.process_after),
               value_tag = r.value_tag, value = r.value, source_image = r.source_image,
               automatic_processing = COALESCE(r.automatic_processing, false),
               unique_scans_n = COALESCE(r.unique_scans_n, 0),
               reserved_barcode = COALESCE(r.reserved_barcode, false),
               predictor = r.predictor, predictor_version = r.predictor_version,
               campaign = COALESCE(r.campaign, '[]'::jsonb), confidence = r.confidence,
               bounding_box = COALESCE(r.bounding_box, p.bounding_box),
               lc = COALESCE(r.lc, p.lc), with_image = COALESCE(r.with_image, p.with_image)
           FROM jsonb_populate_recordset(NULL::product_insight, $1::jsonb) AS r
           WHERE p.id = r.id"#,
        rows_json(insights),
    )
    .execute(conn)
    .await?;
    Ok(r.rows_affected())
}

/// Deletes insights by id. Returns how many were deleted.
pub async fn delete_by_ids(conn: &mut PgConnection, ids: &[Uuid]) -> Result<u64, sqlx::Error> {
    if ids.is_empty() {
        return Ok(0);
    }
    let r = sqlx::query!("DELETE FROM product_insight WHERE id = ANY($1)", ids)
        .execute(conn)
        .await?;
    Ok(r.rows_affected())
}

/// Deletes a product's insights that were not annotated (annotated ones are history).
pub async fn delete_unannotated_for_product(
    conn: &mut PgConnection,
    barcode: &str,
    server_type: ServerType,
) -> Result<u64, sqlx::Error> {
    let r = sqlx::query!(
        "DELETE FROM product_insight WHERE barcode = $1 AND server_type = $2 AND annotation IS NULL",
        barcode,
        server_type.name()
    )
    .execute(conn)
    .await?;
    Ok(r.rows_affected())
}

/// Deletes a product's non-annotated insights made from the given images.
pub async fn delete_unannotated_for_source_images(
    conn: &mut PgConnection,
    barcode: &str,
    server_type: ServerType,
    source_images: &[String],
) -> Result<u64, sqlx::Error> {
    if source_images.is_empty() {
        return Ok(0);
    }
    let r = sqlx::query!(
        "DELETE FROM product_insight
         WHERE barcode = $1 AND server_type = $2 AND source_image = ANY($3) AND annotation IS NULL",
        barcode,
        server_type.name(),
        source_images
    )
    .execute(conn)
    .await?;
    Ok(r.rows_affected())
}

/// Nutrition-table detections of a product's images: objects labelled `nutrition-table`
/// with a score of at least `min_score`, by source image.
pub async fn nutrition_tables(
    conn: &mut PgConnection,
    barcode: &str,
    server_type: ServerType,
    min_score: f64,
) -> Result<HashMap<String, Vec<Value>>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT ip.data, i.source_image
           FROM image_prediction ip JOIN image i ON i.id = ip.image_id
           WHERE i.barcode = $1 AND i.server_type = $2 AND ip.model_name = 'nutrition_table'
             AND ip.max_confidence >= $3::float8
           ORDER BY ip.id"#,
        barcode,
        server_type.name(),
        min_score,
    )
    .fetch_all(conn)
    .await?;
    let mut out = HashMap::new();
    for row in rows {
        let objects = row
            .data
            .get("objects")
            .and_then(Value::as_array)
            .map(|objects| {
                objects
                    .iter()
                    .filter(|o| o.get("label").and_then(Value::as_str) == Some("nutrition-table"))
                    .filter(|o| {
                        o.get("score")
                            .and_then(Value::as_f64)
                            .is_some_and(|s| s >= min_score)
                    })
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        out.insert(row.source_image, objects);
    }
    Ok(out)
}

/// What was removed for a deleted image on the image side.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageRecords {
    /// The image had a row (now marked deleted).
    pub found: bool,
    /// Every logo detected on the image (to remove from the nearest-neighbour index).
    pub logo_ids: Vec<i32>,
    pub logos_deleted: u64,
    pub image_predictions_deleted: u64,
}

/// Marks a product image deleted and removes its detections. With `keep_annotated_logos`
/// (Robotoff's `delete_images`), logos annotated by a user are kept (their embeddings are
/// removed) and the image's detections are removed only when no logo remains; otherwise
/// (Robotoff's `deleted_image_job`) every logo and detection of the image is removed.
pub async fn delete_image_records(
    conn: &mut PgConnection,
    barcode: &str,
    server_type: ServerType,
    image_id: &str,
    keep_annotated_logos: bool,
) -> Result<ImageRecords, sqlx::Error> {
    let image = sqlx::query_scalar!(
        "SELECT id FROM image WHERE barcode = $1 AND server_type = $2 AND image_id = $3 ORDER BY id LIMIT 1",
        barcode,
        server_type.name(),
        image_id
    )
    .fetch_optional(&mut *conn)
    .await?;
    let Some(image) = image else {
        return Ok(ImageRecords::default());
    };
    let logo_ids: Vec<i32> = sqlx::query_scalar!(
        "SELECT la.id FROM logo_annotation la JOIN image_prediction ip ON ip.id = la.image_prediction_id
         WHERE ip.image_id = $1 ORDER BY la.id",
        image
    )
    .fetch_all(&mut *conn)
    .await?;
    let logos_deleted = if keep_annotated_logos {
        sqlx::query!(
            "DELETE FROM embedding.logo_embedding WHERE logo_id = ANY($1)",
            &logo_ids
        )
        .execute(&mut *conn)
        .await?;
        sqlx::query!(
            "DELETE FROM logo_annotation WHERE id = ANY($1) AND completed_at IS NULL",
            &logo_ids
        )
        .execute(&mut *conn)
        .await?
        .rows_affected()
    } else {
        sqlx::query!("DELETE FROM logo_annotation WHERE id = ANY($1)", &logo_ids)
            .execute(&mut *conn)
            .await?
            .rows_affected()
    };
    let all_logos_gone = usize::try_from(logos_deleted).is_ok_and(|n| n == logo_ids.len());
    let image_predictions_deleted = if all_logos_gone {
        sqlx::query!("DELETE FROM image_prediction WHERE image_id = $1", image)
            .execute(&mut *conn)
            .await?
            .rows_affected()
    } else {
        0
    };
    sqlx::query!("UPDATE image SET deleted = true WHERE id = $1", image)
        .execute(&mut *conn)
        .await?;
    Ok(ImageRecords {
        found: true,
        logo_ids,
        logos_deleted,
        image_predictions_deleted,
    })
}

/// What was removed of a product on one flavor.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FlavorRecords {
    /// Logos of the product's images (to remove from the nearest-neighbour index).
    pub logo_ids: Vec<i32>,
    pub images: u64,
    pub image_predictions: u64,
    pub predictions: u64,
    pub insights: u64,
}

/// Removes everything the service holds for a product on one flavor except annotated
/// insights: logos, image predictions, images, predictions, open insights (a product
/// that moved to another flavor, spec pipeline §2.3 step 4).
pub async fn delete_flavor_records(
    conn: &mut PgConnection,
    barcode: &str,
    server_type: ServerType,
) -> Result<FlavorRecords, sqlx::Error> {
    let st = server_type.name();
    let logo_ids: Vec<i32> = sqlx::query_scalar!(
        "SELECT la.id FROM logo_annotation la
         JOIN image_prediction ip ON ip.id = la.image_prediction_id
         JOIN image i ON i.id = ip.image_id
         WHERE i.barcode = $1 AND i.server_type = $2 ORDER BY la.id",
        barcode,
        st
    )
    .fetch_all(&mut *conn)
    .await?;
    sqlx::query!("DELETE FROM logo_annotation WHERE id = ANY($1)", &logo_ids)
        .execute(&mut *conn)
        .await?;
    let image_predictions = sqlx::query!(
        "DELETE FROM image_prediction WHERE image_id IN
             (SELECT id FROM image WHERE barcode = $1 AND server_type = $2)",
        barcode,
        st
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let images = sqlx::query!(
        "DELETE FROM image WHERE barcode = $1 AND server_type = $2",
        barcode,
        st
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let predictions = sqlx::query!(
        "DELETE FROM prediction WHERE barcode = $1 AND server_type = $2",
        barcode,
        st
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let insights = sqlx::query!(
        "DELETE FROM product_insight WHERE barcode = $1 AND server_type = $2 AND annotation IS NULL",
        barcode,
        st
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(FlavorRecords {
        logo_ids,
        images,
        image_predictions,
        predictions,
        insights,
    })
}
