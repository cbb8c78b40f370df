//! Product jobs: an edited product (refresh, product-name extraction, insights), a
//! deleted product.

use super::context::{current_product, Context};
use super::job::{JobError, Target};
use crate::infra::db::insights::delete_flavor_records;
use crate::infra::db::{jobs, products};
use crate::insights::import::{self as insight_import, Importing};
use crate::jobs::{JobKind, NewJob, Priority};
use crate::ocr::{OcrContent, OcrResources};
use crate::types::{is_digit_id, Prediction, PredictionType, ServerType};
use serde_json::{json, Value};
use sqlx::PgConnection;
use std::sync::Arc;

/// Extractors run on a product's name (spec pipeline §2.1 step 6).
const PRODUCT_NAME_TYPES: [PredictionType; 3] = [
    PredictionType::Label,
    PredictionType::ProductWeight,
    PredictionType::Brand,
];

pub(super) async fn delete_product_insights(
    t: Target<'_>,
    conn: &mut PgConnection,
) -> Result<(), JobError> {
    let summary = insight_import::delete_product(conn, t.barcode, t.server_type).await?;
    tracing::info!(
        barcode = t.barcode,
        predictions = summary.predictions_deleted,
        insights = summary.insights_deleted,
        "product deleted: its predictions and open insights removed"
    );
    Ok(())
}

/// Recomputes the product's insights from its stored predictions. A product missing
/// from the store is asked of Product Opener first: its insights go for want of a
/// product only when Product Opener says it does not exist.
pub(super) async fn refresh(
    ctx: &Context,
    importing: &Importing,
    t: Target<'_>,
    conn: &mut PgConnection,
) -> Result<(), JobError> {
    if products::get(conn, t.barcode, t.server_type)
        .await?
        .is_none()
    {
        match ctx.resources.po.get_product(t.barcode, t.server_type).await {
            Ok(Some(product)) => {
                products::upsert_many(&mut *conn, std::slice::from_ref(&product)).await?;
            }
            Ok(None) => {}
            Err(e) if e.is_retryable() => {
                return Err(JobError::Failed(format!(
                    "the product is not stored and Product Opener could not be asked: {e}"
                )))
            }
            Err(e) => {
                tracing::warn!(barcode = t.barcode, error = %e, "product not stored and Product Opener's answer unusable: insights left as they are");
                return Ok(());
            }
        }
    }
    insight_import::refresh_product(conn, importing, t.barcode, t.server_type).await?;
    Ok(())
}

/// Spec pipeline §2.1: re-run the product-name extractors, then refresh every insight
/// type from the stored predictions. A product missing from the store is skipped.
pub(super) async fn update_insights(
    ctx: &Context,
    importing: &Importing,
    t: Target<'_>,
    payload: &serde_json::Value,
    conn: &mut PgConnection,
) -> Result<(), JobError> {
    let Some(product) = current_product(ctx, &t, conn).await? else {
        tracing::info!(barcode = t.barcode, "product missing: update skipped");
        return Ok(());
    };
    let forced = payload
        .get("force_category_prediction")
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false);
    let diffs = payload.get("diffs").filter(|d| !d.is_null());
    if t.server_type.is_food()
        && product.schema_version >= super::category_job::MIN_SCHEMA_VERSION
        && (forced || crate::events::should_rerun_category_predictor(diffs))
    {
        // Spec pipeline §2.1 step 5: the classifier runs as a model step of its own.
        let w = &ctx.settings.workers;
        let job = super::category_job::job(t.barcode, t.server_type);
        crate::infra::db::jobs::enqueue(&mut *conn, &job, w.shards, w.max_attempts).await?;
    }
    if t.server_type.is_food() {
        if let Some(name) = product
            .product_name
            .as_deref()
            .filter(|n| !n.trim().is_empty())
        {
            let predictions =
                product_name_predictions(ctx.resources.ocr.clone(), name.to_string()).await?;
            if !predictions.is_empty() {
                insight_import::import_product_predictions(
                    conn,
                    importing,
                    t.barcode,
                    t.server_type,
                    predictions,
                )
                .await?;
            }
        }
    }
    insight_import::refresh_product(conn, importing, t.barcode, t.server_type).await?;
    Ok(())
}

/// Label, weight and brand predictions from a product name, marked as coming from it
/// and never applied automatically.
async fn product_name_predictions(
    ocr: Arc<OcrResources>,
    name: String,
) -> Result<Vec<Prediction>, JobError> {
    let extracted = tokio::task::spawn_blocking(move || {
        crate::ocr::extract(&OcrContent::Text(&name), &PRODUCT_NAME_TYPES, &ocr)
    })
    .await
    .map_err(|e| JobError::Failed(format!("product-name extraction stopped: {e}")))?
    .map_err(|e| JobError::Failed(format!("product-name extraction: {e}")))?;
    Ok(extracted
        .into_iter()
        .map(|mut p| {
            if let Some(data) = p.data.as_object_mut() {
                data.insert("source".into(), Value::String("product_name".into()));
            }
            p.automatic_processing = Some(false);
            p
        })
        .collect())
}

/// Spec pipeline §2.3: the product moved to another flavor. Its records on the old
/// flavor go (annotated insights stay), and its images and insights are imported again
/// on the new one.
pub(super) async fn product_type_switched(
    ctx: &Context,
    t: Target<'_>,
    conn: &mut PgConnection,
) -> Result<(), JobError> {
    let product_type = ctx
        .resources
        .po
        .get_product_type(t.barcode, t.server_type)
        .await
        .map_err(|e| JobError::Failed(e.to_string()))?;
    let Some(product_type) = product_type else {
        tracing::info!(
            barcode = t.barcode,
            "product type switch: product not found"
        );
        return Ok(());
    };
    let Some(new_type) = ServerType::from_product_type(&product_type) else {
        tracing::warn!(
            barcode = t.barcode,
            product_type,
            "product type switch: unknown product type"
        );
        return Ok(());
    };
    if new_type == t.server_type {
        tracing::info!(
            barcode = t.barcode,
            server_type = %t.server_type,
            "product type switch: flavor unchanged"
        );
        return Ok(());
    }
    let moved = Target {
        barcode: t.barcode,
        server_type: new_type,
    };
    let Some(product) = current_product(ctx, &moved, conn).await? else {
        tracing::info!(
            barcode = t.barcode,
            server_type = %new_type,
            "product type switch: product missing on its new flavor"
        );
        return Ok(());
    };
    let removed = delete_flavor_records(conn, t.barcode, t.server_type).await?;
    // The old flavor's copy is no longer the product.
    products::delete(&mut *conn, t.barcode, t.server_type).await?;
    let w = &ctx.settings.workers;
    let mut image_ids: Vec<&String> = product.images.keys().filter(|k| is_digit_id(k)).collect();
    image_ids.sort_by_key(|k| k.parse::<u64>().unwrap_or(u64::MAX));
    for id in &image_ids {
        let job = NewJob::new(JobKind::ImportImage, Priority::High)
            .for_product(t.barcode, new_type)
            .payload(json!({"image_id": id}));
        jobs::enqueue(&mut *conn, &job, w.shards, w.max_attempts).await?;
    }
    let update = NewJob::new(JobKind::UpdateInsights, Priority::High)
        .for_product(t.barcode, new_type)
        .payload(json!({"diffs": {}, "force_category_prediction": true}));
    jobs::enqueue(&mut *conn, &update, w.shards, w.max_attempts).await?;
    tracing::info!(
        barcode = t.barcode,
        from = %t.server_type,
        to = %new_type,
        removed = ?removed,
        images = image_ids.len(),
        "product type switched: old flavor's records removed, images and insights queued on the new one"
    );
    Ok(())
}
