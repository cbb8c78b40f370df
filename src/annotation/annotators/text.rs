//! Annotators that write text or numbers read from an image: ingredient spellcheck,
//! ingredient lists and nutrition facts (with the image selected as their source).

use super::images::{checked_angle, full_size, image_meta, int_field, selected_from};
use super::{change_data, comment, data_object, form, Plan, PlanError, Target};
use crate::annotation::comment::edit_comment;
use crate::annotation::crop::convert_crop_bounding_box;
use crate::annotation::data::{self, relative_box, IngredientBody};
use crate::annotation::nutrients::NutrientData;
use crate::annotation::status::AnnotationStatus as S;
use crate::types::{image_id_of, Product};
use crate::types::{ProductEdit, SelectImage};
use serde_json::Value;

/// Minimum score of a nutrition-table detection used for cropping.
const NUTRITION_TABLE_MIN_SCORE: f64 = 0.5;

fn ingredients_field(lang: Option<&str>) -> String {
    match lang {
        Some(lang) => format!("ingredients_text_{lang}"),
        None => "ingredients_text".to_string(),
    }
}

fn user_ingredients(t: &Target<'_>) -> Result<Option<IngredientBody>, PlanError> {
    t.data
        .map(|d| {
            data::ingredient_body(d)
                .map_err(|e| super::PlanError::invalid(t.insight, e.to_string()))
        })
        .transpose()
}

/// Writes the corrected ingredient list (the user's text when given).
pub(super) fn ingredient_spellcheck(t: &Target<'_>) -> Result<Plan, PlanError> {
    let body = user_ingredients(t)?;
    let (text, change) = match &body {
        Some(body) => {
            let mut d = data_object(t.insight);
            d.insert("annotation".into(), Value::String(body.annotation.clone()));
            (body.annotation.clone(), Some(change_data(t.insight, d)))
        }
        None => {
            let correction = t
                .insight
                .data
                .get("correction")
                .and_then(Value::as_str)
                .ok_or_else(|| PlanError::invalid(t.insight, "data.correction is missing"))?;
            (correction.to_string(), None)
        }
    };
    let c = comment(t, "Ingredient spellcheck correction");
    let field = ingredients_field(t.insight.value_tag.as_deref());
    Ok(Plan::edits(S::Updated, vec![form(t, c, &[(&field, &text)])]).with_change(change))
}

/// Writes nutrition facts (the user's corrected values when given), then selects the
/// image as the nutrition image of the product's language.
pub(super) fn nutrient_extraction(t: &Target<'_>) -> Result<Plan, PlanError> {
    if t.is_vote {
        return Ok(Plan::status(S::CannotVote));
    }
    let (source, was_updated) = match t.data {
        Some(d) => (d, true),
        None => (&t.insight.data, false),
    };
    let nutrients = NutrientData::parse(source)
        .map_err(|e| PlanError::invalid(t.insight, e.to_string()))?
        .with_default_units();
    let mut d = data_object(t.insight);
    d.insert("annotation".into(), nutrients.to_json());
    d.insert("was_updated".into(), Value::Bool(was_updated));
    let change = Some(change_data(t.insight, d));
    let Some(product) = t.product else {
        return Ok(Plan::status(S::ErrorMissingProduct).with_change(change));
    };
    let c = comment(t, "Update nutrient values");
    let fields: Vec<(String, String)> = nutrients.form_fields();
    let borrowed: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut edits = vec![form(t, c, &borrowed)];
    if let Some(select) = nutrition_image_selection(t, product)? {
        edits.push(select);
    }
    Ok(Plan::edits(S::Updated, edits).with_change(change))
}

fn nutrition_image_selection(
    t: &Target<'_>,
    product: &Product,
) -> Result<Option<ProductEdit>, PlanError> {
    let Some(image_id) = t.insight.source_image.as_deref().and_then(image_id_of) else {
        return Ok(None);
    };
    let Some(meta) = image_meta(product, image_id) else {
        return Ok(None);
    };
    let lang = product.lang.as_deref().unwrap_or("en");
    let image_key = format!("nutrition_{lang}");
    if product
        .images
        .get(&image_key)
        .is_some_and(|e| selected_from(e, image_id))
    {
        return Ok(None);
    }
    let mut rotation = t.facts.rotation;
    let detections: Vec<&Value> = t
        .facts
        .nutrition_tables
        .iter()
        .flatten()
        .filter(|o| {
            o.get("score")
                .and_then(Value::as_f64)
                .is_some_and(|s| s >= NUTRITION_TABLE_MIN_SCORE)
        })
        .collect();
    let mut crop = None;
    if let [only] = detections.as_slice() {
        if let Some(relative) = only.get("bounding_box").and_then(relative_box) {
            let angle = rotation.unwrap_or(0);
            rotation = Some(angle);
            let (w, h) = full_size(meta).ok_or_else(|| {
                PlanError::invalid(t.insight, format!("image {image_id} has no full size"))
            })?;
            crop = Some(convert_crop_bounding_box(relative, w, h, angle));
        }
    }
    let angle = checked_angle(t.insight, rotation)?;
    Ok(Some(ProductEdit::SelectImage(SelectImage {
        image_id: image_id.to_string(),
        comment: edit_comment(
            &format!("Selecting image {image_id} as {image_key}"),
            false,
            t.automatic,
            Some(t.insight.id),
        ),
        image_key,
        angle,
        crop,
    })))
}

/// Writes the detected ingredient list (the user's text when given), then selects the
/// image, cropped to the list, as the ingredients image of the insight's language.
pub(super) fn ingredient_detection(t: &Target<'_>) -> Result<Plan, PlanError> {
    if t.is_vote {
        return Ok(Plan::status(S::CannotVote));
    }
    let body = user_ingredients(t)?;
    let (text, change) = match &body {
        Some(body) => {
            let mut d = data_object(t.insight);
            d.insert("annotation".into(), Value::String(body.annotation.clone()));
            (body.annotation.clone(), Some(change_data(t.insight, d)))
        }
        None => {
            let text = t
                .insight
                .data
                .get("text")
                .and_then(Value::as_str)
                .ok_or_else(|| PlanError::invalid(t.insight, "data.text is missing"))?;
            (text.to_string(), None)
        }
    };
    let Some(product) = t.product else {
        return Ok(Plan::status(S::ErrorMissingProduct).with_change(change));
    };
    let c = comment(t, "Update ingredients");
    let field = ingredients_field(t.insight.value_tag.as_deref());
    let mut edits = vec![form(t, c, &[(&field, &text)])];
    if let Some(select) = ingredient_image_selection(t, product, body.as_ref())? {
        edits.push(select);
    }
    Ok(Plan::edits(S::Updated, edits).with_change(change))
}

fn ingredient_image_selection(
    t: &Target<'_>,
    product: &Product,
    body: Option<&IngredientBody>,
) -> Result<Option<ProductEdit>, PlanError> {
    let Some(image_id) = t.insight.source_image.as_deref().and_then(image_id_of) else {
        return Ok(None);
    };
    let Some(meta) = image_meta(product, image_id) else {
        return Ok(None);
    };
    let mut rotation = match t.insight.data.get("rotation") {
        None => Some(0),
        v => int_field(t.insight, v, "rotation")?,
    };
    let lang = t.insight.value_tag.as_deref().unwrap_or("None");
    let image_key = format!("ingredients_{lang}");
    // A user's own text without a box says nothing about where the list is.
    let perform_crop = body.is_none_or(|b| b.bounding_box.is_some());
    let mut bounding_box: Option<Value> = t.insight.data.get("bounding_box").cloned();
    if let Some(body) = body {
        if let Some(b) = &body.bounding_box {
            bounding_box = Some(Value::from(b.clone()));
        }
        if body.rotation.is_some() {
            rotation = body.rotation;
        }
    }
    let mut crop = None;
    if perform_crop {
        if let Some(b) = bounding_box.as_ref().filter(|b| truthy(b)) {
            let relative = relative_box(b)
                .ok_or_else(|| PlanError::invalid(t.insight, "bounding_box is not 4 numbers"))?;
            let angle = rotation.unwrap_or(0);
            rotation = Some(angle);
            let (w, h) = full_size(meta).ok_or_else(|| {
                PlanError::invalid(t.insight, format!("image {image_id} has no full size"))
            })?;
            crop = Some(convert_crop_bounding_box(relative, w, h, angle));
        }
    }
    if crop.is_none()
        && product
            .images
            .get(&image_key)
            .is_some_and(|e| selected_from(e, image_id))
    {
        return Ok(None);
    }
    let angle = checked_angle(t.insight, rotation)?;
    Ok(Some(ProductEdit::SelectImage(SelectImage {
        image_id: image_id.to_string(),
        comment: edit_comment(
            &format!("Selecting image {image_id} as {image_key}"),
            false,
            t.automatic,
            Some(t.insight.id),
        ),
        image_key,
        angle,
        crop,
    })))
}

/// Python truthiness of a JSON value (empty list, null, 0 and "" are false).
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}
