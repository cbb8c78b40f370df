//! Annotators that select, rotate or unselect product images: nutrition images, UPC
//! (barcode-only) images, image orientation.

use super::{Plan, PlanError, Target};
use crate::annotation::comment::edit_comment;
use crate::annotation::crop::{convert_crop_bounding_box, rotate_bounding_box};
use crate::annotation::data::relative_box;
use crate::annotation::status::AnnotationStatus as S;
use crate::types::{image_id_of, is_digit_id, Insight, Product};
use crate::types::{ProductEdit, SelectImage};
use serde_json::{Map, Value};

/// The entry of uploaded image `image_id`, when it exists and is not empty.
pub(super) fn image_meta<'p>(
    product: &'p Product,
    image_id: &str,
) -> Option<&'p Map<String, Value>> {
    product
        .images
        .get(image_id)
        .and_then(Value::as_object)
        .filter(|m| !m.is_empty())
}

/// Full-size width and height of an image entry, when both are non-zero numbers.
pub(super) fn full_size(meta: &Map<String, Value>) -> Option<(f64, f64)> {
    let full = meta.get("sizes")?.get("full")?;
    let w = number(full.get("w")?)?;
    let h = number(full.get("h")?)?;
    (w != 0.0 && h != 0.0).then_some((w, h))
}

/// A number, or a string holding one (Product Opener writes both).
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Whether a selected image entry was cut from uploaded image `image_id`.
pub(super) fn selected_from(entry: &Value, image_id: &str) -> bool {
    match entry.get("imgid") {
        Some(Value::String(s)) => s == image_id,
        Some(Value::Number(n)) => n.to_string() == image_id,
        _ => false,
    }
}

/// A rotation Product Opener accepts: none, 0, 90, 180 or 270.
pub(super) fn checked_angle(
    insight: &Insight,
    rotation: Option<i64>,
) -> Result<Option<i64>, PlanError> {
    match rotation {
        None | Some(0 | 90 | 180 | 270) => Ok(rotation),
        Some(other) => Err(PlanError::invalid(
            insight,
            format!("invalid value for rotation angle: {other}"),
        )),
    }
}

/// An integer stored in insight data (`90`, `90.0`); `null` is `None`.
pub(super) fn int_field(
    insight: &Insight,
    v: Option<&Value>,
    name: &str,
) -> Result<Option<i64>, PlanError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_i64()
            .or_else(|| v.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
            .map(Some)
            .ok_or_else(|| PlanError::invalid(insight, format!("data.{name} is not an integer"))),
    }
}

pub(super) fn nutrition_image(t: &Target<'_>) -> Result<Plan, PlanError> {
    let Some(product) = t.product else {
        return Ok(Plan::status(S::ErrorMissingProduct));
    };
    let image_id = t.insight.source_image.as_deref().and_then(image_id_of);
    let Some((image_id, meta)) = image_id.and_then(|id| image_meta(product, id).map(|m| (id, m)))
    else {
        return Ok(Plan::status(S::ErrorInvalidImage));
    };
    let lang = t.insight.value_tag.as_deref().unwrap_or("None");
    let image_key = format!("nutrition_{lang}");
    if product.images.contains_key(&image_key) {
        return Ok(Plan::status(S::ErrorAlreadyAnnotated));
    }
    let rotation = match t.insight.data.get("rotation") {
        None => Some(0),
        v => int_field(t.insight, v, "rotation")?,
    };
    let rotation = checked_angle(t.insight, rotation)?;
    let crop = match t.insight.data.get("bounding_box") {
        None => None,
        Some(b) => {
            let relative = relative_box(b).ok_or_else(|| {
                PlanError::invalid(t.insight, "data.bounding_box is not 4 numbers")
            })?;
            let (w, h) = full_size(meta).ok_or_else(|| {
                PlanError::invalid(t.insight, format!("image {image_id} has no full size"))
            })?;
            Some(convert_crop_bounding_box(
                relative,
                w,
                h,
                rotation.unwrap_or(0),
            ))
        }
    };
    let comment = edit_comment(
        &format!("Selecting image {image_id} as {image_key}"),
        t.is_vote,
        t.automatic,
        None,
    );
    Ok(Plan::edits(
        S::Updated,
        vec![ProductEdit::SelectImage(SelectImage {
            image_id: image_id.to_string(),
            image_key,
            angle: rotation,
            crop,
            comment,
        })],
    ))
}

/// An image showing mostly a barcode: every selected image cut from it is unselected.
pub(super) fn upc_image(t: &Target<'_>) -> Result<Plan, PlanError> {
    let Some(product) = t.product else {
        return Ok(Plan::status(S::ErrorMissingProduct));
    };
    let image_id = t.insight.source_image.as_deref().and_then(image_id_of);
    let Some(image_id) = image_id.filter(|id| product.images.contains_key(*id)) else {
        return Ok(Plan::status(S::ErrorFailedUpdate));
    };
    let edits = product
        .images
        .iter()
        .filter(|(key, entry)| !is_digit_id(key) && selected_from(entry, image_id))
        .map(|(key, _)| ProductEdit::UnselectImage {
            image_key: key.clone(),
        })
        .collect();
    Ok(Plan::edits(S::Updated, edits))
}

/// Re-selects `data.image_key` from its uploaded image with the detected rotation,
/// keeping (and rotating) its crop.
pub(super) fn image_orientation(t: &Target<'_>) -> Result<Plan, PlanError> {
    let Some(product) = t.product else {
        return Ok(Plan::status(S::ErrorMissingProduct));
    };
    let image_id = t
        .insight
        .source_image
        .as_deref()
        .and_then(image_id_of)
        .ok_or_else(|| {
            PlanError::invalid(t.insight, "its source image is not an uploaded image")
        })?;
    let rotation = int_field(t.insight, t.insight.data.get("rotation"), "rotation")?
        .filter(|r| *r != 0)
        .ok_or_else(|| PlanError::invalid(t.insight, "missing or zero rotation angle"))?;
    let rotation = checked_angle(t.insight, Some(rotation))?.unwrap_or(0);
    let Some(meta) = image_meta(product, image_id) else {
        return Ok(Plan::status(S::ErrorUpdatedProduct));
    };
    let Some((width, height)) = full_size(meta) else {
        return Ok(Plan::status(S::ErrorUpdatedProduct));
    };
    let selected_key = t
        .insight
        .data
        .get("image_key")
        .and_then(Value::as_str)
        .ok_or_else(|| PlanError::invalid(t.insight, "data.image_key is missing"))?;
    let Some(selected) = product.images.get(selected_key) else {
        return Ok(Plan::status(S::ErrorUpdatedProduct));
    };
    let coords: Option<Vec<&Value>> = ["x1", "y1", "x2", "y2"]
        .iter()
        .map(|k| selected.get(*k))
        .collect();
    let crop = match coords {
        Some(values) if !values.iter().all(|v| uncropped(v)) => {
            let mut nums = [0.0f64; 4];
            for (slot, v) in nums.iter_mut().zip(&values) {
                *slot = number(v).ok_or_else(|| {
                    PlanError::invalid(t.insight, format!("crop of {selected_key} is not numeric"))
                })?;
            }
            let [x1, y1, x2, y2] = nums;
            Some(rotate_bounding_box(
                crate::types::CropBox::new(y1, x1, y2, x2),
                width,
                height,
                rotation,
            ))
        }
        _ => None,
    };
    let comment = edit_comment(
        &format!("Selecting image {image_id} as {selected_key}"),
        t.is_vote,
        t.automatic,
        Some(t.insight.id),
    );
    Ok(Plan::edits(
        S::Updated,
        vec![ProductEdit::SelectImage(SelectImage {
            image_id: image_id.to_string(),
            image_key: selected_key.to_string(),
            angle: Some(rotation),
            crop,
            comment,
        })],
    ))
}

/// Coordinates of an uncropped selection: `-1`, `"-1"` or null.
fn uncropped(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s == "-1",
        Value::Number(n) => n.as_f64() == Some(-1.0),
        _ => false,
    }
}
