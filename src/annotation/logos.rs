//! Insights from annotated logos (spec api-db §4.7): a brand or label logo annotation
//! becomes a prediction of the logo's product, imported through the product's shard, and
//! the insights it yields are applied at once with the annotator's credentials.

use super::{AnnotateRequest, Caller};
use crate::actors::insight_importer::import_via_shards;
use crate::actors::{product_shard, Services};
use crate::infra::db::logo_writes::{self, LOGO_PREDICTOR};
use crate::infra::db::rows::LogoRow;
use crate::types::{Prediction, PredictionType, ServerType};
use serde_json::json;
use std::str::FromStr;
use std::time::Duration;

/// Longest wait for one annotation in a product shard.
const ANNOTATE_TIMEOUT: Duration = Duration::from_secs(60);

/// What the logos produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogoInsights {
    pub predictions: usize,
    pub insights_applied: usize,
}

/// The prediction a logo annotation makes, if its type makes one.
pub fn logo_prediction(logo: &LogoRow) -> Option<Prediction> {
    let barcode = logo.barcode.clone()?;
    let (kind, value, value_tag) = match logo.annotation_type.as_deref()? {
        "brand" => {
            let value = logo.annotation_value.clone()?;
            let tag = crate::text::get_tag(&value);
            (PredictionType::Brand, Some(value), tag)
        }
        "label" => (PredictionType::Label, None, logo.taxonomy_value.clone()?),
        _ => return None,
    };
    let mut p = Prediction::new(kind);
    p.barcode = Some(barcode);
    p.value = value;
    p.value_tag = Some(value_tag);
    p.source_image = logo.source_image.clone();
    p.predictor = Some(LOGO_PREDICTOR.to_string());
    p.confidence = Some(1.0);
    p.automatic_processing = Some(false);
    p.server_type = logo
        .server_type
        .as_deref()
        .and_then(|s| ServerType::from_str(s).ok())
        .unwrap_or(ServerType::Off);
    p.data = json!({
        "logo_id": logo.id,
        "bounding_box": logo.bounding_box,
        "username": logo.username,
        "is_annotation": true,
    });
    Some(p)
}

/// Imports the predictions of `logos` and applies their open insights as `caller`.
pub async fn apply(
    services: &Services,
    logos: &[LogoRow],
    caller: &Caller,
) -> Result<LogoInsights, String> {
    let mut out = LogoInsights::default();
    for logo in logos {
        let Some(prediction) = logo_prediction(logo) else {
            continue;
        };
        let barcode = prediction.barcode.clone().unwrap_or_default();
        let kind = prediction.kind.as_str();
        let server_type = prediction.server_type;
        import_via_shards(services, server_type, vec![prediction])
            .await
            .map_err(|e| format!("importing the prediction of logo {}: {e}", logo.id))?;
        out.predictions += 1;
        let ids = logo_writes::open_insights_of_logo(&services.pool, &barcode, kind, logo.id)
            .await
            .map_err(|e| format!("reading the insights of logo {}: {e}", logo.id))?;
        for insight_id in ids {
            let mut request = AnnotateRequest::automatic(insight_id);
            request.caller = caller.clone();
            match product_shard::annotate(services, request, ANNOTATE_TIMEOUT).await {
                Ok(outcome) => {
                    tracing::info!(logo = logo.id, insight = %insight_id, status = outcome.status.name(), "logo insight annotated");
                    out.insights_applied += 1;
                }
                Err(e) => {
                    return Err(format!(
                        "annotating insight {insight_id} of logo {}: {e}",
                        logo.id
                    ))
                }
            }
        }
    }
    Ok(out)
}
