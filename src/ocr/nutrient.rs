//! Nutrient values ("Protein 1g") and nutrient mentions of nutrition tables.

use super::content::OcrContent;
use super::resources::OcrResources;
use crate::types::Prediction;

/// Nutrient value predictions of the content.
pub fn find_nutrient_values(_content: &OcrContent<'_>, _res: &OcrResources) -> Vec<Prediction> {
    Vec::new()
}

/// Nutrient mention predictions of the content.
pub fn find_nutrient_mentions(_content: &OcrContent<'_>, _res: &OcrResources) -> Vec<Prediction> {
    Vec::new()
}
