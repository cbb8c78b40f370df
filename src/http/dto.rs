//! JSON shapes of Robotoff's rows: every column, in Robotoff's key order, timestamps as
//! naive ISO-8601 (microseconds only when non-zero) and single-precision columns
//! written with their shortest decimal form.

use crate::infra::db::rows::{ImagePredictionRow, ImageRow, InsightRow, LogoRow, PredictionRow};
use chrono::{NaiveDateTime, Timelike};
use serde_json::{json, Value};

/// `2024-05-01T10:11:12` or `2024-05-01T10:11:12.123456`.
pub fn timestamp(t: Option<NaiveDateTime>) -> Value {
    match t {
        None => Value::Null,
        Some(t) => {
            let micros = t.nanosecond() / 1000;
            let base = t.format("%Y-%m-%dT%H:%M:%S").to_string();
            if micros == 0 {
                Value::String(base)
            } else {
                Value::String(format!("{base}.{micros:06}"))
            }
        }
    }
}

/// A `real` column as the number a reader expects (`0.9`, not `0.8999999761581421`).
pub fn real(v: Option<f32>) -> Value {
    match v {
        None => Value::Null,
        Some(f) => f
            .to_string()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .unwrap_or(Value::Null),
    }
}

pub fn insight(r: &InsightRow) -> Value {
    json!({
        "id": r.id.to_string(),
        "barcode": r.barcode,
        "type": r.kind,
        "data": r.data,
        "timestamp": timestamp(r.timestamp),
        "completed_at": timestamp(r.completed_at),
        "annotation": r.annotation,
        "annotated_result": r.annotated_result,
        "n_votes": r.n_votes,
        "username": r.username,
        "countries": r.countries,
        "brands": r.brands,
        "process_after": timestamp(r.process_after),
        "value_tag": r.value_tag,
        "value": r.value,
        "source_image": r.source_image,
        "automatic_processing": r.automatic_processing,
        "server_type": r.server_type,
        "unique_scans_n": r.unique_scans_n,
        "reserved_barcode": r.reserved_barcode,
        "predictor": r.predictor,
        "predictor_version": r.predictor_version,
        "campaign": r.campaign,
        "confidence": real(r.confidence),
        "bounding_box": r.bounding_box,
        "lc": r.lc,
        "with_image": r.with_image,
    })
}

pub fn prediction(r: &PredictionRow) -> Value {
    json!({
        "id": r.id,
        "barcode": r.barcode,
        "type": r.kind,
        "data": r.data,
        "timestamp": timestamp(Some(r.timestamp)),
        "value_tag": r.value_tag,
        "value": r.value,
        "source_image": r.source_image,
        "automatic_processing": r.automatic_processing,
        "predictor": r.predictor,
        "predictor_version": r.predictor_version,
        "confidence": real(r.confidence),
        "server_type": r.server_type,
    })
}

pub fn image(r: &ImageRow) -> Value {
    json!({
        "id": r.id,
        "barcode": r.barcode,
        "uploaded_at": timestamp(r.uploaded_at),
        "image_id": r.image_id,
        "source_image": r.source_image,
        "width": r.width,
        "height": r.height,
        "deleted": r.deleted,
        "server_type": r.server_type,
        "fingerprint": r.fingerprint,
    })
}

pub fn image_prediction(r: &ImagePredictionRow) -> Value {
    json!({
        "id": r.id,
        "type": r.kind,
        "model_name": r.model_name,
        "model_version": r.model_version,
        "data": r.data,
        "timestamp": timestamp(r.timestamp),
        "image": image(&r.image),
        "max_confidence": real(r.max_confidence),
    })
}

/// A logo with its nested image prediction (`/annotation/collection`).
pub fn logo_nested(r: &LogoRow) -> Value {
    logo_with(r, "image_prediction", image_prediction(&r.image_prediction))
}

/// A logo with its image in place of the image prediction (`/images/logos*`).
pub fn logo(r: &LogoRow) -> Value {
    logo_with(r, "image", image(&r.image_prediction.image))
}

fn logo_with(r: &LogoRow, key: &str, nested: Value) -> Value {
    let mut v = json!({
        "id": r.id,
        "index": r.index,
        "bounding_box": r.bounding_box,
        "score": real(Some(r.score)),
        "annotation_value": r.annotation_value,
        "annotation_value_tag": r.annotation_value_tag,
        "taxonomy_value": r.taxonomy_value,
        "annotation_type": r.annotation_type,
        "username": r.username,
        "completed_at": timestamp(r.completed_at),
        "nearest_neighbors": r.nearest_neighbors,
        "barcode": r.barcode,
        "source_image": r.source_image,
        "text": r.text,
        "server_type": r.server_type,
    });
    if let Some(obj) = v.as_object_mut() {
        obj.insert(key.to_string(), nested);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn timestamps_and_reals_read_like_robotoff() {
        let t = NaiveDate::from_ymd_opt(2024, 5, 1)
            .and_then(|d| d.and_hms_micro_opt(10, 11, 12, 123_456));
        assert_eq!(timestamp(t), json!("2024-05-01T10:11:12.123456"));
        let t = NaiveDate::from_ymd_opt(2024, 5, 1).and_then(|d| d.and_hms_opt(10, 11, 12));
        assert_eq!(timestamp(t), json!("2024-05-01T10:11:12"));
        assert_eq!(real(Some(0.9)), json!(0.9));
        assert_eq!(real(None), Value::Null);
        assert_eq!(real(Some(f32::NAN)), Value::Null);
    }
}
