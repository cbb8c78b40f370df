//! Annotators that add a value to a product field: packager codes, labels, categories,
//! quantity, expiration date, brands, stores, packaging elements.

use super::{comment, data_object, form, required, Plan, PlanError, Target};
use crate::annotation::data;
use crate::annotation::status::AnnotationStatus as S;
use crate::types::ProductEdit;
use serde_json::{json, Map, Value};
use unicode_normalization::UnicodeNormalization;

/// Packager code as compared: trimmed, lowercase, no spaces, dashes or dots, accents
/// dropped, a trailing `ce` read as `ec` (`FR 40.261.001 CE` → `fr40261001ec`).
pub fn normalize_emb_code(code: &str) -> String {
    let compact: String = code
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.'))
        .collect();
    let mut folded: String = compact.nfkd().filter(char::is_ascii).collect();
    if folded.ends_with("ce") {
        folded.truncate(folded.len() - 2);
        folded.push_str("ec");
    }
    folded
}

pub(super) fn packager_code(t: &Target<'_>) -> Result<Plan, PlanError> {
    let code = required(t.insight, &t.insight.value, "value")?;
    let Some(product) = t.product else {
        return Ok(Plan::status(S::ErrorMissingProduct));
    };
    let mut codes: Vec<String> = match product.emb_codes.as_deref() {
        Some(s) if !s.is_empty() => s.split(',').map(str::to_string).collect(),
        _ => Vec::new(),
    };
    let wanted = normalize_emb_code(code);
    if codes.iter().any(|c| normalize_emb_code(c) == wanted) {
        return Ok(Plan::status(S::ErrorAlreadyAnnotated));
    }
    codes.push(code.to_string());
    let joined = codes.join(",");
    let c = comment(t, &format!("Adding packager codes '{joined}'"));
    Ok(Plan::edits(
        S::Updated,
        vec![form(t, c, &[("emb_codes", &joined)])],
    ))
}

pub(super) fn label(t: &Target<'_>) -> Result<Plan, PlanError> {
    let tag = required(t.insight, &t.insight.value_tag, "value_tag")?;
    let Some(product) = t.product else {
        return Ok(Plan::status(S::ErrorMissingProduct));
    };
    if product.labels_tags.iter().any(|l| l == tag) {
        return Ok(Plan::status(S::ErrorAlreadyAnnotated));
    }
    let c = comment(t, &format!("Adding label tag '{tag}'"));
    Ok(Plan::edits(
        S::Updated,
        vec![form(t, c, &[("add_labels", tag)])],
    ))
}

pub(super) fn category(t: &Target<'_>) -> Result<Plan, PlanError> {
    let Some(product) = t.product else {
        return Ok(Plan::status(S::ErrorMissingProduct));
    };
    let user_tag = match t.data {
        Some(d) => {
            Some(data::category_body(d).map_err(|e| PlanError::invalid(t.insight, e.to_string()))?)
        }
        None => None,
    };
    let tag = match &user_tag {
        Some(tag) => tag.as_str(),
        None => required(t.insight, &t.insight.value_tag, "value_tag")?,
    };
    if product.categories_tags.iter().any(|c| c == tag) {
        return Ok(Plan::status(S::ErrorAlreadyAnnotated));
    }
    let c = comment(t, &format!("Adding category '{tag}'"));
    let edit = form(t, c, &[("add_categories", tag)]);
    match user_tag {
        None => Ok(Plan::edits(S::Updated, vec![edit])),
        Some(new_tag) => {
            let mut d = data_object(t.insight);
            d.insert(
                "original_value_tag".into(),
                t.insight
                    .value_tag
                    .clone()
                    .map_or(Value::Null, Value::String),
            );
            d.insert("user_input".into(), Value::Bool(true));
            let change = super::InsightChange {
                data: Value::Object(d),
                value_tag: Some(new_tag),
                value: None,
            };
            Ok(Plan::edits(S::UserInputUpdated, vec![edit]).with_change(Some(change)))
        }
    }
}

pub(super) fn product_weight(t: &Target<'_>) -> Result<Plan, PlanError> {
    let quantity = required(t.insight, &t.insight.value, "value")?;
    let Some(product) = t.product else {
        return Ok(Plan::status(S::ErrorMissingProduct));
    };
    if product.quantity.as_deref().is_some_and(|q| !q.is_empty()) {
        return Ok(Plan::status(S::ErrorAlreadyAnnotated));
    }
    let c = comment(t, &format!("Updating quantity to '{quantity}'"));
    Ok(Plan::edits(
        S::Updated,
        vec![form(t, c, &[("quantity", quantity)])],
    ))
}

pub(super) fn expiration_date(t: &Target<'_>) -> Result<Plan, PlanError> {
    let date = required(t.insight, &t.insight.value, "value")?;
    let Some(product) = t.product else {
        return Ok(Plan::status(S::ErrorMissingProduct));
    };
    if product
        .expiration_date
        .as_deref()
        .is_some_and(|d| !d.is_empty())
    {
        return Ok(Plan::status(S::ErrorAlreadyAnnotated));
    }
    let c = comment(t, &format!("Adding expiration date '{date}'"));
    Ok(Plan::edits(
        S::Updated,
        vec![form(t, c, &[("expiration_date", date)])],
    ))
}

/// Brands are always sent: Product Opener ignores a brand the product already has.
pub(super) fn brand(t: &Target<'_>) -> Result<Plan, PlanError> {
    let brand = required(t.insight, &t.insight.value, "value")?;
    if t.product.is_none() {
        return Ok(Plan::status(S::ErrorMissingProduct));
    }
    let c = comment(t, &format!("Adding brand '{brand}'"));
    Ok(Plan::edits(
        S::Updated,
        vec![form(t, c, &[("add_brands", brand)])],
    ))
}

pub(super) fn store(t: &Target<'_>) -> Result<Plan, PlanError> {
    let store = required(t.insight, &t.insight.value, "value")?;
    let Some(product) = t.product else {
        return Ok(Plan::status(S::ErrorMissingProduct));
    };
    if let Some(tag) = &t.insight.value_tag {
        if product.stores_tags.iter().any(|s| s == tag) {
            return Ok(Plan::status(S::ErrorAlreadyAnnotated));
        }
    }
    let c = comment(t, &format!("Adding store '{store}'"));
    Ok(Plan::edits(
        S::Updated,
        vec![form(t, c, &[("add_stores", store)])],
    ))
}

/// One packaging element (`data.element`: shape, material, recycling, each with a
/// `value_tag`) added through the v3 API.
pub(super) fn packaging(t: &Target<'_>) -> Result<Plan, PlanError> {
    if t.product.is_none() {
        return Ok(Plan::status(S::ErrorMissingProduct));
    }
    let element = t
        .insight
        .data
        .get("element")
        .and_then(Value::as_object)
        .ok_or_else(|| PlanError::invalid(t.insight, "data.element is missing"))?;
    let shape = element
        .get("shape")
        .and_then(|s| s.get("value_tag"))
        .and_then(Value::as_str)
        .ok_or_else(|| PlanError::invalid(t.insight, "data.element has no shape value_tag"))?;
    let mut props = Map::new();
    for (prop, value) in element {
        if let Some(tag) = value
            .get("value_tag")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        {
            props.insert(prop.clone(), json!({"id": tag}));
        }
    }
    let c = comment(t, &format!("Updating/adding packaging elements '{shape}'"));
    let body = json!({
        "product": {"packagings_add": [Value::Object(props)]},
        "fields": "none",
        "comment": c,
    });
    Ok(Plan::edits(
        S::Updated,
        vec![ProductEdit::PatchProduct(body)],
    ))
}
