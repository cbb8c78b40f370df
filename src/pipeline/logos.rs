//! `process_created_logos` (spec pipeline §6.4, §6.5): the embedded logos of a new logo
//! detection get their nearest neighbours among the logos of the same flavor (stored on
//! each logo), then, on food flavors, a brand or label prediction when their neighbours'
//! annotations agree enough; the predictions are imported as insights.

use super::context::Context;
use super::job::{JobError, Target};
use crate::ann::store::from_le_bytes;
use crate::ann::vote::{self, Label};
use crate::ann::{Neighbor, NeighboursError};
use crate::infra::db::logo_index as db;
use crate::text::get_tag;
use crate::types::{Prediction, PredictionType};
use serde_json::{json, Value};
use sqlx::PgConnection;
use std::collections::HashMap;

/// Neighbours kept per logo (Robotoff's `K_NEAREST_NEIGHBORS`).
pub const K_NEAREST_NEIGHBORS: usize = 10;
/// Predictor of logo predictions.
pub const LOGO_PREDICTOR: &str = "universal-logo-detector";

fn index_error(e: NeighboursError) -> JobError {
    match e {
        NeighboursError::NotReady => JobError::Unavailable(e.to_string()),
        NeighboursError::Failed(m) => JobError::Failed(m),
    }
}

/// The stored form of a logo's neighbours.
pub fn nearest_neighbors_json(found: &[Neighbor]) -> Value {
    json!({
        "distances": found.iter().map(|n| f64::from(n.distance)).collect::<Vec<_>>(),
        "logo_ids": found.iter().map(|n| n.logo_id).collect::<Vec<_>>(),
        "updated_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, false),
    })
}

/// Runs the job: `payload.image_prediction_id`'s embedded logos.
pub async fn process_created_logos(
    ctx: &Context,
    t: Target<'_>,
    payload: &Value,
    conn: &mut PgConnection,
) -> Result<(), JobError> {
    let id = payload
        .get("image_prediction_id")
        .and_then(Value::as_i64)
        .and_then(|v| i32::try_from(v).ok())
        .ok_or_else(|| JobError::InvalidPayload {
            kind: "process_created_logos",
            detail: "no image_prediction_id".into(),
        })?;
    let logos = db::embedded_logos_of_prediction(conn, id).await?;
    if logos.is_empty() {
        return Ok(());
    }
    let index = &ctx.resources.neighbours;
    index.sync().await.map_err(index_error)?;
    let mut neighbours: Vec<(usize, Vec<Neighbor>)> = Vec::new();
    for (i, logo) in logos.iter().enumerate() {
        let Ok(vector) = from_le_bytes(&logo.embedding) else {
            tracing::warn!(logo = logo.id, "unusable logo embedding");
            continue;
        };
        let found = index
            .search(
                vector,
                K_NEAREST_NEIGHBORS,
                Some(t.server_type),
                Some(i64::from(logo.id)),
            )
            .await
            .map_err(index_error)?;
        if !found.is_empty() {
            db::set_nearest_neighbors(conn, logo.id, &nearest_neighbors_json(&found)).await?;
            neighbours.push((i, found));
        }
    }
    if !t.server_type.is_food() {
        return Ok(());
    }
    let thresholds: HashMap<Label, f32> = db::confidence_thresholds(conn)
        .await?
        .into_iter()
        .filter_map(|(kind, value, t)| Some((Label { kind: kind?, value }, t)))
        .collect();
    let ids: Vec<i32> = neighbours
        .iter()
        .flat_map(|(_, found)| found.iter().filter_map(|n| i32::try_from(n.logo_id).ok()))
        .collect();
    let labels: HashMap<i32, Option<Label>> = db::annotations_of(conn, &ids)
        .await?
        .into_iter()
        .map(|(id, kind, value, taxonomy)| {
            (
                id,
                vote::label_of(kind.as_deref(), value.as_deref(), taxonomy.as_deref()),
            )
        })
        .collect();
    let logo_ids: Vec<i32> = logos.iter().map(|l| l.id).collect();
    db::delete_logo_predictions(conn, t.barcode, &logo_ids).await?;
    let mut predictions = Vec::new();
    for (i, found) in &neighbours {
        let logo = &logos[*i];
        let votes: Vec<vote::Vote> = found
            .iter()
            .map(|n| {
                let label = i32::try_from(n.logo_id)
                    .ok()
                    .and_then(|id| labels.get(&id).cloned().flatten());
                (label, f64::from(n.distance))
            })
            .collect();
        let Some((label, share)) = vote::winner(&votes, &thresholds) else {
            continue;
        };
        if let Some(p) = prediction(&label, share, logo, &t) {
            predictions.push(p);
        }
    }
    super::context::import_for_product(ctx, &t, predictions, conn).await
}

/// A brand or label prediction from a logo's winning label; other types make none.
fn prediction(
    label: &Label,
    share: f64,
    logo: &db::CreatedLogo,
    t: &Target<'_>,
) -> Option<Prediction> {
    let value = label.value.as_deref()?;
    let (kind, value, value_tag) = match label.kind.as_str() {
        "brand" => (
            PredictionType::Brand,
            Some(value.to_string()),
            get_tag(value),
        ),
        "label" => (PredictionType::Label, None, value.to_string()),
        _ => return None,
    };
    let mut p = Prediction::new(kind);
    p.value = value;
    p.value_tag = Some(value_tag);
    p.automatic_processing = Some(false);
    p.predictor = Some(LOGO_PREDICTOR.to_string());
    p.predictor_version = Some(logo.model_version.clone());
    p.confidence = Some(share);
    p.data = json!({"logo_id": logo.id, "bounding_box": logo.bounding_box});
    p.barcode = Some(t.barcode.to_string());
    p.source_image = logo.source_image.clone();
    p.server_type = t.server_type;
    Some(p)
}
