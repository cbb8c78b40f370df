//! Label importer: taxonomy-normalised labels the product does not have yet (nor a more
//! precise one), keeping only the most precise of the predicted labels.

use super::candidate::Candidate;
use super::ImportResources;
use crate::taxonomy::Taxonomy;
use crate::types::{Prediction, Product, ServerType};
use std::collections::HashSet;

/// Labels never suggested for now (ambiguous "EU / non-EU agriculture" mentions).
const DISABLED_LABELS: [&str; 2] = ["en:eu-agriculture", "en:non-eu-agriculture"];

/// Predictors whose label insights are applied automatically when whitelisted.
const KEYWORD_PREDICTORS: [&str; 2] = ["flashtext", "regex"];

/// True when `tag` would add information to the product: not disabled, not already
/// there, and not a parent of one of the product's labels.
fn adds_to_product(taxonomy: &Taxonomy, product: &Product, tag: Option<&str>) -> bool {
    let Some(tag) = tag else {
        return true;
    };
    if DISABLED_LABELS.contains(&tag) || product.labels_tags.iter().any(|l| l == tag) {
        return false;
    }
    !is_parent_of_any(
        taxonomy,
        tag,
        product.labels_tags.iter().map(String::as_str),
    )
}

/// Robotoff's `is_parent_of_any(..., raises=False)`: false for a tag unknown to the
/// taxonomy.
pub fn is_parent_of_any<'a>(
    taxonomy: &Taxonomy,
    tag: &str,
    others: impl IntoIterator<Item = &'a str>,
) -> bool {
    taxonomy.is_parent_of_any(tag, others).unwrap_or(false)
}

/// Keeps the candidates whose tag is in the taxonomy and not a parent of another
/// candidate's tag, in their order.
pub fn select_deepest(taxonomy: &Taxonomy, candidates: Vec<Candidate>) -> Vec<Candidate> {
    let mut tags: Vec<&str> = candidates
        .iter()
        .filter_map(|c| c.value_tag.as_deref())
        .collect();
    tags.sort_unstable();
    tags.dedup();
    let deepest: HashSet<String> = taxonomy.find_deepest_ids(tags).into_iter().collect();
    candidates
        .into_iter()
        .filter(|c| c.value_tag.as_ref().is_some_and(|t| deepest.contains(t)))
        .collect()
}

pub fn candidates(
    resources: &ImportResources,
    taxonomy: &Taxonomy,
    product: &Product,
    predictions: &[&Prediction],
    barcode: &str,
    server_type: ServerType,
) -> Vec<Candidate> {
    let mut candidates: Vec<Candidate> = predictions
        .iter()
        .filter(|p| adds_to_product(taxonomy, product, p.value_tag.as_deref()))
        .map(|p| Candidate::from_prediction(p, barcode, server_type))
        .collect();
    for c in &mut candidates {
        if let Some(canonical) = c
            .value_tag
            .as_deref()
            .filter(|t| !t.is_empty())
            .and_then(|t| taxonomy.match_value(t))
        {
            c.value_tag = Some(canonical.to_string());
        }
    }
    // The canonical tag is checked again: `fr:sans-gluten` must not be suggested for a
    // product that already has `en:no-gluten`.
    candidates.retain(|c| adds_to_product(taxonomy, product, c.value_tag.as_deref()));
    let mut selected = select_deepest(taxonomy, candidates);
    for c in &mut selected {
        if c.automatic_processing.is_none()
            && c.predictor
                .as_deref()
                .is_some_and(|p| KEYWORD_PREDICTORS.contains(&p))
        {
            let tag = c.value_tag.as_deref().unwrap_or("");
            c.automatic_processing = Some(resources.is_whitelisted_label(tag));
        }
    }
    selected
}
