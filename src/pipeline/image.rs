//! Image jobs: an uploaded image (its row, then the import steps its flags ask for),
//! OCR-based predictions of an image, a deleted image.

use super::context::{current_product, Context};
use super::job::{Effects, JobError, Target};
use super::model_step;
use crate::events::{
    FLAG_ADD_IMAGE_FINGERPRINT, FLAG_IMPORT_INSIGHTS_FROM_IMAGE, FLAG_RUN_LOGO_OBJECT_DETECTION,
    FLAG_RUN_NUTRISCORE_OBJECT_DETECTION, FLAG_RUN_NUTRITION_TABLE_OBJECT_DETECTION,
};
use crate::infra::db::{image_import, jobs};
use crate::insights::image::{barcode_folder, image_path};
use crate::insights::import::{self as insight_import, Importing, LogoPolicy};
use crate::jobs::{JobKind, NewJob, Priority};
use crate::ocr::DEFAULT_OCR_PREDICTION_TYPES;
use crate::types::{is_digit_id, PredictionType};
use serde_json::{json, Value};
use sqlx::PgConnection;

/// Every image-import step (Robotoff's flags).
const ALL_FLAGS: [&str; 7] = [
    FLAG_ADD_IMAGE_FINGERPRINT,
    FLAG_IMPORT_INSIGHTS_FROM_IMAGE,
    crate::events::FLAG_EXTRACT_INGREDIENTS,
    crate::events::FLAG_EXTRACT_NUTRITION,
    FLAG_RUN_LOGO_OBJECT_DETECTION,
    FLAG_RUN_NUTRITION_TABLE_OBJECT_DETECTION,
    crate::events::FLAG_PREDICT_CATEGORY,
];

fn image_id(payload: &Value) -> Result<&str, JobError> {
    payload
        .get("image_id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| JobError::InvalidPayload {
            kind: "image job",
            detail: "no image_id".into(),
        })
}

fn flag_list(payload: &Value, key: &str) -> Option<Vec<String>> {
    payload.get(key)?.as_array().map(|a| {
        a.iter()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect()
    })
}

/// The steps to run: `include_flags` if given, else every step but `exclude_flags`
/// (spec pipeline §2.5 step 4).
pub(super) fn steps(payload: &Value) -> Vec<String> {
    match flag_list(payload, "include_flags") {
        Some(include) => include,
        None => {
            let exclude = flag_list(payload, "exclude_flags").unwrap_or_default();
            ALL_FLAGS
                .iter()
                .filter(|f| !exclude.iter().any(|e| e == *f))
                .map(|f| f.to_string())
                .collect()
        }
    }
}

/// Spec pipeline §2.5 + §2.10: record the image (idempotent), then queue its steps in
/// this job's transaction.
pub(super) async fn import_image(
    ctx: &Context,
    t: Target<'_>,
    payload: &Value,
    conn: &mut PgConnection,
) -> Result<(), JobError> {
    let id = image_id(payload)?;
    let Some(source_image) = image_path(t.barcode, id) else {
        tracing::info!(
            barcode = t.barcode,
            "barcode has no image folder: image skipped"
        );
        return Ok(());
    };
    if !is_digit_id(id) {
        return Ok(());
    }
    let Some(product) = current_product(ctx, &t, conn).await? else {
        tracing::info!(
            barcode = t.barcode,
            image = id,
            "product not in the store: image skipped"
        );
        return Ok(());
    };
    let st = t.server_type.name();
    let Some(entry) = product.images.get(id) else {
        // The product no longer has the image.
        if let Some(row) = image_import::find(conn, &source_image, st).await? {
            image_import::mark_deleted(conn, row.id).await?;
        }
        return Ok(());
    };
    let Some((width, height)) = product.image_size(id) else {
        tracing::info!(
            barcode = t.barcode,
            image = id,
            "image has no full size: skipped"
        );
        return Ok(());
    };
    let uploaded_at = entry.get("uploaded_t").and_then(|v| match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    });
    let uploaded_at = uploaded_at
        .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
        .map(|d| d.naive_utc());
    let row = image_import::save(
        conn,
        &image_import::NewImage {
            barcode: t.barcode,
            server_type: st,
            image_id: id,
            source_image: &source_image,
            width: i32::try_from(width).unwrap_or(i32::MAX),
            height: i32::try_from(height).unwrap_or(i32::MAX),
            uploaded_at,
        },
    )
    .await?;
    if row.deleted {
        return Ok(());
    }
    let w = &ctx.settings.workers;
    let mut model_steps: Vec<&str> = Vec::new();
    for step in steps(payload) {
        match step.as_str() {
            FLAG_IMPORT_INSIGHTS_FROM_IMAGE if t.server_type.is_food() => {
                let job = NewJob::new(JobKind::ImportInsightsFromImage, Priority::High)
                    .for_product(t.barcode, t.server_type)
                    .payload(json!({"image_id": id}));
                jobs::enqueue(&mut *conn, &job, w.shards, w.max_attempts).await?;
            }
            FLAG_IMPORT_INSIGHTS_FROM_IMAGE => {}
            FLAG_RUN_LOGO_OBJECT_DETECTION => model_steps.push(FLAG_RUN_LOGO_OBJECT_DETECTION),
            FLAG_ADD_IMAGE_FINGERPRINT => model_steps.push(FLAG_ADD_IMAGE_FINGERPRINT),
            FLAG_RUN_NUTRITION_TABLE_OBJECT_DETECTION if t.server_type.is_food() => {
                model_steps.push(FLAG_RUN_NUTRITION_TABLE_OBJECT_DETECTION);
            }
            crate::events::FLAG_EXTRACT_INGREDIENTS if t.server_type.is_food() => {
                model_steps.push(crate::events::FLAG_EXTRACT_INGREDIENTS);
            }
            crate::events::FLAG_PREDICT_CATEGORY
                if t.server_type.is_food()
                    && product.schema_version >= super::category_job::MIN_SCHEMA_VERSION =>
            {
                let job = super::category_job::job(t.barcode, t.server_type);
                jobs::enqueue(&mut *conn, &job, w.shards, w.max_attempts).await?;
            }
            crate::events::FLAG_EXTRACT_NUTRITION if t.server_type.is_food() => {
                model_steps.push(crate::events::FLAG_EXTRACT_NUTRITION);
            }
            other => tracing::debug!(
                barcode = t.barcode,
                image = id,
                step = other,
                "image step not available on this node"
            ),
        }
    }
    if !model_steps.is_empty() {
        // One job for the model steps: one fetch and one decode of the image.
        let job = model_step::job(t.barcode, t.server_type, id, &model_steps);
        jobs::enqueue(&mut *conn, &job, w.shards, w.max_attempts).await?;
    }
    Ok(())
}

/// Spec pipeline §2.6: OCR predictions of the image, imported for the product. A
/// missing OCR document (404) ends the job; an unreachable image host fails it, so it
/// is retried rather than lost.
pub(super) async fn import_insights_from_image(
    ctx: &Context,
    importing: &Importing,
    t: Target<'_>,
    payload: &Value,
    conn: &mut PgConnection,
) -> Result<(), JobError> {
    let id = image_id(payload)?;
    let (Some(folder), Some(source_image)) = (barcode_folder(t.barcode), image_path(t.barcode, id))
    else {
        return Ok(());
    };
    let base = ctx
        .settings
        .product_opener
        .flavor(t.server_type)
        .images_url
        .trim_end_matches('/');
    let url = format!("{base}/images/products{folder}/{id}.json");
    let bytes = match ctx.resources.image_hosts.get(&url).await {
        Ok(bytes) => bytes,
        Err(e) if e.is_retryable() => {
            return Err(JobError::Failed(format!("fetching the OCR document: {e}")))
        }
        Err(e) => {
            // Missing (404), too large, or not on an image host: retrying will not help.
            tracing::info!(barcode = t.barcode, image = id, error = %e, "no usable OCR document for the image");
            return Ok(());
        }
    };
    let ocr = ctx.resources.ocr.clone();
    let extracted = tokio::task::spawn_blocking(move || {
        crate::ocr::extract_from_bytes(&bytes, &DEFAULT_OCR_PREDICTION_TYPES, &ocr)
    })
    .await
    .map_err(|e| JobError::Failed(format!("OCR extraction stopped: {e}")))?;
    let mut predictions = match extracted {
        Ok(p) => p,
        Err(e) => {
            // A malformed document will not get better by retrying.
            tracing::warn!(barcode = t.barcode, image = id, error = %e, "OCR document unusable");
            return Ok(());
        }
    };
    for p in &mut predictions {
        p.barcode = Some(t.barcode.to_string());
        p.server_type = t.server_type;
        p.source_image = Some(source_image.clone());
    }
    if predictions
        .iter()
        .any(|p| p.kind == PredictionType::Label && p.value_tag.as_deref() == Some("en:nutriscore"))
    {
        // Spec pipeline §2.6 step 3: the OCR shows a Nutri-Score logo.
        let w = &ctx.settings.workers;
        let job = model_step::job(
            t.barcode,
            t.server_type,
            id,
            &[FLAG_RUN_NUTRISCORE_OBJECT_DETECTION],
        );
        jobs::enqueue(&mut *conn, &job, w.shards, w.max_attempts).await?;
    }
    insight_import::import_product_predictions(
        conn,
        importing,
        t.barcode,
        t.server_type,
        predictions,
    )
    .await?;
    Ok(())
}

/// Spec pipeline §2.4: the image's logos, detections, predictions and open insights go;
/// the image row stays, marked deleted. Its logos are to leave the nearest-neighbour
/// index once this commits.
pub(super) async fn deleted_image(
    t: Target<'_>,
    payload: &Value,
    conn: &mut PgConnection,
) -> Result<Effects, JobError> {
    let id = image_id(payload)?.to_string();
    let summary = insight_import::delete_images(
        conn,
        t.barcode,
        t.server_type,
        std::slice::from_ref(&id),
        LogoPolicy::DeleteAll,
    )
    .await?;
    tracing::info!(
        barcode = t.barcode,
        image = %id,
        logos = summary.logos_deleted,
        predictions = summary.predictions_deleted,
        insights = summary.insights_deleted,
        "image deleted"
    );
    Ok(Effects {
        removed_logos: summary.logo_ids.iter().map(|i| i64::from(*i)).collect(),
        ..Effects::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::OCR_DEPENDENT_FLAGS;

    #[test]
    fn steps_from_include_or_exclude_flags() {
        let upload = json!({"image_id": "1", "exclude_flags": OCR_DEPENDENT_FLAGS});
        assert_eq!(
            steps(&upload),
            vec![
                "add_image_fingerprint",
                "run_nutrition_table_object_detection"
            ]
        );
        let ocr = json!({"image_id": "1", "include_flags": OCR_DEPENDENT_FLAGS});
        assert_eq!(steps(&ocr).len(), 5);
        assert_eq!(steps(&json!({"image_id": "1"})).len(), 7);
    }
}
