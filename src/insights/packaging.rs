//! Packaging importer: one candidate per predicted packaging element with a shape, unless
//! the product already has an element at least as informative.

use super::candidate::{Candidate, InsightView};
use crate::taxonomy::Taxonomy;
use crate::types::{Prediction, Product, ServerType};
use serde_json::Value;

/// Shapes too vague (or too often misread) to be suggested without a material or a
/// recycling instruction.
const SHAPE_ONLY_EXCLUDED: [&str; 17] = [
    "en:tray",
    "en:packaging",
    "en:backing",
    "en:packet",
    "en:string",
    "en:bowl",
    "en:sheet",
    "en:net",
    "en:pouch-flask",
    "en:spoon",
    "en:tablespoon",
    "en:mold",
    "en:cutlery",
    "en:overpack",
    "en:plate",
    "en:basket",
    "en:wedge",
];

/// The three packaging taxonomies.
pub struct PackagingTaxonomies<'a> {
    pub shape: &'a Taxonomy,
    pub material: &'a Taxonomy,
    pub recycling: &'a Taxonomy,
}

/// A packaging element reduced to its three tags.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Element<'a> {
    pub shape: Option<&'a str>,
    pub material: Option<&'a str>,
    pub recycling: Option<&'a str>,
}

impl<'a> Element<'a> {
    /// From a predicted element: `{shape: {value, value_tag}, material: ..., recycling: ...}`.
    fn predicted(element: &'a Value) -> Self {
        let tag = |prop: &str| {
            element
                .get(prop)
                .and_then(|p| p.get("value_tag"))
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
        };
        Element {
            shape: tag("shape"),
            material: tag("material"),
            recycling: tag("recycling"),
        }
    }

    /// From a product packaging (`{shape: "en:bottle", material: "en:plastic", ...}`).
    fn existing(packaging: &'a Value) -> Self {
        let tag = |prop: &str| {
            packaging
                .get(prop)
                .and_then(|v| v.as_str().or_else(|| v.get("id").and_then(Value::as_str)))
                .filter(|t| !t.is_empty())
        };
        Element {
            shape: tag("shape"),
            material: tag("material"),
            recycling: tag("recycling"),
        }
    }
}

/// True when `candidate` brings nothing over `reference` (an element of the product):
/// every property of the candidate is present in the reference with the same or a more
/// precise value, and the candidate's shape is the reference's or a parent of it.
pub fn is_uninformative(
    candidate: &Element<'_>,
    reference: &Element<'_>,
    taxonomies: &PackagingTaxonomies<'_>,
) -> bool {
    let mut shape_covered = false;
    for (is_shape, cand, refr, taxonomy) in [
        (true, candidate.shape, reference.shape, taxonomies.shape),
        (
            false,
            candidate.material,
            reference.material,
            taxonomies.material,
        ),
        (
            false,
            candidate.recycling,
            reference.recycling,
            taxonomies.recycling,
        ),
    ] {
        let Some(cand) = cand else { continue };
        let Some(refr) = refr else {
            return false;
        };
        let Some(cand_node) = taxonomy.get(cand) else {
            // Unknown predicted value: not worth suggesting.
            return true;
        };
        let Some(ref_node) = taxonomy.get(refr) else {
            return false;
        };
        if ref_node.is_parent_of(cand_node) {
            return false;
        }
        if is_shape {
            shape_covered = cand_node.is_parent_of(ref_node) || cand_node.id() == ref_node.id();
        }
    }
    shape_covered
}

fn element_size(data: Option<&Value>) -> usize {
    data.and_then(Value::as_object).map_or(0, |e| e.len())
}

/// Most informative elements (most properties) first.
pub fn sort_predictions(predictions: &mut [&Prediction]) {
    predictions.sort_by_key(|p| std::cmp::Reverse(element_size(p.data.get("element"))));
}

pub fn sort_candidates(candidates: &mut [Candidate]) {
    candidates.sort_by_key(|c| std::cmp::Reverse(element_size(c.data.get("element"))));
}

/// Two packaging insights conflict when their shapes are the same.
pub fn conflicts(candidate: &Candidate, reference: &dyn InsightView) -> bool {
    let shape = |element: Option<&Value>| {
        element
            .and_then(|e| e.get("shape"))
            .and_then(|s| s.get("value_tag"))
            .cloned()
    };
    shape(candidate.data.get("element")) == shape(reference.data_field("element"))
}

pub fn candidates(
    taxonomies: &PackagingTaxonomies<'_>,
    product: &Product,
    predictions: &[&Prediction],
    barcode: &str,
    server_type: ServerType,
) -> Vec<Candidate> {
    predictions
        .iter()
        .filter(|p| {
            let Some(element) = p.data.get("element") else {
                return false;
            };
            if element.get("shape").is_none() {
                return false;
            }
            let candidate = Element::predicted(element);
            let shape_excluded = candidate
                .shape
                .is_none_or(|s| SHAPE_ONLY_EXCLUDED.contains(&s));
            if shape_excluded && candidate.material.is_none() && candidate.recycling.is_none() {
                return false;
            }
            !product.packagings.iter().any(|existing| {
                is_uninformative(&candidate, &Element::existing(existing), taxonomies)
            })
        })
        .map(|p| Candidate::from_prediction(p, barcode, server_type))
        .collect()
}
