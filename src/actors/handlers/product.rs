//! Product jobs: an edited product (refresh, product-name extraction, insights), a
//! deleted product.

use super::{JobResources, Target};
use crate::actors::insight_importer::{self, Importing};
use crate::actors::job_runner::JobError;
use crate::actors::Services;
use crate::infra::db::products;
use crate::ocr::{OcrContent, OcrResources};
use crate::types::{Prediction, PredictionType};
use serde_json::Value;
use sqlx::PgConnection;
use std::sync::Arc;

/// Extractors run on a product's name (spec pipeline §2.1 step 6).
const PRODUCT_NAME_TYPES: [PredictionType; 3] = [
    PredictionType::Label,
    PredictionType::ProductWeight,
    PredictionType::Brand,
];

pub(super) async fn delete_product_insights(
    services: &Services,
    t: Target<'_>,
    conn: &mut PgConnection,
) -> Result<(), JobError> {
    let summary = insight_importer::delete_product(conn, t.barcode, t.server_type).await?;
    tracing::info!(
        barcode = t.barcode,
        predictions = summary.predictions_deleted,
        insights = summary.insights_deleted,
        "product deleted: its predictions and open insights removed"
    );
    let _ = services;
    Ok(())
}

pub(super) async fn refresh(
    importing: &Importing,
    t: Target<'_>,
    conn: &mut PgConnection,
) -> Result<(), JobError> {
    insight_importer::refresh_product(conn, importing, t.barcode, t.server_type).await?;
    Ok(())
}

/// Spec pipeline §2.1: re-run the product-name extractors, then refresh every insight
/// type from the stored predictions. A product missing from the store is skipped.
pub(super) async fn update_insights(
    _services: &Services,
    resources: &JobResources,
    importing: &Importing,
    t: Target<'_>,
    _payload: &Value,
    conn: &mut PgConnection,
) -> Result<(), JobError> {
    let Some(product) = products::get(conn, t.barcode, t.server_type).await? else {
        tracing::info!(
            barcode = t.barcode,
            "product not in the store: update skipped"
        );
        return Ok(());
    };
    if t.server_type.is_food() {
        if let Some(name) = product
            .product_name
            .as_deref()
            .filter(|n| !n.trim().is_empty())
        {
            let predictions =
                product_name_predictions(resources.ocr.clone(), name.to_string()).await?;
            if !predictions.is_empty() {
                insight_importer::import_product_predictions(
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
    insight_importer::refresh_product(conn, importing, t.barcode, t.server_type).await?;
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
