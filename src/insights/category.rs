//! Category importer: taxonomy-normalised categories the product does not have yet (nor
//! a more precise one), keeping only the most precise, with campaign tags.

use super::candidate::Candidate;
use super::label::{is_parent_of_any, select_deepest};
use crate::taxonomy::Taxonomy;
use crate::types::{Prediction, Product, ServerType};

pub fn candidates(
    taxonomy: &Taxonomy,
    product: &Product,
    predictions: &[&Prediction],
    barcode: &str,
    server_type: ServerType,
) -> Vec<Candidate> {
    let categories = || product.categories_tags.iter().map(String::as_str);
    let mut selected = Vec::new();
    for p in predictions {
        let Some(canonical) = p.value_tag.as_deref().and_then(|t| taxonomy.match_value(t)) else {
            continue;
        };
        if categories().any(|c| c == canonical)
            || is_parent_of_any(taxonomy, canonical, categories())
        {
            continue;
        }
        let mut c = Candidate::from_prediction(p, barcode, server_type);
        c.value_tag = Some(canonical.to_string());
        selected.push(c);
    }
    select_deepest(taxonomy, selected)
}

/// Campaigns: `agribalyse-category` when the category has an Agribalyse food code,
/// `missing-category` when the product has no category.
pub fn campaigns(taxonomy: &Taxonomy, product: &Product, value_tag: Option<&str>) -> Vec<String> {
    let mut campaigns = Vec::new();
    if value_tag
        .and_then(|t| taxonomy.get(t))
        .is_some_and(|n| n.node().has_property("agribalyse_food_code"))
    {
        campaigns.push("agribalyse-category".to_string());
    }
    if product.categories_tags.is_empty() {
        campaigns.push("missing-category".to_string());
    }
    campaigns
}
